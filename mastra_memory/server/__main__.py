"""``python -m mastra_memory.server [OPTIONS]``: the ``serve`` command on its own."""

from __future__ import annotations

import typer

from mastra_memory.server.cli import serve


def main() -> None:
    """Run ``serve`` as a single-command typer app."""
    typer.run(serve)


if __name__ == "__main__":
    main()
