"""``mastra-memory om``: inspect observational memory from the command line.

The main CLI wires this in with ``register(app)``; ``python -m mastra_memory.observational.cli``
runs it on its own::

    mastra-memory om show --thread t-1 --db file:./mastra.db
    mastra-memory om show --resource user-ana --history --json

``--db`` falls back to ``$MASTRA_MEMORY_DB``, then ``file:./mastra.db``. ``om show`` only reads:
it creates nothing (no file, table or schema) and reports a store without mastra-memory data as
one error line (exit code 1; 2 for an unknown URL scheme).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mastra_memory._cli_support import EXIT_USAGE, DbOption, fail, one_line, open_cli_storage

__all__ = ["app", "main", "register"]

app = typer.Typer(help="Observational memory: inspect observations, generations and the cursor.")


@app.callback()
def _group() -> None:
    """Observational memory: inspect observations, generations and the cursor."""


def _store(db: str | None, config: Path | None = None) -> tuple[Any, str]:
    """The store of ``--db`` (else the configuration's, see :mod:`mastra_memory.settings`)
    opened read-only, and its URL (exits with one line on failure)."""
    from mastra_memory._cli_support import exit_code
    from mastra_memory.errors import MastraMemoryError
    from mastra_memory.settings import load_settings

    try:
        url = load_settings(config, db=db, embedder="none").db
    except MastraMemoryError as exc:
        fail(one_line(exc, db), exit_code(exc))
    return open_cli_storage(url, read_only=True)


@app.command("show")
def show(
    thread: Annotated[str | None, typer.Option("--thread", "-t", help="Thread id (thread scope).")] = None,
    resource: Annotated[
        str | None, typer.Option("--resource", "-r", help="Resource id (resource scope, or the thread's owner).")
    ] = None,
    db: DbOption = None,
    history: Annotated[bool, typer.Option("--history", help="List every generation, newest first.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the record(s) as JSON.")] = False,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML config file (see docs/cli.md).", show_default=False)
    ] = None,
) -> None:
    """Show the current observational-memory record of a thread or resource.

    Exit code 0 with "no record yet" when the thread (or resource) exists but has not been
    observed; 1 when the thread or resource does not exist."""
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table

    from mastra_memory.errors import MastraMemoryError

    console = Console()
    if thread is None and resource is None:
        fail("give --thread or --resource", EXIT_USAGE)
    store, url = _store(db, config)
    try:
        if thread is not None and store.get_thread_by_id(thread) is None:
            fail(f"thread {thread!r} not found")
        if thread is None and resource is not None and store.list_threads(resource_id=resource, per_page=1).total == 0:
            fail(f"resource {resource!r} has no threads")
        if history:
            records = store.get_observational_memory_history(thread, resource, limit=False)
        else:
            head = store.get_observational_memory(thread, resource)
            records = [head] if head is not None else []
    except MastraMemoryError as exc:
        fail(one_line(exc, url))
    finally:
        store.close()
    if not records:
        what = f"thread {thread}" if thread else f"resource {resource}"
        console.print(f"no record yet: observational memory has not observed {what}")
        return
    if as_json:
        payload = [r.model_dump(mode="json", by_alias=True) for r in records]
        typer.echo(json.dumps(payload if history else payload[0], ensure_ascii=False, indent=2))
        return
    for record in records:
        table = Table(show_header=False, box=None)
        table.add_row("lookup key", record.lookup_key)
        table.add_row("generation", f"{record.generation_count} ({record.origin_type})")
        table.add_row("observation tokens", str(record.observation_token_count))
        table.add_row("message tokens observed", str(record.total_tokens_observed))
        table.add_row("cursor (lastObservedAt)", str(record.last_observed_at or "-"))
        table.add_row("observed ids after cursor", str(len(record.observed_message_ids)))
        table.add_row("buffered chunks", str(len(record.buffered_observation_chunks)))
        table.add_row("buffered reflection", "yes" if record.buffered_reflection else "no")
        table.add_row("updated", str(record.updated_at))
        console.print(table)
        console.print(Panel(record.active_observations or "(empty)", title="observations"))


def register(parent: typer.Typer) -> None:
    """Add the ``om`` command group to the main CLI app."""
    parent.add_typer(app, name="om")


def main() -> None:  # pragma: no cover - thin entry point
    """Run the ``om`` commands on their own."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
