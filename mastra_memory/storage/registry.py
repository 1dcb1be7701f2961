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

Command-line surfaces resolve their URL with :func:`resolve_storage_url` (``--db``, else
``$MASTRA_MEMORY_DB``, else :data:`DEFAULT_STORAGE_URL`) and open read-only commands with
``create=False``, which creates nothing anywhere (see :meth:`MemoryStorage.connect`).
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import re
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mastra_memory.errors import ConfigurationError, MastraMemoryError, MissingDependencyError, NoDataError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.vector import VectorStore
from mastra_memory.storage.vector_async import AsyncVectorStore

__all__ = [
    "DB_ENV",
    "DEFAULT_STORAGE_URL",
    "STORAGE_ENTRY_POINT_GROUP",
    "STORAGE_URL_ENV",
    "VECTOR_ENTRY_POINT_GROUP",
    "UnknownSchemeError",
    "backend_class",
    "open_async_storage",
    "open_async_vector",
    "open_storage",
    "open_vector",
    "redact_url",
    "resolve_storage_url",
    "scheme_of",
    "supported_schemes",
]

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_URL = "file:./mastra.db"
"""The store ``Memory()`` opens when given none (the original's default, ``file:./mastra.db``)."""

STORAGE_URL_ENV = "MASTRA_MEMORY_DB"
"""Environment variable naming the store URL when none is given: ``open_storage(None)``,
``Memory()``, ``KVMemory``, the command line (``mastra-memory ...``, ``om show``, ``serve``)."""

DB_ENV = STORAGE_URL_ENV
"""Another name of :data:`STORAGE_URL_ENV`."""

STORAGE_ENTRY_POINT_GROUP = "mastra_memory.storage"
VECTOR_ENTRY_POINT_GROUP = "mastra_memory.vector"

Kind = Literal["storage", "vector"]

_LIBSQL = "storage_adapters.libsql:LibSQLStore"
_SQLALCHEMY = "storage_adapters.sqlalchemy:SQLAlchemyStore"
_PG = "storage_adapters.pg:PostgresStore"
_MONGODB = "storage_adapters.mongodb:MongoDBStore"
_REDIS = "storage_adapters.redis:RedisStore"

_NATIVE_ASYNC = {
    _PG: "storage_adapters.pg:AsyncPostgresStore",
    _MONGODB: "storage_adapters.mongodb:AsyncMongoDBStore",
    _REDIS: "storage_adapters.redis:AsyncRedisStore",
    _SQLALCHEMY: "storage_adapters.sqlalchemy:AsyncSQLAlchemyStore",
}
"""Built-in backends with a native async twin (its driver's own async I/O): the rest run their
sync store in worker threads (:class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage`)."""
_SQLALCHEMY_NATIVE_ASYNC = ("sqlite", "mysql", "mariadb", "postgresql")
"""SQLAlchemy dialects whose async driver ``AsyncSQLAlchemyStore`` picks (aiosqlite, aiomysql,
psycopg 3); the other dialects (``mssql``, ``oracle``, ...) run their sync store in worker threads."""

_STORAGE: dict[str, str] = {
    "file": _LIBSQL,
    "libsql": _LIBSQL,
    "http": _LIBSQL,
    "https": _LIBSQL,
    "ws": _LIBSQL,
    "wss": _LIBSQL,
    "memory": "storage_adapters.inmemory:InMemoryStore",
    "postgresql": _PG,
    "postgres": _PG,
    "mongodb": _MONGODB,
    "mongodb+srv": _MONGODB,
    "dynamodb": "storage_adapters.dynamodb:DynamoDBStore",
    "redis": _REDIS,
    "rediss": _REDIS,
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
    "redis": "storage_adapters.redis:RedisVector",
    "rediss": "storage_adapters.redis:RedisVector",
}
_NATIVE_ASYNC_VECTOR = {
    "storage_adapters.pg:PgVector": "storage_adapters.pg:AsyncPgVector",
    "storage_adapters.mongodb:MongoDBVector": "storage_adapters.mongodb:AsyncMongoDBVector",
    "storage_adapters.redis:RedisVector": "storage_adapters.redis:AsyncRedisVector",
}
"""Built-in vector stores with a native async twin; the rest run in worker threads
(:class:`~mastra_memory.storage.threaded.ThreadedAsyncVector`)."""
_SQLALCHEMY_DIALECTS = ("sqlite", "mysql", "mariadb", "postgresql", "mssql", "oracle")
_EXTRA = {
    "storage_adapters.pg": "pg",
    "storage_adapters.mongodb": "mongodb",
    "storage_adapters.sqlalchemy": "sqlalchemy",
    "storage_adapters.dynamodb": "dynamodb",
    "storage_adapters.redis": "redis",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_plugins: dict[Kind, dict[str, Any]] | None = None


class UnknownSchemeError(ConfigurationError):
    """A storage or vector URL names a scheme no backend handles (the message lists them)."""


def scheme_of(url: str) -> str:
    """The lower-case scheme of a store URL; ``""`` for a bare path (``C:\\data\\x.db`` and
    ``C:/data/x.db`` are paths, not scheme ``c``) and ``"file"`` for ``:memory:`` (libSQL).

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
    if len(scheme) == 1 and re.match(r"^[A-Za-z]:([\\/]|$)", url):  # a Windows drive letter: a path
        return ""
    return scheme


def redact_url(url: str) -> str:
    """The URL with its password (``user:secret@``) and secret query parameters (``password``,
    ``authToken``, ...) replaced by ``***``: safe for messages and logs."""
    out = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)(.*)@", r"\1***@", url)  # up to the last '@'
    return re.sub(
        r"(?i)([?&;](?:password|passwd|pwd|auth_?token|token|secret|api_?key)=)[^&;#]*",
        r"\1***",
        out,
    )


def resolve_storage_url(url: str | None = None) -> str:
    """The storage URL a command line uses: ``url`` (``--db``) when given, else
    ``$MASTRA_MEMORY_DB`` (:data:`STORAGE_URL_ENV`) when set and not empty, else
    :data:`DEFAULT_STORAGE_URL` (``file:./mastra.db``)."""
    if url:
        return url
    return os.environ.get(STORAGE_URL_ENV, "").strip() or DEFAULT_STORAGE_URL


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
    ``dialect+driver`` schemes are shown as ``sqlite+DRIVER`` etc. Bare paths are accepted too."""
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
    schemes = supported_schemes(kind)
    close = difflib.get_close_matches(scheme, schemes, n=1)
    hint = f" (did you mean {close[0]}://?)" if close else ""
    raise UnknownSchemeError(
        f"unknown {kind} URL scheme {scheme!r} in {redact_url(url)!r}{hint}; "
        f"supported: {', '.join(schemes)}, or a file path"
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


def backend_class(url: str, kind: Kind = "storage") -> type[Any]:
    """The class :func:`open_storage` (or :func:`open_vector`) would build for ``url``, imported
    but not instantiated: nothing connects and nothing is created.

    Raises:
        UnknownSchemeError: for a scheme no backend handles.
        MissingDependencyError: if the backend's extra is not installed.
    """
    scheme = scheme_of(url)
    target, plugin = _target(kind, scheme, url)
    factory = _load(target, plugin)
    if not isinstance(factory, type):
        raise ConfigurationError(f"{target} is not a class")
    return factory


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


def _pop_query(url: str, name: str) -> tuple[str, str | None]:
    """``url`` without the query parameter ``name``, and that parameter's value (or None)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    values = [v for k, v in pairs if k == name]
    if not values:
        return url, None
    query = urlencode([(k, v) for k, v in pairs if k != name])
    return urlunsplit(parts._replace(query=query)), values[-1]


def _url_options(
    kind: Kind, target: str, url: str, connect_timeout: float | None, options: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Options a built-in backend takes from the URL (``?schema=`` on PostgreSQL; a URL's own
    ``connect_timeout`` or ``serverSelectionTimeoutMS``) or from ``connect_timeout``; explicit
    ``options`` win, then the URL, then ``connect_timeout``."""
    pg_store = target == _PG or target == "storage_adapters.pg:PgVector"
    if pg_store or (target == _SQLALCHEMY and scheme_of(url).startswith("postgres")):
        url, schema = _pop_query(url, "schema")
        if schema:
            options.setdefault("schema_name" if pg_store else "schema", schema)
    if kind != "storage":
        return url, options
    query = dict(parse_qsl(urlsplit(url).query))
    if target == _MONGODB and query.get("serverSelectionTimeoutMS", "").isdigit():
        # the store's timeout_ms keyword would override the URL's own setting
        options.setdefault("timeout_ms", int(query["serverSelectionTimeoutMS"]))
    if target == _PG and query.get("connect_timeout", "").isdigit():
        options.setdefault("connect_timeout", float(query["connect_timeout"]))
    if connect_timeout is None:
        return url, options
    if target == _PG:
        options.setdefault("connect_timeout", connect_timeout)
    elif target == _MONGODB:
        options.setdefault("timeout_ms", int(connect_timeout * 1000))
    elif target == _REDIS:
        options.setdefault("timeout_s", connect_timeout)
    elif target == _SQLALCHEMY and scheme_of(url).split("+", 1)[0] in ("postgresql", "mysql", "mariadb"):
        engine_options = dict(options.get("engine_options") or {})
        connect_args = dict(engine_options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", max(1, round(connect_timeout)))
        engine_options["connect_args"] = connect_args
        options["engine_options"] = engine_options
    return url, options


def _open(
    kind: Kind,
    url: str,
    create: bool,
    connect_timeout: float | None,
    options: Mapping[str, Any],
    *,
    native_async: bool = False,
) -> Any:
    scheme = scheme_of(url)
    target, plugin = _target(kind, scheme, url)
    if native_async:  # only called for a target in _NATIVE_ASYNC (_NATIVE_ASYNC_VECTOR)
        url, opts = _url_options(kind, target, url, connect_timeout, dict(options))
        target, plugin = (_NATIVE_ASYNC if kind == "storage" else _NATIVE_ASYNC_VECTOR)[target], None
    if not create:
        path = _local_path(scheme, url)
        if path is not None and not path.is_file():
            what = "is not a file" if path.exists() else "does not exist"
            raise NoDataError(f"no mastra-memory data at {redact_url(url)!r}: {str(path)!r} {what} (nothing created)")
    factory = _load(target, plugin)
    if not native_async:
        if scheme == "":
            url = f"file:{url}"
        url, opts = _url_options(kind, target, url, connect_timeout, dict(options))
    builder = getattr(factory, "from_url", None)
    try:
        return builder(url, **opts) if callable(builder) else factory(url, **opts)
    except TypeError as exc:
        raise ConfigurationError(f"bad options for {target}: {exc}") from exc
    except MastraMemoryError:
        raise
    except Exception as exc:  # a driver rejecting the URL itself (bad port, unknown option, ...)
        reason = " ".join(str(exc).split())
        raise ConfigurationError(f"invalid {kind} URL {redact_url(url)!r}: {reason}") from exc


def open_storage(
    url: str | None = None, *, create: bool = True, connect_timeout: float | None = None, **options: Any
) -> MemoryStorage:
    """Open the memory store a URL names.

    Schemes: ``file:`` paths, bare paths and ``:memory:`` (embedded libSQL, the default),
    ``libsql://``, ``http(s)://`` and ``ws(s)://`` (a libSQL server, sqld), ``memory://``
    (in-process, nothing persisted), ``postgresql://`` / ``postgres://`` (extra ``[pg]``; a
    ``?schema=NAME`` query parameter picks the schema, default ``public``), ``mongodb://`` /
    ``mongodb+srv://`` (extra ``[mongodb]``; the database is the URL's path, default
    ``mastra``), SQLAlchemy URLs such as ``sqlite:///x.db``, ``mysql+pymysql://...``,
    ``postgresql+psycopg://...`` (extra ``[sqlalchemy]``), and any scheme a package registers
    under the ``mastra_memory.storage`` entry-point group.

    Args:
        url: The URL; ``None`` uses the environment variable ``MASTRA_MEMORY_DB``, else
            :data:`DEFAULT_STORAGE_URL` (``file:./mastra.db``).
        create: ``True`` (default): the store is returned unconnected and creates its file,
            tables or schema lazily on first use. ``False`` (read-only use): nothing is created
            anywhere: a missing local file raises at once, and the store connects now
            (:meth:`MemoryStorage.connect` with ``create=False``) and raises unless it already
            holds mastra-memory data; no migration runs.
        connect_timeout: Seconds to wait for a database server (PostgreSQL, MongoDB, SQLAlchemy
            on PostgreSQL/MySQL/MariaDB); ``None`` keeps each driver's default. A
            ``serverSelectionTimeoutMS`` in a MongoDB URL wins over it. Not passed to
            third-party backends.
        **options: Passed to the backend's ``from_url`` (e.g. ``synchronous="FULL"`` for
            libSQL, ``max_pool_size=20`` for PostgreSQL).

    Returns:
        The store; connected only with ``create=False``.

    Raises:
        UnknownSchemeError: for a scheme no backend handles; the message lists the supported ones.
        MissingDependencyError: if the backend's extra is not installed (the message names the
            ``pip install`` command).
        NoDataError: with ``create=False`` when there is no mastra-memory data at the URL.
        StorageError: with ``create=False`` when the server can not be reached.
        ConfigurationError: on options or a URL the backend does not accept.
    """
    url = resolve_storage_url(url)
    store = _open("storage", url, create, connect_timeout, options)
    if not isinstance(store, MemoryStorage):
        raise ConfigurationError(f"{type(store).__name__} from {redact_url(url)!r} is not a MemoryStorage")
    if not create:
        try:
            store.connect(create=False)
        except BaseException:
            store.close()
            raise
    return store


def open_async_storage(
    url: str | None = None, *, create: bool = True, connect_timeout: float | None = None, **options: Any
) -> AsyncMemoryStorage:
    """Open the async face of the memory store a URL names (same URLs and arguments as
    :func:`open_storage`).

    PostgreSQL (``postgresql://``, ``postgres://``) gets its native async store,
    ``storage_adapters.pg.AsyncPostgresStore`` (psycopg's async pool: no thread per call),
    MongoDB (``mongodb://``, ``mongodb+srv://``) ``storage_adapters.mongodb.AsyncMongoDBStore``
    (pymongo's ``AsyncMongoClient``), Redis (``redis://``, ``rediss://``)
    ``storage_adapters.redis.AsyncRedisStore`` (``redis.asyncio``), and the SQLAlchemy URLs
    (``sqlite:///``, ``mysql+pymysql://``, ``mariadb://``, ``postgresql+psycopg://``, any
    ``dialect+driver://``) ``storage_adapters.sqlalchemy.AsyncSQLAlchemyStore`` (SQLAlchemy's
    ``create_async_engine``; a sync driver in the URL is replaced by the dialect's async one:
    aiosqlite, aiomysql, psycopg 3; other dialects such as ``mssql`` run in worker threads). Every
    other backend (embedded and remote libSQL, in-memory, DynamoDB, entry-point plugins) is its
    sync store wrapped in
    :class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage`, whose coroutines run each call
    whole in a worker thread. Either way the result is an
    :class:`~mastra_memory.storage.base_async.AsyncMemoryStorage` (``await store.setup()``,
    ``await store.close()``, ``async with store:``).

    Args:
        url: The URL; ``None`` uses ``$MASTRA_MEMORY_DB``, else :data:`DEFAULT_STORAGE_URL`.
        create: ``True`` (default): created lazily on first use. ``False``: nothing is created
            anywhere; a worker-thread store connects now (as :func:`open_storage`), the native
            store on its first call (its ``setup`` is then only the check of
            ``connect(create=False)``; call ``await store.connect(create=False)`` to fail early).
        connect_timeout: As for :func:`open_storage`.
        **options: Passed to the backend (as for :func:`open_storage`).

    Returns:
        The async store.

    Raises:
        UnknownSchemeError, MissingDependencyError, NoDataError, StorageError,
        ConfigurationError: as :func:`open_storage`.
    """
    url = resolve_storage_url(url)
    scheme = scheme_of(url)
    target, _ = _target("storage", scheme, url)
    if target not in _NATIVE_ASYNC or (
        target == _SQLALCHEMY and scheme.split("+", 1)[0] not in _SQLALCHEMY_NATIVE_ASYNC
    ):
        from mastra_memory.storage.threaded import EMBEDDED_MAX_WORKERS, ThreadedAsyncStorage

        if target == _LIBSQL and "driver" not in options:
            options["driver"] = "auto"  # a local file: a driver that releases the GIL (see LibSQLStore)
        sync = open_storage(url, create=create, connect_timeout=connect_timeout, **options)
        # an embedded store serves one call at a time (one connection): one worker thread of its
        # own, so no other thread competes with the event loop for the GIL
        workers = EMBEDDED_MAX_WORKERS if getattr(sync, "is_embedded", False) else None
        threaded = ThreadedAsyncStorage(sync, max_workers=workers)
        return cast(AsyncMemoryStorage, threaded)  # registered as one (AsyncMemoryStorage.register)
    store = _open("storage", url, create, connect_timeout, options, native_async=True)
    if not create:
        store.read_only = True
    return store  # type: ignore[no-any-return]


def open_vector(url: str | None = None, *, create: bool = True, **options: Any) -> VectorStore:
    """Open the vector store a URL names (same schemes as :func:`open_storage`, minus the SQLAlchemy
    ones: ``file:``/libSQL, ``memory://``, ``postgresql://`` with pgvector (``?schema=`` as
    there), ``mongodb://``, and the ``mastra_memory.vector`` entry-point group).

    Args:
        url: The URL; ``None`` uses :data:`DEFAULT_STORAGE_URL`.
        create: ``False`` refuses a local database file that does not exist.
        **options: Passed to the backend.

    Raises:
        UnknownSchemeError, MissingDependencyError, NoDataError, ConfigurationError: as
        :func:`open_storage`.
    """
    url = url or DEFAULT_STORAGE_URL
    vector = _open("vector", url, create, None, options)
    if not isinstance(vector, VectorStore):
        raise ConfigurationError(f"{type(vector).__name__} from {redact_url(url)!r} is not a VectorStore")
    return vector


def open_async_vector(url: str | None = None, *, create: bool = True, **options: Any) -> AsyncVectorStore:
    """Open the async face of the vector store a URL names (same URLs and arguments as
    :func:`open_vector`).

    pgvector (``postgresql://``) gets ``storage_adapters.pg.AsyncPgVector``, MongoDB
    ``storage_adapters.mongodb.AsyncMongoDBVector`` and Redis (``redis://``, ``rediss://``)
    ``storage_adapters.redis.AsyncRedisVector`` (``redis.asyncio``); every other vector store
    (libSQL, in-memory, entry-point plugins) is its sync store in worker threads
    (:class:`~mastra_memory.storage.threaded.ThreadedAsyncVector`). Pass the result as
    ``AsyncMemory(vector=...)``.

    Args:
        url: The URL; ``None`` uses :data:`DEFAULT_STORAGE_URL`.
        create: ``False`` refuses a local database file that does not exist.
        **options: Passed to the backend.

    Raises:
        UnknownSchemeError, MissingDependencyError, NoDataError, ConfigurationError: as
        :func:`open_storage`.
    """
    url = url or DEFAULT_STORAGE_URL
    target, _ = _target("vector", scheme_of(url), url)
    if target not in _NATIVE_ASYNC_VECTOR:
        from mastra_memory.storage.threaded import ThreadedAsyncVector

        return cast(AsyncVectorStore, ThreadedAsyncVector(open_vector(url, create=create, **options)))
    vector = _open("vector", url, create, None, options, native_async=True)
    if not isinstance(vector, AsyncVectorStore):
        raise ConfigurationError(f"{type(vector).__name__} from {redact_url(url)!r} is not an AsyncVectorStore")
    return vector
