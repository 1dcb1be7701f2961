"""One registry from URL schemes to storage backends: :func:`open_storage` and :func:`open_vector`.

Every surface (``Memory()``, ``KVMemory``, the CLI, ``serve``, ``om show``) builds its stores here,
so a URL means the same thing everywhere and an unknown scheme fails the same way everywhere.
The core never imports a backend module by name: the table below holds ``"module:attribute"``
strings that are imported only when a URL asks for them, so an optional driver loads only when
used and ``import mastra_memory`` never imports ``storage_adapters``.

A third-party backend registers itself with an entry point (``pyproject.toml``)::

    [project.entry-points."mastra_memory.storage"]
    redis = "my_package.store:RedisStore"        # scheme -> class with from_url(url, **options)

    [project.entry-points."mastra_memory.vector"]
    redis = "my_package.vector:RedisVector"

Entry points are read once, on the first URL whose scheme is not built in (built-ins win, so a
package cannot take over ``postgresql://`` by accident).
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from mastra_memory.errors import ConfigurationError, MissingDependencyError, StorageError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.vector import VectorStore

__all__ = [
    "DB_ENV",
    "DEFAULT_STORAGE_URL",
    "STORAGE_ENTRY_POINT_GROUP",
    "VECTOR_ENTRY_POINT_GROUP",
    "UnknownSchemeError",
    "open_storage",
    "open_vector",
    "scheme_of",
    "supported_schemes",
]

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_URL = "file:./mastra.db"
"""The store ``Memory()`` opens when given none (the original's default, ``file:./mastra.db``)."""

DB_ENV = "MASTRA_MEMORY_DB"
"""Environment variable naming the store URL when none is given (every surface reads it)."""

STORAGE_ENTRY_POINT_GROUP = "mastra_memory.storage"
VECTOR_ENTRY_POINT_GROUP = "mastra_memory.vector"

Kind = Literal["storage", "vector"]

_LIBSQL = "storage_adapters.libsql:LibSQLStore"
_SQLALCHEMY = "storage_adapters.sqlalchemy:SQLAlchemyStore"

_STORAGE: dict[str, str] = {
    "file": _LIBSQL,
    "libsql": _LIBSQL,
    "http": _LIBSQL,
    "https": _LIBSQL,
    "ws": _LIBSQL,
    "wss": _LIBSQL,
    "memory": "storage_adapters.inmemory:InMemoryStore",
    "postgresql": "storage_adapters.pg:PostgresStore",
    "postgres": "storage_adapters.pg:PostgresStore",
    "mongodb": "storage_adapters.mongodb:MongoDBStore",
    "mongodb+srv": "storage_adapters.mongodb:MongoDBStore",
    # SQLAlchemy URLs: a dialect without a driver, or any "dialect+driver" (see _sqlalchemy_scheme)
    "sqlite": _SQLALCHEMY,
    "mysql": _SQLALCHEMY,
    "mariadb": _SQLALCHEMY,
    "mssql": _SQLALCHEMY,
    "oracle": _SQLALCHEMY,
}
_LIBSQL_VECTOR = "storage_adapters.libsql:LibSQLVector"
_VECTOR: dict[str, str] = {
    "file": _LIBSQL_VECTOR,
    "libsql": _LIBSQL_VECTOR,
    "http": _LIBSQL_VECTOR,
    "https": _LIBSQL_VECTOR,
    "ws": _LIBSQL_VECTOR,
    "wss": _LIBSQL_VECTOR,
    "memory": "storage_adapters.inmemory_vector:InMemoryVector",
    "postgresql": "storage_adapters.pg:PgVector",
    "postgres": "storage_adapters.pg:PgVector",
    "mongodb": "storage_adapters.mongodb:MongoDBVector",
    "mongodb+srv": "storage_adapters.mongodb:MongoDBVector",
}
_SQLALCHEMY_DIALECTS = ("sqlite", "mysql", "mariadb", "postgresql", "mssql", "oracle")
_EXTRA = {
    "storage_adapters.pg": "pg",
    "storage_adapters.mongodb": "mongodb",
    "storage_adapters.sqlalchemy": "sqlalchemy",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_plugins: dict[Kind, dict[str, Any]] | None = None


class UnknownSchemeError(ConfigurationError):
    """A storage or vector URL names a scheme no backend handles (the message lists them)."""


def scheme_of(url: str) -> str:
    """The lower-case scheme of a store URL; ``""`` for a bare path or ``:memory:`` (libSQL).

    Raises:
        ConfigurationError: if ``url`` is not a non-empty string.
    """
    if not isinstance(url, str) or not url.strip():
        raise ConfigurationError(f"a storage URL must be a non-empty string, got {url!r}")
    if url in (":memory:", "file::memory:"):
        return "file"
    match = _SCHEME.match(url)
    if match is None:
        return ""
    scheme = match.group(1).lower()
    if len(scheme) == 1 and re.match(r"^[A-Za-z]:[\\/]", url):  # a Windows drive letter: a path
        return ""
    return scheme


def _entry_points(kind: Kind) -> dict[str, Any]:
    global _plugins
    if _plugins is None:
        _plugins = {"storage": {}, "vector": {}}
        for group_kind, group in (("storage", STORAGE_ENTRY_POINT_GROUP), ("vector", VECTOR_ENTRY_POINT_GROUP)):
            for ep in entry_points(group=group):
                _plugins[group_kind][ep.name.lower()] = ep  # type: ignore[index]
    return _plugins[kind]


def supported_schemes(kind: Kind = "storage") -> list[str]:
    """Every scheme :func:`open_storage` (or :func:`open_vector`) accepts, sorted; SQLAlchemy's
    ``dialect+driver`` schemes are shown as ``sqlite+DRIVER`` etc."""
    table = _STORAGE if kind == "storage" else _VECTOR
    schemes = set(table) | set(_entry_points(kind))
    if kind == "storage":
        schemes |= {f"{d}+DRIVER" for d in _SQLALCHEMY_DIALECTS}
    return sorted(schemes)


def _target(kind: Kind, scheme: str, url: str) -> tuple[str, Any]:
    table = _STORAGE if kind == "storage" else _VECTOR
    if scheme == "":
        scheme = "file"
    if scheme in table:
        return table[scheme], None
    if kind == "storage" and "+" in scheme and scheme.split("+", 1)[0] in _SQLALCHEMY_DIALECTS:
        return _SQLALCHEMY, None
    plugin = _entry_points(kind).get(scheme)
    if plugin is not None:
        return plugin.value, plugin
    raise UnknownSchemeError(
        f"unknown {kind} URL scheme {scheme!r} in {_redact(url)!r}; supported: {', '.join(supported_schemes(kind))}"
    )


def _load(target: str, plugin: Any) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        if plugin is not None:
            return plugin.load()
        return getattr(importlib.import_module(module_name), attr)
    except ImportError as exc:
        extra = _EXTRA.get(module_name)
        if extra is not None:
            raise MissingDependencyError(f"{target} ({exc.name or exc})", extra) from exc
        raise ConfigurationError(f"{target} could not be imported: {exc}") from exc


def _redact(url: str) -> str:
    """The URL with any password replaced by ``***`` (safe for messages and logs)."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _local_path(scheme: str, url: str) -> Path | None:
    """The file a local libSQL or SQLite URL points at, or None (remote or in memory)."""
    if url in (":memory:", "file::memory:"):
        return None
    if scheme == "":
        return Path(url).expanduser()
    if scheme == "file":
        rest = url[len("file:") :]
        if rest.startswith("//"):
            rest = rest[2:]
        rest = rest.split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest).expanduser()
    if scheme.split("+", 1)[0] == "sqlite":
        rest = url.split(":///", 1)[1] if ":///" in url else ""
        rest = rest.split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest).expanduser()
    return None


def _open(kind: Kind, url: str, create: bool, options: Mapping[str, Any]) -> Any:
    scheme = scheme_of(url)
    target, plugin = _target(kind, scheme, url)
    if not create:
        path = _local_path(scheme, url)
        if path is not None and not path.exists():
            raise StorageError(f"no database at {str(path)!r} (nothing was created)")
    factory = _load(target, plugin)
    if scheme == "":
        url = f"file:{url}"
    builder = getattr(factory, "from_url", None)
    try:
        return builder(url, **options) if callable(builder) else factory(url, **options)
    except TypeError as exc:
        raise ConfigurationError(f"bad options for {target}: {exc}") from exc


def open_storage(url: str | None = None, *, create: bool = True, **options: Any) -> MemoryStorage:
    """Open the memory store a URL names.

    Schemes: ``file:`` paths, bare paths and ``:memory:`` (embedded libSQL, the default),
    ``libsql://``, ``http(s)://`` and ``ws(s)://`` (a libSQL server, sqld), ``memory://``
    (in-process, nothing persisted), ``postgresql://`` / ``postgres://`` (extra ``[pg]``),
    ``mongodb://`` / ``mongodb+srv://`` (extra ``[mongodb]``; the database is the URL's path,
    default ``mastra``), SQLAlchemy URLs such as ``sqlite:///x.db``, ``mysql+pymysql://...``,
    ``postgresql+psycopg://...`` (extra ``[sqlalchemy]``), and any scheme a package registers
    under the ``mastra_memory.storage`` entry-point group.

    Args:
        url: The URL; ``None`` uses the environment variable ``MASTRA_MEMORY_DB``, else
            :data:`DEFAULT_STORAGE_URL` (``file:./mastra.db``).
        create: ``False`` refuses to create a local database file that does not exist (for
            read-only commands); servers are never created either way.
        **options: Passed to the backend's ``from_url`` (e.g. ``synchronous="FULL"`` for
            libSQL, ``max_pool_size=20`` for PostgreSQL).

    Returns:
        The store, not yet connected (it connects and migrates lazily on first use, or on
        ``setup()``).

    Raises:
        UnknownSchemeError: for a scheme no backend handles; the message lists the supported ones.
        MissingDependencyError: if the backend's extra is not installed (the message names the
            ``pip install`` command).
        StorageError: with ``create=False`` when the local database file does not exist.
        ConfigurationError: on options the backend does not accept.
    """
    store = _open("storage", url or os.environ.get(DB_ENV) or DEFAULT_STORAGE_URL, create, options)
    if not isinstance(store, MemoryStorage):
        raise ConfigurationError(f"{type(store).__name__} from {_redact(url or '')!r} is not a MemoryStorage")
    return store


def open_vector(url: str | None = None, *, create: bool = True, **options: Any) -> VectorStore:
    """Open the vector store a URL names (same schemes as :func:`open_storage`, minus the SQLAlchemy
    ones: ``file:``/libSQL, ``memory://``, ``postgresql://`` with pgvector, ``mongodb://``, and the
    ``mastra_memory.vector`` entry-point group).

    Raises:
        UnknownSchemeError, MissingDependencyError, StorageError, ConfigurationError: as
        :func:`open_storage`.
    """
    vector = _open("vector", url or DEFAULT_STORAGE_URL, create, options)
    if not isinstance(vector, VectorStore):
        raise ConfigurationError(f"{type(vector).__name__} from {_redact(url or '')!r} is not a VectorStore")
    return vector
