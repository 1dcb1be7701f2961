"""The async API twin has the sync API's shape (issue 13): one row of :data:`PAIRS` per pair.

For each ``(sync class, async class)`` pair, every public method of either side exists on the
other with the same parameters and return annotation (up to the async spelling of a type), the
same first docstring line, and is a coroutine function on the async side. A method on one side
only fails the check: :func:`test_a_method_on_one_side_only_fails` shows it on a synthetic pair.

To add a pair, append a row (``renames`` maps a sync method name to its ``a``-prefixed async
twin, e.g. ``{"generate": "agenerate"}``).
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import pytest

from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.base_async import AsyncMemoryStorage
from mastra_memory.storage.threaded import ThreadedAsyncStorage, ThreadedAsyncVector, public_methods
from mastra_memory.storage.vector import VectorStore
from mastra_memory.storage.vector_async import AsyncVectorStore

ROOT = Path(__file__).resolve().parent.parent


class Pair(NamedTuple):
    sync: Callable[[], type]
    asyn: Callable[[], type]
    renames: Mapping[str, str] = MappingProxyType({})
    """Sync method name -> its async twin's name (``generate`` -> ``agenerate``)."""
    plain: frozenset[str] = frozenset()
    """Methods without I/O that are plain functions on both faces (constructors, pure helpers)."""


def _pg_store() -> type:
    from storage_adapters.pg import PostgresStore

    return PostgresStore


def _pg_async_store() -> type:
    from storage_adapters.pg import AsyncPostgresStore

    return AsyncPostgresStore


def _redis_store() -> type:
    from storage_adapters.redis import RedisStore

    return RedisStore


def _redis_async_store() -> type:
    from storage_adapters.redis import AsyncRedisStore

    return AsyncRedisStore


def _pg_vector() -> type:
    from storage_adapters.pg import PgVector

    return PgVector


def _pg_async_vector() -> type:
    from storage_adapters.pg import AsyncPgVector

    return AsyncPgVector


def _mongodb_store() -> type:
    from storage_adapters.mongodb import MongoDBStore

    return MongoDBStore


def _mongodb_async_store() -> type:
    from storage_adapters.mongodb import AsyncMongoDBStore

    return AsyncMongoDBStore


def _mongodb_vector() -> type:
    from storage_adapters.mongodb import MongoDBVector

    return MongoDBVector


def _mongodb_async_vector() -> type:
    from storage_adapters.mongodb import AsyncMongoDBVector

    return AsyncMongoDBVector


def _sqlalchemy_store() -> type:
    from storage_adapters.sqlalchemy import SQLAlchemyStore

    return SQLAlchemyStore


def _sqlalchemy_async_store() -> type:
    from storage_adapters.sqlalchemy import AsyncSQLAlchemyStore

    return AsyncSQLAlchemyStore


def _redis_vector() -> type:
    from storage_adapters.redis import RedisVector

    return RedisVector


def _redis_async_vector() -> type:
    from storage_adapters.redis import AsyncRedisVector

    return AsyncRedisVector


PAIRS: dict[str, Pair] = {
    "MemoryStorage": Pair(lambda: MemoryStorage, lambda: AsyncMemoryStorage),
    "PostgresStore": Pair(_pg_store, _pg_async_store, plain=frozenset({"from_url", "migrations"})),
    "MongoDBStore": Pair(_mongodb_store, _mongodb_async_store, plain=frozenset({"from_url"})),
    "RedisStore": Pair(_redis_store, _redis_async_store, plain=frozenset({"from_url"})),
    "SQLAlchemyStore": Pair(_sqlalchemy_store, _sqlalchemy_async_store, plain=frozenset({"from_url"})),
    "ThreadedAsyncStorage": Pair(lambda: MemoryStorage, lambda: ThreadedAsyncStorage),
    "VectorStore": Pair(lambda: VectorStore, lambda: AsyncVectorStore),
    "PgVector": Pair(_pg_vector, _pg_async_vector),
    "MongoDBVector": Pair(_mongodb_vector, _mongodb_async_vector, plain=frozenset({"from_url"})),
    "RedisVector": Pair(_redis_vector, _redis_async_vector, plain=frozenset({"from_url"})),
    "ThreadedAsyncVector": Pair(lambda: VectorStore, lambda: ThreadedAsyncVector),
}


def _async_names() -> dict[str, str]:
    """Async name -> sync name: scripts/gen_sync.py's REPLACEMENTS plus the async type names."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_sync
    finally:
        sys.path.pop(0)
    names = {"AsyncIterator": "Iterator", "AsyncIterable": "Iterable", "AsyncGenerator": "Generator"}
    return {**names, **gen_sync.REPLACEMENTS}


_ASYNC_NAMES = _async_names()


def _normalize(text: str) -> str:
    """A signature's text with the async spellings of its names mapped onto the sync ones."""
    text = re.sub(r"\b(\w+)\b", lambda m: _ASYNC_NAMES.get(m.group(1), m.group(1)), text)
    return re.sub(r"\bAwaitable\[(.*)\]", r"\1", text)


def _first_doc_line(fn: Any) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def parity_problems(
    sync_cls: type, async_cls: type, renames: Mapping[str, str] | None = None, plain: frozenset[str] = frozenset()
) -> list[str]:
    """What differs between the public methods of ``sync_cls`` and ``async_cls`` (empty: none)."""
    renames = renames or {}
    back = {a: s for s, a in renames.items()}
    sync_names = set(public_methods(sync_cls))
    async_names = {back.get(n, n) for n in public_methods(async_cls)}
    problems = [f"{n}: only on {sync_cls.__name__}" for n in sorted(sync_names - async_names)]
    problems += [f"{n}: only on {async_cls.__name__}" for n in sorted(async_names - sync_names)]
    for name in sorted(sync_names & async_names):
        sync_fn = getattr(sync_cls, name)
        async_fn = getattr(async_cls, renames.get(name, name))
        is_async = inspect.iscoroutinefunction(async_fn) or inspect.isasyncgenfunction(async_fn)
        if name in plain and is_async:
            problems.append(f"{name}: a coroutine function on {async_cls.__name__}, listed as plain")
        elif name not in plain and not is_async:
            problems.append(f"{name}: not a coroutine function on {async_cls.__name__}")
        sync_sig = _normalize(str(inspect.signature(sync_fn)))
        async_sig = _normalize(str(inspect.signature(async_fn)))
        if sync_sig != async_sig:
            problems.append(f"{name}: signature {sync_sig} != {async_sig}")
        if _first_doc_line(sync_fn) != _first_doc_line(async_fn):
            problems.append(f"{name}: docstring {_first_doc_line(sync_fn)!r} != {_first_doc_line(async_fn)!r}")
    return problems


@pytest.mark.parametrize("name", list(PAIRS))
def test_async_twin_has_the_same_public_methods(name: str) -> None:
    pair = PAIRS[name]
    sync_cls, async_cls = pair.sync(), pair.asyn()
    assert public_methods(sync_cls), f"{sync_cls.__name__} has no public methods to compare"
    assert parity_problems(sync_cls, async_cls, pair.renames, pair.plain) == []


def test_async_store_is_an_async_memory_storage() -> None:
    from storage_adapters.mongodb import AsyncMongoDBStore
    from storage_adapters.pg import AsyncPostgresStore

    assert issubclass(AsyncPostgresStore, AsyncMemoryStorage)
    assert issubclass(AsyncMongoDBStore, AsyncMemoryStorage)
    assert issubclass(ThreadedAsyncStorage, AsyncMemoryStorage)
    assert not issubclass(ThreadedAsyncStorage, MemoryStorage)


def test_shared_query_types_exist_once() -> None:
    from mastra_memory.storage import base, base_async

    for name in ("ThreadQuery", "MessageQuery", "resolve_owners", "place_after_newest", "dumps", "MAX_PAGE"):
        assert getattr(base, name) is getattr(base_async, name), name


# -- the check itself fails on a difference ------------------------------------------------------


class _Sync:
    def get(self, key: str) -> int:
        """Get a value."""
        return 0

    def put(self, key: str, value: int) -> None:
        """Put a value."""

    def stream(self) -> Any:
        """Stream values."""


class _AsyncMissing:
    async def get(self, key: str) -> int:
        """Get a value."""
        return 0

    async def astream(self) -> Any:
        """Stream values."""


class _AsyncDrifted:
    async def get(self, key: str, default: int = 0) -> int:
        """Get a value or the default."""
        return default

    def put(self, key: str, value: int) -> None:
        """Put a value."""

    async def stream(self) -> Any:
        """Stream values."""

    async def extra(self) -> None:
        """Only here."""


def test_a_method_on_one_side_only_fails() -> None:
    assert parity_problems(_Sync, _AsyncMissing, {"stream": "astream"}) == ["put: only on _Sync"]
    problems = parity_problems(_Sync, _AsyncDrifted)
    assert "extra: only on _AsyncDrifted" in problems
    assert "put: not a coroutine function on _AsyncDrifted" in problems
    assert any(p.startswith("get: signature") for p in problems)
    assert any(p.startswith("get: docstring") for p in problems)
