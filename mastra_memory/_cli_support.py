"""How every command line surface opens its store and reports failures.

``mastra-memory`` (:mod:`mastra_memory.cli`), ``om show`` (:mod:`mastra_memory.observational.cli`)
and ``serve`` (:mod:`mastra_memory.server.cli`) all take ``--db URL``, fall back to
``$MASTRA_MEMORY_DB`` and then ``file:./mastra.db`` (:func:`~mastra_memory.storage.registry.resolve_storage_url`),
and open it through :func:`~mastra_memory.storage.open_storage`:

* read-only commands with ``create=False``: nothing is created (no file, folder, table or schema)
  and no migration runs; a store without mastra-memory data is reported as such;
* other commands connect (and create or migrate the schema) before doing any work, so an
  unreachable server fails at once.

Failures are one line on stderr, ``error: ...``, with any password in the URL replaced by ``***``
and the exit codes of :data:`EXIT_USAGE` (the URL itself is wrong: unknown scheme, malformed
URL or options) and :data:`EXIT_FAILURE` (anything else: server unreachable, no data, missing
extra).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Annotated, NoReturn
from urllib.parse import unquote, urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from mastra_memory.errors import ConfigurationError, MastraMemoryError, MissingDependencyError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.registry import (
    STORAGE_URL_ENV,
    open_storage,
    redact_url,
    resolve_storage_url,
)

__all__ = [
    "CLI_CONNECT_TIMEOUT",
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "DbOption",
    "exit_code",
    "fail",
    "one_line",
    "open_cli_storage",
]

CLI_CONNECT_TIMEOUT = 5.0
"""Seconds a command waits for a database server before giving up."""

EXIT_FAILURE = 1
"""Exit code of a command that failed: server unreachable, no data, not found, missing extra."""

EXIT_USAGE = 2
"""Exit code of a wrong URL (unknown scheme, malformed URL or options), as for bad arguments."""

DB_HELP = (
    "Store URL: a libSQL path or file:/libsql:/http(s):/ws(s): URL, memory://, postgresql://, "
    "mongodb://, or a SQLAlchemy URL (sqlite:///x.db, mysql+pymysql://...). "
    f"Default: ${STORAGE_URL_ENV}, else file:./mastra.db."
)

DbOption = Annotated[str | None, typer.Option("--db", envvar=STORAGE_URL_ENV, help=DB_HELP, show_default=False)]
"""The ``--db`` option every command shares (``None``: :func:`resolve_storage_url` decides)."""

_err = Console(stderr=True, highlight=False, soft_wrap=True)

# Loggers of drivers that report every failed background connection attempt on stderr; while a
# command opens its store the failure is reported once, as the command's own error line.
_NOISY_LOGGERS = ("psycopg.pool", "pymongo")


def one_line(exc: BaseException, url: str | None = None) -> str:
    """The error as one line: whitespace (driver messages span lines) collapsed, and the
    password of ``url`` (if any) hidden wherever the message repeats it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        for secret in {password, unquote(password or "")} - {None, ""}:
            text = text.replace(str(secret), "***")
        text = text.replace(url, redact_url(url))
    return text


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    _err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def exit_code(exc: BaseException) -> int:
    """:data:`EXIT_USAGE` for a wrong URL or options, else :data:`EXIT_FAILURE`."""
    if isinstance(exc, ConfigurationError) and not isinstance(exc, MissingDependencyError):
        return EXIT_USAGE
    return EXIT_FAILURE


@contextlib.contextmanager
def _quiet_drivers() -> Iterator[None]:
    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def open_cli_storage(db: str | None, *, read_only: bool) -> tuple[MemoryStorage, str]:
    """Open the store of a command, or exit with one ``error:`` line.

    Args:
        db: The ``--db`` value; ``None`` falls back to ``$MASTRA_MEMORY_DB``, then
            ``file:./mastra.db``.
        read_only: ``True`` for commands that only read (or change existing data): nothing is
            created and no migration runs; a store without mastra-memory data is an error.
            ``False``: the store connects and creates or migrates its schema now.

    Returns:
        The connected store and the URL it was opened from.

    Raises:
        typer.Exit: on any failure, after printing one line (see the module notes for codes).
    """
    url = resolve_storage_url(db)
    try:
        with _quiet_drivers():
            store = open_storage(url, create=not read_only, connect_timeout=CLI_CONNECT_TIMEOUT)
            if not read_only:
                try:
                    store.connect()
                except BaseException:
                    store.close()
                    raise
    except MastraMemoryError as exc:
        message = one_line(exc, url)
        shown = redact_url(url)
        if shown not in message:
            message = f"{shown}: {message}"
        fail(message, exit_code(exc))
    return store, url
