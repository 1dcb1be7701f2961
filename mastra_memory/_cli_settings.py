"""The configuration options every command shares (``--config``, ``--vector``, ``--embedder``,
``--om``) and how a command turns them into a :class:`~mastra_memory.memory.Memory`.

See :mod:`mastra_memory.settings` for the file format, the environment variables and the
precedence; failures print one ``error:`` line like :mod:`mastra_memory._cli_support`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mastra_memory._cli_support import CLI_CONNECT_TIMEOUT, _quiet_drivers, exit_code, fail, one_line
from mastra_memory.errors import MastraMemoryError
from mastra_memory.settings import CONFIG_ENV, Settings, load_settings
from mastra_memory.storage.registry import redact_url

if TYPE_CHECKING:
    from mastra_memory.memory import Memory

__all__ = ["ConfigOption", "EmbedderOption", "OmOption", "VectorOption", "cli_settings", "open_settings_memory"]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar=CONFIG_ENV,
        help="TOML config file (default: ./mastra-memory.toml when present).",
        show_default=False,
    ),
]
VectorOption = Annotated[
    str | None,
    typer.Option(
        "--vector",
        help="Vector store URL for semantic recall; 'same' (default: the store itself) or 'none'.",
        show_default=False,
    ),
]
EmbedderOption = Annotated[
    str | None,
    typer.Option(
        "--embedder",
        help="Embedding model: local/all-minilm-l6-v2 (default with the local extra), a litellm model, or 'none'.",
        show_default=False,
    ),
]
OmOption = Annotated[
    bool | None,
    typer.Option("--om/--no-om", help="Turn observational memory on or off.", show_default=False),
]


def cli_settings(db: str | None, config: Path | None = None, **overrides: Any) -> Settings:
    """:func:`~mastra_memory.settings.load_settings` for a command, or exit with one line
    (code 2: the configuration itself is wrong)."""
    try:
        return load_settings(config, db=db, **overrides)
    except MastraMemoryError as exc:
        fail(one_line(exc, db), exit_code(exc))


def open_settings_memory(settings: Settings, *, read_only: bool) -> Memory:
    """The :class:`Memory` of ``settings`` (store, vector store, embedder), or exit with one
    ``error:`` line naming the store (code 2 for a wrong URL, 1 for any other failure)."""
    try:
        with _quiet_drivers():  # a failed connection is reported once, as this command's error line
            return settings.open_memory(read_only=read_only, connect_timeout=CLI_CONNECT_TIMEOUT)
    except MastraMemoryError as exc:
        message = one_line(exc, settings.db)
        shown = redact_url(settings.db)
        if shown not in message:
            message = f"{shown}: {message}"
        fail(message, exit_code(exc))
