"""``RedisStore``: threads, messages, resources, key-value and observational memory in Redis
(``AsyncRedisStore``, on ``redis.asyncio``, is the source of both faces).

The key layout follows @mastra/upstash (0.15, read off its published package) where it has one,
and adds the sorted sets that make every list an index range instead of a ``SCAN``:

=================================================  ==============================================
key                                                 value
=================================================  ==============================================
``mastra_threads:id:{threadId}``                    thread JSON (``id``, ``resourceId``, ``title``,
                                                    ``metadata``, ``createdAt``, ``updatedAt``)
``mastra_messages:threadId:{threadId}:id:{id}``     message JSON (``id``, ``threadId``,
                                                    ``resourceId``, ``role``, ``type``,
                                                    ``createdAt``, ``content`` as an object)
``thread:{threadId}:messages``                      sorted set: message ids by ``createdAt`` (ms)
``mastra_resources:{resourceId}``                   resource JSON (``workingMemory``, ``metadata``)
``mastra_threads:resource:{rid}:by_created``        sorted set (ours): thread ids by ``createdAt``
``mastra_threads:resource:{rid}:by_updated``        sorted set (ours): thread ids by ``updatedAt``
``mastra_threads:all:by_created|by_updated``        sorted sets (ours): every thread
``mastra_messages:resource:{rid}``                  sorted set (ours): message ids by ``createdAt``
``mastra_messages:thread_of``                       hash (ours): message id -> thread id
``mastra_observational_memory:{lookupKey}``         hash (ours): record id -> record JSON
``...:{lookupKey}:generations`` / ``:cursor``       sorted set of record ids by generation; the
                                                    head's ``lastObservedAt``
``mastra_kv:{namespace}/{key}``                     hash (ours): ``v`` value JSON, ``c``/``u``/``e``
                                                    created/updated/expiry ms, ``r`` revision;
                                                    native TTL (``PEXPIREAT``)
``mastra_kv_keys:{namespace}``, ``mastra_kv_expiry``  sorted sets (ours): keys in code-point order;
                                                    expiring entries by expiry
=================================================  ==============================================

Every key can carry a prefix (``key_prefix``, e.g. one per tenant or test). Sorted-set scores are
milliseconds since the epoch and members are ids, so Redis' own order (score, then member bytes)
is the contract's ``(createdAt, id)``.

Writes: each multi-key write is one Lua script, atomic on the server. Read-modify-writes (saving
messages, thread and resource updates, working memory, observational memory, key-value
increments) are optimistic: read, compute with the shared algorithms of the core, then write
with :data:`~storage_adapters.redis._lua.GUARDED_WRITE`, which checks in the same atomic step
that what was read is unchanged (the thread record, the thread's newest message, the observation
cursor, the id index) and otherwise writes nothing; the store reads again and retries with
jittered backoff. A crash at any point leaves either the whole batch or nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import orjson

from mastra_memory import _io_async as _io
from mastra_memory.errors import (
    ConcurrencyError,
    MastraMemoryError,
    MessageIdUnavailableError,
    MissingDependencyError,
    NoDataError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.storage import om as _om
from mastra_memory.storage._rows import message_from_row
from mastra_memory.storage.base_async import (
    AsyncMemoryStorage,
    Direction,
    MessageQuery,
    PerPage,
    ThreadQuery,
    place_after_newest,
    resolve_owners,
)
from mastra_memory.storage.kv import KVModifier, KVRow, KVStats, prefix_upper_bound
from mastra_memory.storage.records import MessageRef, ObservationalMemoryRecord
from mastra_memory.types import Message, Resource, Thread, construct, format_timestamp, gc_paused, parse_timestamp
from storage_adapters.redis import _lua

__all__ = ["AsyncRedisStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA_KEY = "mastra_memory:schema"
_SCHEMA_VERSION = "1"
_MAX_ATTEMPTS = 200


class _Retry(Exception):
    """A guard of a guarded write failed: another writer changed what was read."""


def _ms(value: datetime) -> int:
    """Milliseconds since the epoch (the sorted-set score of a time)."""
    return int(value.timestamp() * 1000 + (0.5 if value.timestamp() >= 0 else -0.5))


def _from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def _client(url: str, timeout_s: float, max_connections: int) -> Any:
    """redis-py's client for this face: ``redis.Redis`` (sync), or ``redis.asyncio.Redis`` over a
    ``BlockingConnectionPool`` (async: a task beyond ``max_connections`` waits up to ``timeout_s``
    for a connection instead of failing with "Too many connections", since many tasks share one
    loop). Both speak the same commands, pipelines and scripts; only the I/O differs."""
    import redis
    import redis.asyncio

    options: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": timeout_s,
        "max_connections": max_connections,
        "health_check_interval": 30,
    }
    if _io.IS_ASYNC:
        pool = redis.asyncio.BlockingConnectionPool.from_url(url, timeout=timeout_s, **options)
        return redis.asyncio.Redis.from_pool(pool)
    return redis.Redis.from_url(url, **options)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


def _thread_json(t: Thread) -> str:
    return _json(
        {
            "id": t.id,
            "resourceId": t.resource_id,
            "title": t.title,
            "metadata": t.metadata,
            "createdAt": format_timestamp(t.created_at),
            "updatedAt": format_timestamp(t.updated_at),
        }
    )


def _thread(raw: str | bytes) -> Thread:
    d = orjson.loads(raw)
    metadata = d.get("metadata")
    if isinstance(metadata, str):  # @mastra/upstash writes some records with metadata as JSON text
        metadata = orjson.loads(metadata) if metadata else {}
    return construct(
        Thread,
        id=d["id"],
        resource_id=d["resourceId"],
        title=d.get("title") or "",
        metadata=metadata or {},
        created_at=parse_timestamp(d["createdAt"]),
        updated_at=parse_timestamp(d.get("updatedAt") or d["createdAt"]),
    )


def _message_json(m: Message) -> str:
    # content is spliced in as the already-encoded JSON text (no second encode)
    head = _json(
        {
            "id": m.id,
            "threadId": m.thread_id,
            "resourceId": m.resource_id,
            "role": m.role,
            "type": m.type or "v2",
            "createdAt": format_timestamp(m.created_at),
        }
    )
    return head[:-1] + ',"content":' + m.content_json() + "}"


def _message(raw: str | bytes) -> Message:
    d = orjson.loads(raw)
    return message_from_row(
        (d["id"], d["threadId"], d.get("resourceId"), d["role"], d["createdAt"], d["content"], d.get("type"))
    )


def _content_size(raw: str | bytes) -> tuple[dict[str, Any], int]:
    d = orjson.loads(raw)
    content = d.get("content")
    text = content if isinstance(content, str) else orjson.dumps(content).decode("utf-8")
    return d, len(text)


def _resource_json(r: Resource) -> str:
    return _json(
        {
            "id": r.id,
            "workingMemory": r.working_memory,
            "metadata": r.metadata,
            "createdAt": format_timestamp(r.created_at),
            "updatedAt": format_timestamp(r.updated_at),
        }
    )


def _resource(raw: str | bytes) -> Resource:
    d = orjson.loads(raw)
    metadata = d.get("metadata")
    if isinstance(metadata, str):
        metadata = orjson.loads(metadata) if metadata else {}
    wm = d.get("workingMemory")
    if wm is not None and not isinstance(wm, str):
        wm = _json(wm)
    return construct(
        Resource,
        id=d["id"],
        working_memory=wm,
        metadata=metadata or {},
        created_at=parse_timestamp(d["createdAt"]),
        updated_at=parse_timestamp(d.get("updatedAt") or d["createdAt"]),
    )


class _Txn:
    """Guards and writes of one :data:`~storage_adapters.redis._lua.GUARDED_WRITE` call."""

    def __init__(self) -> None:
        self.guards: list[str] = []
        self.writes: list[str] = []

    def guard(self, op: str, key: str, a: str = "", b: str = "") -> None:
        self.guards += [op, key, a, b]

    def get_eq(self, key: str, value: str | bytes | None) -> None:
        if value is None:
            self.guard("absent", key)
        else:
            self.guard("get_eq", key, value if isinstance(value, str) else value.decode("utf-8"))

    def ztop_eq(self, key: str, top: tuple[str, float] | None) -> None:
        if top is None:
            self.guard("ztop_eq", key)
        else:
            self.guard("ztop_eq", key, top[0], repr(top[1]))

    def write(self, *args: Any) -> None:
        self.writes.append(str(len(args)))
        self.writes += [a if isinstance(a, str) else str(a) for a in args]

    def argv(self) -> list[str]:
        return [str(len(self.guards) // 4), *self.guards, *self.writes]


class AsyncRedisStore(AsyncMemoryStorage):
    """Storage on Redis (``pip install "mastra-memory[redis]"``), any server speaking RESP with
    Lua scripting: Redis >= 6.2, Valkey, Upstash (``rediss://``). Not Redis Cluster: scripts
    touch keys they compute.

    Args:
        url: ``redis://[[user]:password@]host[:port][/db]`` or ``rediss://...`` (TLS); either this
            or ``client``.
        client: A redis-py client you own (the store does not close it): ``redis.asyncio.Redis``
            for the async store, ``redis.Redis`` for the sync one; it must not decode responses.
        key_prefix: Prepended to every key (``""``, the layout of @mastra/upstash).
        timeout_s: Socket and connect timeout in seconds (10).
        max_connections: Connection pool size (32).

    Raises:
        MissingDependencyError: if redis-py is not installed (extra ``[redis]``).
        ValidationError: on both/neither of url/client or a non-string prefix.
    """

    read_only: bool = False
    """Set by ``open_async_storage(url, create=False)``: the first call checks (as
    ``connect(create=False)``) that the database holds mastra-memory data, and :meth:`setup` writes
    nothing."""

    atomic_replace_messages = True

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Any = None,
        key_prefix: str = "",
        timeout_s: float = 10.0,
        max_connections: int = 32,
    ) -> None:
        if (url is None) == (client is None):
            raise ValidationError("pass exactly one of url or client")
        if not isinstance(key_prefix, str):
            raise ValidationError("key_prefix must be a string")
        try:
            import redis  # noqa: F401 - the extra is installed
        except ImportError as exc:  # pragma: no cover - exercised without the extra
            raise MissingDependencyError("redis", "redis") from exc
        self._owns_client = client is None
        if client is None:
            try:
                client = _client(str(url), timeout_s, max_connections)
            except ValueError as exc:
                raise ValidationError(f"bad Redis URL: {exc}") from exc
        self._r: Any = client
        self.url = url
        self.key_prefix = key_prefix
        p = key_prefix
        self._p = p
        self._thread_of = f"{p}mastra_messages:thread_of"
        self._all_created = f"{p}mastra_threads:all:by_created"
        self._all_updated = f"{p}mastra_threads:all:by_updated"
        self._scripts: dict[str, Any] = {}
        self._setup_lock = _io.Lock()
        self._ready = False

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> AsyncRedisStore:
        """Build a store from a ``redis://`` or ``rediss://`` URL. The query parameter
        ``key_prefix`` sets the key prefix; the rest of the URL goes to redis-py (``/14`` selects
        database 14, ``?ssl_cert_reqs=none`` and the like pass through)."""
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        rest = []
        for name, value in query:
            if name == "key_prefix":
                kwargs.setdefault("key_prefix", value)
            elif name == "connect_timeout":
                kwargs.setdefault("timeout_s", float(value))
            else:
                rest.append((name, value))
        return cls(url=urlunsplit(parts._replace(query=urlencode(rest))), **kwargs)

    # -- keys -----------------------------------------------------------------------------------

    def _tkey(self, thread_id: str) -> str:
        return f"{self._p}mastra_threads:id:{thread_id}"

    def _mkey(self, thread_id: str, message_id: str) -> str:
        return f"{self._p}mastra_messages:threadId:{thread_id}:id:{message_id}"

    def _tmsgs(self, thread_id: str) -> str:
        return f"{self._p}thread:{thread_id}:messages"

    def _rmsgs(self, resource_id: str) -> str:
        return f"{self._p}mastra_messages:resource:{resource_id}"

    def _rthreads(self, resource_id: str, order: str) -> str:
        return f"{self._p}mastra_threads:resource:{resource_id}:by_{order}"

    def _rkey(self, resource_id: str) -> str:
        return f"{self._p}mastra_resources:{resource_id}"

    def _omkey(self, lookup_key: str) -> str:
        return f"{self._p}mastra_observational_memory:{lookup_key}"

    # -- lifecycle and plumbing -----------------------------------------------------------------

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        """Driver errors as :class:`~mastra_memory.errors.StorageError`; a store opened with
        ``create=False`` (:attr:`read_only`) first checks, once, that the database holds
        mastra-memory data."""
        import redis

        if self.read_only and not self._ready:
            await self.connect(create=False)
        try:
            yield
        except MastraMemoryError:
            raise
        except redis.exceptions.RedisError as exc:
            raise StorageError(f"Redis failed: {exc}") from exc

    async def setup(self) -> None:
        """Write the schema marker (idempotent). Redis needs no schema: keys appear on write."""
        if self.read_only:  # opened with create=False: check, write nothing
            await self.connect(create=False)
            return
        async with self._setup_lock:
            if self._ready:
                return
            async with self._errors():
                await self._r.set(self._p + _SCHEMA_KEY, _SCHEMA_VERSION, nx=True)
            self._ready = True

    async def connect(self, *, create: bool = True) -> None:
        """Reach the server now; with ``create=False`` only check that the marker
        ``mastra_memory:schema`` exists (written by :meth:`setup`), creating nothing.

        Raises:
            NoDataError: with ``create=False`` when this database holds no mastra-memory data.
            StorageError: if the server can not be reached.
        """
        import redis

        if self._ready:
            return
        try:
            await self._r.ping()
            marker = None if create else await self._r.get(self._p + _SCHEMA_KEY)
        except redis.exceptions.RedisError as exc:
            raise StorageError(f"could not reach Redis: {exc}") from exc
        if create:
            await self.setup()
            return
        if marker is None and not await self._r.exists(self._all_created):
            raise NoDataError(f"no mastra-memory data in this Redis database (prefix {self._p!r})")
        async with self._setup_lock:
            self._ready = True

    async def close(self) -> None:
        if self._owns_client:
            await self._r.aclose()

    async def drop_keys(self) -> int:
        """Delete every key under this store's ``key_prefix`` (all keys when it is empty). For
        tests. Returns how many were deleted."""
        n = 0
        async with self._errors():
            batch: list[bytes] = []
            async for key in self._r.scan_iter(match=_glob_escape(self._p) + "*", count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    n += int(await self._r.unlink(*batch))
                    batch.clear()
            if batch:
                n += int(await self._r.unlink(*batch))
        self._ready = False
        return n

    def _script(self, name: str) -> Any:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._r.register_script(getattr(_lua, name))
        return script

    async def _run(self, txn: _Txn) -> int:
        """Run a guarded write; 0 when written, else the index of the failed guard."""
        return int(await self._script("GUARDED_WRITE")(keys=[], args=txn.argv()))

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[T | type[_Retry]]]) -> T:
        """Run ``attempt`` until it returns something other than :class:`_Retry` (a lost race)."""
        delay = 0.001
        async with self._errors():
            for n in range(_MAX_ATTEMPTS):
                out = await attempt()
                if out is not _Retry:
                    return out  # type: ignore[return-value]
                logger.debug("%s lost a race (attempt %d); retrying", what, n + 1)
                await _io.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.05)
        raise ConcurrencyError(f"{what}: other writers kept changing the data ({_MAX_ATTEMPTS} attempts)")

    # -- threads --------------------------------------------------------------------------------

    async def _get_thread(self, thread_id: str) -> Thread | None:
        async with self._errors():
            raw = await self._r.get(self._tkey(thread_id))
        return _thread(raw) if raw is not None else None

    def _thread_writes(self, txn: _Txn, t: Thread, old: Thread | None) -> None:
        txn.write("SET", self._tkey(t.id), _thread_json(t))
        if old is None or old.created_at != t.created_at:
            txn.write("ZADD", self._all_created, _ms(t.created_at), t.id)
            txn.write("ZADD", self._rthreads(t.resource_id, "created"), _ms(t.created_at), t.id)
        if old is None or old.updated_at != t.updated_at:
            txn.write("ZADD", self._all_updated, _ms(t.updated_at), t.id)
            txn.write("ZADD", self._rthreads(t.resource_id, "updated"), _ms(t.updated_at), t.id)

    async def _save_thread(self, thread: Thread) -> Thread:
        """Insert or replace; refused (nothing written) when the stored thread has another owner."""

        async def attempt() -> Thread | type[_Retry]:
            raw = await self._r.get(self._tkey(thread.id))
            old = _thread(raw) if raw is not None else None
            if old is not None and old.resource_id != thread.resource_id:
                raise ResourceMismatchError(thread.id, old.resource_id, thread.resource_id)
            txn = _Txn()
            txn.get_eq(self._tkey(thread.id), raw)
            self._thread_writes(txn, thread, old)
            return thread if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"save_thread {thread.id!r}", attempt)

    async def _create_thread(self, thread: Thread) -> Thread:
        """Insert-only: one script that writes only when the key is absent."""
        txn = _Txn()
        txn.guard("absent", self._tkey(thread.id))
        self._thread_writes(txn, thread, None)
        async with self._errors():
            if await self._run(txn) != 0:
                raise ThreadConflictError(thread.id)
        return thread

    async def _update_thread(
        self, thread_id: str, title: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Thread:
        async def attempt() -> Thread | type[_Retry]:
            raw = await self._r.get(self._tkey(thread_id))
            if raw is None:
                raise ThreadNotFoundError(thread_id)
            old = _thread(raw)
            new = old.model_copy(
                update={
                    "title": old.title if title is None else title,
                    "metadata": {**old.metadata, **(metadata or {})},
                    "updated_at": now,
                }
            )
            txn = _Txn()
            txn.get_eq(self._tkey(thread_id), raw)
            self._thread_writes(txn, new, old)
            return new if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"update_thread {thread_id!r}", attempt)

    async def _set_thread_title_if_empty(self, thread_id: str, title: str, now: datetime) -> bool:
        """Compare-and-set on the thread JSON: written only if it is still the untitled one read."""

        async def attempt() -> bool | type[_Retry]:
            raw = await self._r.get(self._tkey(thread_id))
            if raw is None:
                return False
            old = _thread(raw)
            if old.title:
                return False
            txn = _Txn()
            txn.get_eq(self._tkey(thread_id), raw)
            self._thread_writes(txn, old.model_copy(update={"title": title, "updated_at": now}), old)
            return True if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"set_thread_title_if_empty {thread_id!r}", attempt)

    async def _delete_thread(self, thread_id: str) -> None:
        async with self._errors():
            await self._script("DELETE_THREAD")(keys=[], args=[self._p, thread_id])

    async def _list_threads(self, query: ThreadQuery) -> tuple[list[Thread], int]:
        order = "created" if query.order_by == "created_at" else "updated"
        zkey = self._all_created if order == "created" else self._all_updated
        if query.resource_id is not None:
            zkey = self._rthreads(query.resource_id, order)
        desc = query.direction == "DESC"
        async with self._errors():
            if not query.metadata:  # one index range and a count
                count = -1 if query.per_page is False else query.per_page
                total, raws = await self._page(zkey, self._tkey(""), "rank", "", "", desc, query.offset, count)
                return [_thread(r) for r in raws], total
            # a metadata filter: walk the (resource's) index in order, filtering each chunk
            matched: list[Thread] = []
            pos, chunk = 0, 500
            while True:
                ids = await self._r.zrange(zkey, pos, pos + chunk - 1, desc=desc)
                if not ids:
                    break
                matched += [
                    t
                    for t in await self._threads_by_id(ids)
                    if all(t.metadata.get(k, _NO) == v for k, v in query.metadata.items())
                ]
                pos += chunk
        page = (
            matched[query.offset :]
            if query.per_page is False
            else matched[query.offset : query.offset + query.per_page]
        )
        return page, len(matched)

    async def _threads_by_id(self, ids: Sequence[bytes | str]) -> list[Thread]:
        if not ids:
            return []
        raws = await self._r.mget([self._tkey(i.decode("utf-8") if isinstance(i, bytes) else i) for i in ids])
        return [_thread(r) for r in raws if r is not None]

    # -- messages -------------------------------------------------------------------------------

    async def _save_prepared(
        self, messages: list[Message], now: datetime, after_newest: frozenset[str]
    ) -> list[Message]:
        """Save a prepared batch: read the threads, the id index, the newest message of each
        ``after_newest`` thread and the observation cursors; place and restamp the batch with
        the core's functions; write everything in one guarded script that checks all of those
        reads still hold. On a lost race, read again."""
        thread_ids = sorted({m.thread_id for m in messages})
        mids = [m.id for m in messages]
        after = sorted(after_newest)
        hinted = sorted({m.resource_id for m in messages if m.resource_id is not None})

        async def attempt() -> list[Message] | type[_Retry]:
            pipe = self._r.pipeline(transaction=False)
            pipe.mget([self._tkey(t) for t in thread_ids])
            pipe.hmget(self._thread_of, mids)
            for t in after:
                pipe.zrange(self._tmsgs(t), -1, -1, withscores=True)
            for t in thread_ids:
                pipe.get(self._omkey(f"thread:{t}") + ":cursor")
            for r in hinted:  # the messages' resources, usually their threads' owners: read now
                pipe.get(self._omkey(f"resource:{r}") + ":cursor")
            res = await pipe.execute()
            raws: list[bytes | None] = res[0]
            homes: list[bytes | None] = res[1]
            tops = dict(zip(after, res[2 : 2 + len(after)], strict=True))
            thread_cursors = res[2 + len(after) : 2 + len(after) + len(thread_ids)]
            known = dict(zip(hinted, res[2 + len(after) + len(thread_ids) :], strict=True))
            threads = {t: _thread(r) for t, r in zip(thread_ids, raws, strict=True) if r is not None}
            owners = {t: th.resource_id for t, th in threads.items()}
            stored = resolve_owners(messages, owners)
            existing: set[str] = set()
            for m, home in zip(stored, homes, strict=True):
                if home is not None:
                    if home.decode("utf-8") != m.thread_id:
                        raise MessageIdUnavailableError(m.id)
                    existing.add(m.id)
            newest = {t: _from_ms(top[0][1]) for t, top in tops.items() if top}
            stored = place_after_newest(stored, newest)
            resources = sorted(set(owners.values()))
            missing = [r for r in resources if r not in known]
            if missing:  # messages without a resource_id: one more round trip
                cursors = await self._r.mget([self._omkey(f"resource:{r}") + ":cursor" for r in missing])
                known.update(zip(missing, cursors, strict=True))
            res_cursors = [known[r] for r in resources]
            floors_by_key: dict[str, datetime] = {}
            for t, c in zip(thread_ids, thread_cursors, strict=True):
                if c is not None:
                    floors_by_key[f"thread:{t}"] = parse_timestamp(c.decode("utf-8"))
            for r, c in zip(resources, res_cursors, strict=True):
                if c is not None:
                    floors_by_key[f"resource:{r}"] = parse_timestamp(c.decode("utf-8"))
            floors: dict[str, datetime] = {}
            for t, r in owners.items():
                stamps = [s for s in (floors_by_key.get(f"thread:{t}"), floors_by_key.get(f"resource:{r}")) if s]
                if stamps:
                    floors[t] = max(stamps)
            stored = _om.restamp_after_cursor(stored, existing, floors)

            txn = _Txn()
            for t, raw in zip(thread_ids, raws, strict=True):
                txn.get_eq(self._tkey(t), raw)
            for t, top in tops.items():
                txn.ztop_eq(self._tmsgs(t), (top[0][0].decode("utf-8"), top[0][1]) if top else None)
            for t, c in zip(thread_ids, thread_cursors, strict=True):
                txn.get_eq(self._omkey(f"thread:{t}") + ":cursor", c)
            for r, c in zip(resources, res_cursors, strict=True):
                txn.get_eq(self._omkey(f"resource:{r}") + ":cursor", c)
            for m in stored:
                if m.id in existing:
                    txn.guard("hget_eq", self._thread_of, m.id, m.thread_id)
                else:
                    txn.guard("hget_absent", self._thread_of, m.id)
            for m in stored:
                score = _ms(m.created_at)
                txn.write("SET", self._mkey(m.thread_id, m.id), _message_json(m))
                txn.write("ZADD", self._tmsgs(m.thread_id), score, m.id)
                txn.write("ZADD", self._rmsgs(owners[m.thread_id]), score, m.id)
                txn.write("HSET", self._thread_of, m.id, m.thread_id)
            for t in thread_ids:
                old = threads[t]
                self._thread_writes(txn, old.model_copy(update={"updated_at": now}), old)
            return stored if await self._run(txn) == 0 else _Retry

        return await self._retrying("save_messages", attempt)

    async def _save_messages(self, messages: list[Message], now: datetime) -> list[Message]:
        return await self._save_prepared(messages, now, frozenset())

    async def _replace_messages(self, thread: Thread, messages: list[Message], now: datetime) -> list[Message]:
        """Read the thread, its messages, the new ids' homes and the observation cursors; delete
        the old messages and write the new ones in one guarded script that checks those reads
        still hold (the thread record, its newest message, each new id absent or of this thread,
        the cursors). On a lost race, read again."""
        tid = thread.id
        mids = [m.id for m in messages]
        cursor_keys = [
            self._omkey(f"thread:{tid}") + ":cursor",
            self._omkey(f"resource:{thread.resource_id}") + ":cursor",
        ]

        async def attempt() -> list[Message] | type[_Retry]:
            pipe = self._r.pipeline(transaction=False)
            pipe.get(self._tkey(tid))
            pipe.zrange(self._tmsgs(tid), 0, -1, withscores=True)
            pipe.mget(cursor_keys)
            if mids:
                pipe.hmget(self._thread_of, mids)
            res = await pipe.execute()
            raw, old, cursors = res[0], res[1], res[2]
            homes: list[bytes | None] = res[3] if mids else []
            if raw is None:
                raise ThreadNotFoundError(tid)
            current = _thread(raw)
            for m, home in zip(messages, homes, strict=True):
                if home is not None and home.decode("utf-8") != tid:
                    raise MessageIdUnavailableError(m.id)
            stamps = [parse_timestamp(c.decode("utf-8")) for c in cursors if c is not None]
            stored = _om.restamp_after_cursor(messages, set(), {tid: max(stamps)} if stamps else {})
            txn = _Txn()
            txn.get_eq(self._tkey(tid), raw)
            txn.ztop_eq(self._tmsgs(tid), (old[-1][0].decode("utf-8"), old[-1][1]) if old else None)
            for key, c in zip(cursor_keys, cursors, strict=True):
                txn.get_eq(key, c)
            for m in stored:
                txn.guard("hget_in", self._thread_of, m.id, tid)
            for member, _ in old:
                mid = member.decode("utf-8")
                txn.write("DEL", self._mkey(tid, mid))
                txn.write("ZREM", self._tmsgs(tid), mid)
                txn.write("ZREM", self._rmsgs(current.resource_id), mid)
                txn.write("HDEL", self._thread_of, mid)
            for m in stored:
                score = _ms(m.created_at)
                txn.write("SET", self._mkey(tid, m.id), _message_json(m))
                txn.write("ZADD", self._tmsgs(tid), score, m.id)
                txn.write("ZADD", self._rmsgs(current.resource_id), score, m.id)
                txn.write("HSET", self._thread_of, m.id, tid)
            if stored:
                self._thread_writes(txn, current.model_copy(update={"updated_at": now}), current)
            return stored if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"replace_messages {tid!r}", attempt)

    async def _messages_by_ids(self, pairs: Sequence[tuple[str, str]]) -> list[Message]:
        """Messages by ``(thread id, message id)``, in the given order (missing ones skipped)."""
        if not pairs:
            return []
        raws = await self._r.mget([self._mkey(t, m) for t, m in pairs])
        if len(raws) < 500:
            return [_message(r) for r in raws if r is not None]
        with gc_paused():
            return [_message(r) for r in raws if r is not None]

    async def _page(
        self, zkey: str, base: str, mode: str, lo: str, hi: str, desc: bool, offset: int, count: int
    ) -> tuple[int, list[bytes]]:
        """One round trip (:data:`~storage_adapters.redis._lua.PAGE`): ``(total, records)`` of a
        sorted-set page whose members name the keys ``base + member``."""
        out = await self._script("PAGE")(keys=[], args=[zkey, base, mode, lo, hi, "1" if desc else "0", offset, count])
        return int(out[0]), out[1:]

    async def _zpage(
        self, zkey: str, lo: str, hi: str, direction: str, per_page: PerPage, page: int
    ) -> tuple[list[bytes], int]:
        """One page of a sorted set between scores ``lo`` and ``hi`` and the count between them."""
        pipe = self._r.pipeline(transaction=False)
        if per_page is False:
            if direction == "DESC":
                pipe.zrevrangebyscore(zkey, hi, lo)
            else:
                pipe.zrangebyscore(zkey, lo, hi)
        elif direction == "DESC":
            pipe.zrevrangebyscore(zkey, hi, lo, start=page * per_page, num=per_page)
        else:
            pipe.zrangebyscore(zkey, lo, hi, start=page * per_page, num=per_page)
        pipe.zcount(zkey, lo, hi)
        ids, total = await pipe.execute()
        return ids, int(total)

    async def _list_messages(self, query: MessageQuery) -> tuple[list[Message], int]:
        lo = "-inf" if query.start is None else str(_ms(query.start))
        hi = "+inf" if query.end is None else str(_ms(query.end))
        async with self._errors():
            pairs: list[tuple[str, str]] = []
            paged: list[Message] = []
            total = 0
            if len(query.thread_ids) == 1:
                tid = query.thread_ids[0]
                if query.per_page is not False and query.per_page == 0:
                    total = int(await self._r.zcount(self._tmsgs(tid), lo, hi))
                else:  # the page and its records in one round trip
                    count = -1 if query.per_page is False else query.per_page
                    total, raws = await self._page(
                        self._tmsgs(tid),
                        self._mkey(tid, ""),
                        "score",
                        lo,
                        hi,
                        query.direction == "DESC",
                        query.offset,
                        count,
                    )
                    paged = [_message(r) for r in raws]
            else:  # several threads: merge their ranges (each at most offset + per_page long)
                want = None if query.per_page is False else query.offset + query.per_page
                pipe = self._r.pipeline(transaction=False)
                for tid in query.thread_ids:
                    key = self._tmsgs(tid)
                    if query.direction == "DESC":
                        pipe.zrevrangebyscore(
                            key, hi, lo, withscores=True, **({} if want is None else {"start": 0, "num": want})
                        )
                    else:
                        pipe.zrangebyscore(
                            key, lo, hi, withscores=True, **({} if want is None else {"start": 0, "num": want})
                        )
                    pipe.zcount(key, lo, hi)
                res = await pipe.execute()
                merged: list[tuple[float, str, str]] = []
                for k, tid in enumerate(query.thread_ids):
                    merged += [(score, i.decode("utf-8"), tid) for i, score in res[2 * k]]
                    total += int(res[2 * k + 1])
                merged.sort(reverse=query.direction == "DESC")
                if query.per_page is not False:
                    merged = merged[query.offset : query.offset + query.per_page]
                pairs = [(tid, mid) for _, mid, tid in merged]
            if query.include:
                pairs += await self._include_pairs(query)
            messages = paged + await self._messages_by_ids(pairs)
        return _sorted_unique(messages), total

    async def _include_pairs(self, query: MessageQuery) -> list[tuple[str, str]]:
        specs = list(query.include)
        homes = await self._r.hmget(self._thread_of, [s.id for s in specs])
        pipe = self._r.pipeline(transaction=False)
        located: list[tuple[str, str]] = []
        for spec, home in zip(specs, homes, strict=True):
            if home is None:
                continue
            tid = home.decode("utf-8")
            located.append((tid, spec.id))
            pipe.zrank(self._tmsgs(tid), spec.id)
        ranks = await pipe.execute()
        pairs = list(located)
        pipe = self._r.pipeline(transaction=False)
        windows: list[str] = []
        for (tid, mid), rank in zip(located, ranks, strict=True):
            spec = next(s for s in specs if s.id == mid)
            if rank is None:
                continue
            if spec.with_previous_messages and rank > 0:
                pipe.zrange(self._tmsgs(tid), max(0, rank - spec.with_previous_messages), rank - 1)
                windows.append(tid)
            if spec.with_next_messages:
                pipe.zrange(self._tmsgs(tid), rank + 1, rank + spec.with_next_messages)
                windows.append(tid)
        for tid, ids in zip(windows, await pipe.execute(), strict=True):
            pairs += [(tid, i.decode("utf-8")) for i in ids]
        return pairs

    async def _list_messages_by_resource(
        self, resource_id: str, per_page: PerPage, page: int, direction: Direction
    ) -> tuple[list[Message], int]:
        async with self._errors():
            ids, total = await self._zpage(self._rmsgs(resource_id), "-inf", "+inf", direction, per_page, page)
            messages = await self._by_message_ids([i.decode("utf-8") for i in ids])
        return _sorted_unique(messages), total

    async def _by_message_ids(self, ids: list[str]) -> list[Message]:
        if not ids:
            return []
        homes = await self._r.hmget(self._thread_of, ids)
        return await self._messages_by_ids(
            [(h.decode("utf-8"), i) for i, h in zip(ids, homes, strict=True) if h is not None]
        )

    async def _list_messages_by_id(self, message_ids: list[str]) -> list[Message]:
        async with self._errors():
            return _sorted_unique(await self._by_message_ids(message_ids))

    async def _delete_messages(self, message_ids: list[str]) -> int:
        async with self._errors():
            deleted = await self._script("DELETE_MESSAGES")(keys=[], args=[self._p, *message_ids])
        return int(deleted)

    async def _last_created_at(self, thread_id: str) -> datetime | None:
        async with self._errors():
            top = await self._r.zrange(self._tmsgs(thread_id), -1, -1, withscores=True)
        return _from_ms(top[0][1]) if top else None

    async def _insert_thread_with_messages(self, thread: Thread, messages: list[Message]) -> Thread:
        """Insert a new thread with its messages in one script; refused when the id exists or a
        message id is taken."""
        txn = _Txn()
        txn.guard("absent", self._tkey(thread.id))
        for m in messages:
            txn.guard("hget_absent", self._thread_of, m.id)
        self._thread_writes(txn, thread, None)
        for m in messages:
            score = _ms(m.created_at)
            txn.write("SET", self._mkey(thread.id, m.id), _message_json(m))
            txn.write("ZADD", self._tmsgs(thread.id), score, m.id)
            txn.write("ZADD", self._rmsgs(thread.resource_id), score, m.id)
            txn.write("HSET", self._thread_of, m.id, thread.id)
        async with self._errors():
            failed = await self._run(txn)
        if failed == 1:
            raise ThreadConflictError(thread.id)
        if failed:
            raise ValidationError(f"message id {messages[failed - 2].id!r} already exists")
        return thread

    # -- erasure (the algorithm is the base class's; see mastra_memory.storage.lifecycle) -------

    async def _delete_resource_row(self, resource_id: str) -> None:
        async with self._errors():
            await self._r.delete(self._rkey(resource_id))

    # -- resources ------------------------------------------------------------------------------

    async def _get_resource(self, resource_id: str) -> Resource | None:
        async with self._errors():
            raw = await self._r.get(self._rkey(resource_id))
        return _resource(raw) if raw is not None else None

    async def _save_resource(self, resource: Resource) -> Resource:
        async with self._errors():
            await self._r.set(self._rkey(resource.id), _resource_json(resource))
        return resource

    async def _update_resource(
        self, resource_id: str, working_memory: str | None, metadata: dict[str, Any] | None, now: datetime
    ) -> Resource:
        async def attempt() -> Resource | type[_Retry]:
            raw = await self._r.get(self._rkey(resource_id))
            if raw is None:
                new = Resource(
                    id=resource_id,
                    working_memory=working_memory,
                    metadata=metadata or {},
                    created_at=now,
                    updated_at=now,
                )
            else:
                old = _resource(raw)
                new = old.model_copy(
                    update={
                        "working_memory": old.working_memory if working_memory is None else working_memory,
                        "metadata": {**old.metadata, **(metadata or {})},
                        "updated_at": now,
                    }
                )
            txn = _Txn()
            txn.get_eq(self._rkey(resource_id), raw)
            txn.write("SET", self._rkey(resource_id), _resource_json(new))
            return new if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"update_resource {resource_id!r}", attempt)

    async def _update_working_memory_atomic(
        self, scope: Literal["resource", "thread"], key: str, fn: Callable[[str | None], str | None], now: datetime
    ) -> str | None:
        """Compare-and-set on the whole record: read, ``fn``, write only if unchanged."""
        rkey = self._tkey(key) if scope == "thread" else self._rkey(key)

        async def attempt() -> str | type[_Retry] | None:
            raw = await self._r.get(rkey)
            if scope == "thread":
                if raw is None:
                    raise ThreadNotFoundError(key)
                thread = _thread(raw)
                value = thread.metadata.get("workingMemory")
                current = value if isinstance(value, str) else None
            else:
                resource = _resource(raw) if raw is not None else None
                current = resource.working_memory if resource is not None else None
            new = fn(current)
            if new is None or new == current:
                return current
            txn = _Txn()
            txn.get_eq(rkey, raw)
            if scope == "thread":
                updated = thread.model_copy(
                    update={"metadata": {**thread.metadata, "workingMemory": new}, "updated_at": now}
                )
                self._thread_writes(txn, updated, thread)
            else:
                res = (
                    Resource(id=key, working_memory=new, metadata={}, created_at=now, updated_at=now)
                    if resource is None
                    else resource.model_copy(update={"working_memory": new, "updated_at": now})
                )
                txn.write("SET", rkey, _resource_json(res))
            return new if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"working memory of {scope} {key!r}", attempt)

    # -- observational memory -------------------------------------------------------------------

    async def _refs(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None, limit: int | None
    ) -> list[MessageRef]:
        lo = "-inf" if after is None else f"({_ms(after)}"
        keyed: list[tuple[float, str, str | None]] = []
        if thread_ids is None:
            assert resource_id is not None
            kw: dict[str, Any] = {} if limit is None else {"start": 0, "num": limit}
            keyed = [
                (s, i.decode("utf-8"), None)
                for i, s in await self._r.zrangebyscore(self._rmsgs(resource_id), lo, "+inf", withscores=True, **kw)
            ]
        else:
            pipe = self._r.pipeline(transaction=False)
            for tid in thread_ids:
                kw = {} if limit is None else {"start": 0, "num": limit}
                pipe.zrangebyscore(self._tmsgs(tid), lo, "+inf", withscores=True, **kw)
            for tid, rows in zip(thread_ids, await pipe.execute(), strict=True):
                keyed += [(s, i.decode("utf-8"), tid) for i, s in rows]
            keyed.sort()
            if limit is not None:
                keyed = keyed[:limit]
        if not keyed:
            return []
        if any(t is None for _, _, t in keyed):
            homes = await self._r.hmget(self._thread_of, [m for _, m, _ in keyed])
            keyed = [(s, m, h.decode("utf-8")) for (s, m, _), h in zip(keyed, homes, strict=True) if h is not None]
        raws = await self._r.mget([self._mkey(t, m) for _, m, t in keyed if t is not None])
        refs: list[MessageRef] = []
        for raw in raws:
            if raw is None:
                continue
            d, size = _content_size(raw)
            refs.append(MessageRef(d["id"], d["threadId"], parse_timestamp(d["createdAt"]), size))
        return refs

    async def _list_message_refs(
        self, thread_ids: tuple[str, ...] | None, resource_id: str | None, after: datetime | None, limit: int | None
    ) -> list[MessageRef]:
        async with self._errors():
            return await self._refs(thread_ids, resource_id, after, limit)

    async def _om_read_head(
        self, lookup_key: str
    ) -> tuple[ObservationalMemoryRecord | None, tuple[str, float] | None, bytes | None]:
        key = self._omkey(lookup_key)
        top = await self._r.zrange(key + ":generations", -1, -1, withscores=True)
        if not top:
            return None, None, None
        rid = top[0][0].decode("utf-8")
        raw = await self._r.hget(key, rid)
        if raw is None:
            return None, (rid, top[0][1]), None
        return ObservationalMemoryRecord.model_validate_json(raw), (rid, top[0][1]), raw

    async def _om_head(self, lookup_key: str) -> ObservationalMemoryRecord | None:
        async with self._errors():
            return (await self._om_read_head(lookup_key))[0]

    async def _om_history(
        self, lookup_key: str, limit: int | Literal[False], offset: int
    ) -> list[ObservationalMemoryRecord]:
        key = self._omkey(lookup_key)
        stop = -1 if limit is False else offset + limit - 1
        async with self._errors():
            ids = await self._r.zrange(key + ":generations", offset, stop, desc=True)
            raws = await self._r.hmget(key, ids) if ids else []
        return [ObservationalMemoryRecord.model_validate_json(r) for r in raws if r is not None]

    async def _om_update(self, lookup_key: str, mutation: _om.Mutation[T]) -> T:
        """Compare-and-set on the head: read it, run the mutation, write its records only if the
        newest generation and the head's JSON are unchanged (the cursor key moves with them)."""
        scope, _, ident = lookup_key.partition(":")
        key = self._omkey(lookup_key)

        # The mutation is pure code that reads refs through ``walk``: on the async face it runs in
        # a worker thread and each read runs on the event loop (blocking_caller); on the sync face
        # both are direct calls.
        refs = _io.blocking_caller(self._refs)

        def walk(after: datetime | None, limit: int) -> list[MessageRef]:
            found: list[MessageRef] = (
                refs((ident,), None, after, limit) if scope == "thread" else refs(None, ident, after, limit)
            )
            return found

        async def attempt() -> T | type[_Retry]:
            from mastra_memory.types import now_utc

            head, top, raw = await self._om_read_head(lookup_key)
            records, result = await _io.run_blocking(mutation, _om.OMView(lookup_key, head, walk, now_utc()))
            if not records:
                return result
            txn = _Txn()
            txn.ztop_eq(key + ":generations", top)
            if top is not None:
                if raw is None:
                    txn.guard("hget_absent", key, top[0])
                else:
                    txn.guard("hget_eq", key, top[0], raw.decode("utf-8"))
            newest = head
            for record in records:
                txn.write("HSET", key, record.id, record.model_dump_json(by_alias=True))
                txn.write("ZADD", key + ":generations", record.generation_count, record.id)
                if newest is None or record.generation_count >= newest.generation_count:
                    newest = record
            if newest is not None and newest.last_observed_at is not None:
                txn.write("SET", key + ":cursor", format_timestamp(newest.last_observed_at))
            else:
                txn.write("DEL", key + ":cursor")
            return result if await self._run(txn) == 0 else _Retry

        return await self._retrying(f"observational memory {lookup_key!r}", attempt)

    async def _prune_om_history(self, created_before: datetime, limit: int) -> int:
        """Superseded generations created before the cutoff, found by a ``SCAN`` of the
        ``:generations`` sorted sets (no index orders records by age). Only generations below a
        record's newest are read, and generations only grow, so a head is never deleted; each
        record's batch is one atomic script (``HDEL`` + ``ZREM``)."""
        suffix = b":generations"
        deleted = 0
        async with self._errors():
            pattern = _glob_escape(self._omkey("")) + "*" + suffix.decode()
            async for gen in self._r.scan_iter(match=pattern, count=1000):
                if deleted >= limit:
                    break
                if await self._r.type(gen) not in (b"zset", "zset"):  # a lookup key may end so
                    continue
                older = await self._r.zrange(gen, 0, -2)  # every generation but the newest
                if not older:
                    continue
                key = gen[: -len(suffix)].decode("utf-8")
                raws = await self._r.hmget(key, older)
                ids = [
                    i.decode("utf-8")
                    for i, raw in zip(older, raws, strict=True)
                    if raw is not None and _om_created_at(raw) < created_before
                ][: limit - deleted]
                if ids:
                    txn = _Txn()
                    txn.write("HDEL", key, *ids)
                    txn.write("ZREM", gen.decode("utf-8"), *ids)
                    await self._run(txn)
                    deleted += len(ids)
        return deleted

    async def _om_delete(self, lookup_key: str) -> None:
        key = self._omkey(lookup_key)
        async with self._errors():
            await self._r.delete(key, key + ":generations", key + ":cursor")

    # -- key-value memory -----------------------------------------------------------------------

    def _kvkey(self, namespace: str, key: str) -> str:
        return f"{self._p}mastra_kv:{namespace}/{key}"

    def _kvindex(self, namespace: str) -> str:
        return f"{self._p}mastra_kv_keys:{namespace}"

    def _kv_writes(
        self,
        txn: _Txn,
        namespace: str,
        key: str,
        value_json: str,
        expires_at: datetime | None,
        created: int,
        now: datetime,
        rev: int,
    ) -> None:
        k = self._kvkey(namespace, key)
        expiry = "" if expires_at is None else str(_ms(expires_at))
        txn.write("DEL", k)
        txn.write("HSET", k, "v", value_json, "c", created, "u", _ms(now), "e", expiry, "r", rev)
        if expires_at is not None:
            txn.write("PEXPIREAT", k, expiry)
            txn.write("ZADD", f"{self._p}mastra_kv_expiry", expiry, f"{namespace}/{key}")
        else:
            txn.write("ZREM", f"{self._p}mastra_kv_expiry", f"{namespace}/{key}")
        txn.write("ZADD", self._kvindex(namespace), 0, key)

    async def _kv_read(self, namespace: str, key: str, now: datetime) -> tuple[KVRow | None, list[Any]]:
        fields = await self._r.hmget(self._kvkey(namespace, key), ["v", "c", "u", "e", "r"])
        v, c, u, e, _ = fields
        if v is None or (e and int(e) <= _ms(now)):
            return None, fields
        return KVRow(v.decode("utf-8"), _from_ms(e) if e else None, _from_ms(c), _from_ms(u)), fields

    async def _kv_set(
        self, namespace: str, key: str, value_json: str, expires_at: datetime | None, now: datetime
    ) -> None:
        def change(row: KVRow | None) -> Any:
            from mastra_memory.storage.kv import KVWrite

            return KVWrite(value_json, expires_at)

        await self._kv_modify(namespace, key, now, change)

    async def _kv_get(self, namespace: str, key: str, now: datetime) -> KVRow | None:
        async with self._errors():
            return (await self._kv_read(namespace, key, now))[0]

    async def _kv_delete(self, namespace: str, key: str, now: datetime) -> bool:
        k = self._kvkey(namespace, key)
        async with self._errors():
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(k, "e")
            pipe.delete(k)
            pipe.zrem(self._kvindex(namespace), key)
            pipe.zrem(f"{self._p}mastra_kv_expiry", f"{namespace}/{key}")
            e, deleted, _, _ = await pipe.execute()
        return bool(deleted) and (not e or int(e) > _ms(now))

    async def _kv_list_keys(
        self, namespace: str, prefix: str, after_key: str | None, limit: int, now: datetime
    ) -> list[str]:
        lo = "-"
        if prefix:
            lo = "[" + prefix
        if after_key is not None and (not prefix or after_key >= prefix):
            lo = "(" + after_key
        upper = prefix_upper_bound(prefix) if prefix else None
        hi = "+" if upper is None else "(" + upper
        idx = self._kvindex(namespace)
        out: list[str] = []
        now_ms = _ms(now)
        async with self._errors():
            while len(out) < limit:
                want = limit - len(out)
                members = await self._r.zrangebylex(idx, lo, hi, start=0, num=want)
                if not members:
                    break
                pipe = self._r.pipeline(transaction=False)
                for m in members:
                    pipe.hget(self._kvkey(namespace, m.decode("utf-8")), "e")
                    pipe.exists(self._kvkey(namespace, m.decode("utf-8")))
                res = await pipe.execute()
                for j, m in enumerate(members):
                    e, exists = res[2 * j], res[2 * j + 1]
                    if exists and (not e or int(e) > now_ms):
                        out.append(m.decode("utf-8"))
                    elif not exists:
                        await self._r.zrem(idx, m)  # its value expired (native TTL) or was deleted
                lo = "(" + members[-1].decode("utf-8")
                if len(members) < want:
                    break
        return out

    async def _kv_clear(self, namespace: str) -> int:
        async with self._errors():
            return int(
                await self._script("KV_CLEAR")(
                    keys=[],
                    args=[
                        f"{self._p}mastra_kv:{namespace}/",
                        self._kvindex(namespace),
                        f"{self._p}mastra_kv_expiry",
                        namespace,
                    ],
                )
            )

    async def _kv_modify(self, namespace: str, key: str, now: datetime, modify: KVModifier) -> None:
        k = self._kvkey(namespace, key)

        async def attempt() -> bool | type[_Retry]:
            row, fields = await self._kv_read(namespace, key, now)
            write = modify(row)
            if write is None:
                return True
            rev = int(fields[4]) + 1 if fields[4] is not None else 1
            txn = _Txn()
            if fields[4] is None:
                txn.guard("hget_absent", k, "r")
            else:
                txn.guard("hget_eq", k, "r", fields[4].decode("utf-8"))
            created = _ms(row.created_at) if row is not None else _ms(now)
            self._kv_writes(txn, namespace, key, write.value_json, write.expires_at, created, now, rev)
            return True if await self._run(txn) == 0 else _Retry

        await self._retrying(f"key {namespace}/{key}", attempt)

    async def _kv_stats(self, namespace: str, now: datetime) -> KVStats:
        async with self._errors():
            keys, size = await self._script("KV_STATS")(
                keys=[], args=[f"{self._p}mastra_kv:{namespace}/", self._kvindex(namespace), _ms(now)]
            )
        return KVStats(int(keys), int(size))

    async def _kv_purge_expired(self, now: datetime, limit: int) -> int:
        async with self._errors():
            return int(await self._script("KV_PURGE")(keys=[], args=[self._p, _ms(now), limit]))


_NO = object()


def _om_created_at(raw: bytes) -> datetime:
    """``createdAt`` of a stored observational-memory record JSON."""
    return parse_timestamp(orjson.loads(raw)["createdAt"])


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _sorted_unique(messages: list[Message]) -> list[Message]:
    seen: dict[str, Message] = {}
    for m in messages:
        seen.setdefault(m.id, m)
    return sorted(seen.values(), key=lambda m: (m.created_at, m.id))
