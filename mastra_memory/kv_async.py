"""Key-value agent memory: "remember this value under this key, across restarts and machines".

:class:`KVMemory` is one namespace of keys holding any JSON value. It runs on any
:class:`~mastra_memory.storage.base.MemoryStorage` (table ``mastra_kv``; the embedded libSQL file by
default) or, given ``base_url``, on a ``mastra-memory serve`` HTTP server, with the same
behaviour either way::

    from mastra_memory.kv import KVMemory

    kv = KVMemory("agent-42")                 # LibSQLStore("file:./mastra.db")
    kv.set("user/name", "Ana")
    kv.set("visits", 3)
    kv.increment("visits")                    # -> 4 (an int, atomically)
    kv.set("otp", "123456", ttl=300)          # gone after 5 minutes
    kv.get("missing", default=0)              # -> 0

    remote = KVMemory("agent-42", base_url="http://127.0.0.1:8000", api_key="...")

Values come back with their JSON type (``1`` is an ``int``, ``1.0`` a ``float``, ``True`` a
``bool``, ``None`` ``None``, nested lists and objects as they were); tuples come back as
lists. ``ttl`` is in seconds; an expired key is invisible to every method and purged lazily.

:class:`~mastra_memory.kv_async.AsyncKVMemory` is the async twin (same methods, arguments,
results and errors, as coroutines; ``aclose`` for ``close``): on a store it calls the store's
async face (a store whose driver blocks, such as embedded libSQL, runs each call whole in a
worker thread, :class:`~mastra_memory.storage.threaded.ThreadedAsyncStorage`), over HTTP it uses
``httpx.AsyncClient``::

    from mastra_memory import AsyncKVMemory

    async with AsyncKVMemory("agent-42") as kv:
        await kv.increment("visits")

One implementation, two faces: ``mastra_memory/kv_async.py`` is the source and
``mastra_memory/kv.py`` is generated from it by ``scripts/gen_sync.py``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote

from mastra_memory.errors import (
    AccessDeniedError,
    ConfigurationError,
    MissingDependencyError,
    QuotaExceededError,
    StorageError,
    ValidationError,
)
from mastra_memory.storage.kv import (
    KV_MISSING,
    KVEntry,
    KVKeyPage,
    encode_kv_value,
    validate_kv_key,
    validate_kv_namespace,
    validate_kv_ttl,
)

if TYPE_CHECKING:
    import httpx

    from mastra_memory.storage.base_async import AsyncMemoryStorage

from mastra_memory.storage.threaded import as_async_storage

__all__ = ["AsyncKVMemory", "decode_cursor", "encode_cursor"]

API_KEY_ENV = "MASTRA_MEMORY_API_KEY"
"""Environment variable read for the API key when ``base_url`` is given without ``api_key``."""


def encode_cursor(after_key: str | None) -> str | None:
    """The opaque list cursor for a key (URL-safe base64 of its UTF-8), or ``None``."""
    if after_key is None:
        return None
    return base64.urlsafe_b64encode(after_key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """Inverse of :func:`encode_cursor`.

    Raises:
        ValidationError: if the cursor is not one this library produced.
    """
    if not cursor:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:  # binascii.Error is a ValueError
        raise ValidationError(f"invalid cursor: {cursor!r}") from exc


class _Backend(Protocol):
    async def set(self, ns: str, key: str, value: Any, ttl: float | None) -> None: ...
    async def get(self, ns: str, key: str) -> KVEntry | None: ...
    async def exists(self, ns: str, key: str) -> bool: ...
    async def delete(self, ns: str, key: str) -> bool: ...
    async def list_keys(self, ns: str, prefix: str | None, after_key: str | None, limit: int) -> KVKeyPage: ...
    async def clear(self, ns: str) -> int: ...
    async def increment(self, ns: str, key: str, by: int | float, ttl: float | None) -> int | float: ...
    async def compare_and_set(self, ns: str, key: str, expected: Any, new: Any, ttl: float | None) -> bool: ...
    async def purge_expired(self) -> int: ...
    async def aclose(self) -> None: ...


class _KVStore(Protocol):
    """The key-value primitives of a store (its async face in the async module)."""

    async def kv_set(self, ns: str, key: str, value: Any, ttl: float | None) -> None: ...
    async def kv_get(self, ns: str, key: str) -> KVEntry | None: ...
    async def kv_exists(self, ns: str, key: str) -> bool: ...
    async def kv_delete(self, ns: str, key: str) -> bool: ...
    async def kv_list_keys(self, ns: str, prefix: str | None, after_key: str | None, limit: int) -> KVKeyPage: ...
    async def kv_clear(self, ns: str) -> int: ...
    async def kv_increment(self, ns: str, key: str, by: int | float, ttl: float | None) -> int | float: ...
    async def kv_compare_and_set(self, ns: str, key: str, expected: Any, new: Any, ttl: float | None) -> bool: ...
    async def kv_purge_expired(self) -> int: ...
    async def close(self) -> None: ...


class _StorageBackend:
    """Direct calls on a store (its async face in the async module)."""

    def __init__(self, storage: Any, owned: bool) -> None:
        self.storage: _KVStore = as_async_storage(storage)
        self.owned = owned

    async def set(self, ns: str, key: str, value: Any, ttl: float | None) -> None:
        await self.storage.kv_set(ns, key, value, ttl)

    async def get(self, ns: str, key: str) -> KVEntry | None:
        return await self.storage.kv_get(ns, key)

    async def exists(self, ns: str, key: str) -> bool:
        return await self.storage.kv_exists(ns, key)

    async def delete(self, ns: str, key: str) -> bool:
        return await self.storage.kv_delete(ns, key)

    async def list_keys(self, ns: str, prefix: str | None, after_key: str | None, limit: int) -> KVKeyPage:
        return await self.storage.kv_list_keys(ns, prefix, after_key, limit)

    async def clear(self, ns: str) -> int:
        return await self.storage.kv_clear(ns)

    async def increment(self, ns: str, key: str, by: int | float, ttl: float | None) -> int | float:
        return await self.storage.kv_increment(ns, key, by, ttl)

    async def compare_and_set(self, ns: str, key: str, expected: Any, new: Any, ttl: float | None) -> bool:
        return await self.storage.kv_compare_and_set(ns, key, expected, new, ttl)

    async def purge_expired(self) -> int:
        return await self.storage.kv_purge_expired()

    async def aclose(self) -> None:
        if self.owned:
            await self.storage.close()


def _strict_loads(text: str | bytes) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=reject)


class _HTTPBackend:
    """The ``mastra-memory serve`` routes through an ``httpx.AsyncClient`` (``httpx.Client`` in
    the sync module)."""

    def __init__(self, base_url: str, api_key: str | None, timeout: float, client: httpx.AsyncClient | None) -> None:
        if client is None:
            try:
                import httpx
            except ImportError as exc:
                raise MissingDependencyError("httpx", "server") from exc
            headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
            client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)
            self.owned = True
        else:
            if api_key:
                client.headers["Authorization"] = f"Bearer {api_key}"
            self.owned = False
        self.client = client

    @staticmethod
    def _path(ns: str, key: str | None = None) -> str:
        path = f"/memory/{quote(ns, safe='')}"
        return path if key is None else f"{path}/{quote(key, safe='')}"

    async def _request(self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        try:
            response = await self.client.request(method, path, **kwargs)
        except Exception as exc:  # httpx.HTTPError and transport failures
            raise StorageError(f"memory server request {method} {path} failed: {exc}") from exc
        status = response.status_code
        if status in ok:
            return (status, _strict_loads(response.content) if response.content else None)
        try:
            detail = response.json().get("detail", response.text)
        except (ValueError, AttributeError):
            detail = response.text
        message = f"{method} {path}: HTTP {status}: {detail}"
        if status in (401, 403):
            raise AccessDeniedError(message, status)
        if status in (400, 413, 422):
            raise ValidationError(message)
        if status in (429, 507):
            retry = response.headers.get("Retry-After")
            raise QuotaExceededError(message, float(retry) if retry else None)
        raise StorageError(message)

    async def set(self, ns: str, key: str, value: Any, ttl: float | None) -> None:
        body = encode_kv_value(value, 2**62)  # the server enforces its own size limit (413)
        params = {"ttl": repr(ttl)} if ttl is not None else None
        await self._request(
            "PUT",
            self._path(ns, key),
            content=body.encode("utf-8"),
            params=params,
            headers={"Content-Type": "application/json"},
        )

    async def get(self, ns: str, key: str) -> KVEntry | None:
        from mastra_memory.types import parse_timestamp as parse_ts

        status, data = await self._request("GET", self._path(ns, key), ok=(200, 404))
        if status == 404:
            return None
        expires = data.get("expires_at")
        return KVEntry(
            ns,
            key,
            data["value"],
            parse_ts(expires) if expires else None,
            parse_ts(data["created_at"]),
            parse_ts(data["updated_at"]),
        )

    async def exists(self, ns: str, key: str) -> bool:
        status, _ = await self._request("HEAD", self._path(ns, key), ok=(200, 404))
        return bool(status == 200)

    async def delete(self, ns: str, key: str) -> bool:
        _, data = await self._request("DELETE", self._path(ns, key))
        return bool(data["deleted"])

    async def list_keys(self, ns: str, prefix: str | None, after_key: str | None, limit: int) -> KVKeyPage:
        params: dict[str, Any] = {"limit": limit}
        if prefix:
            params["prefix"] = prefix
        cursor = encode_cursor(after_key)
        if cursor:
            params["cursor"] = cursor
        _, data = await self._request("GET", self._path(ns), params=params)
        return KVKeyPage(list(data["keys"]), decode_cursor(data.get("next_cursor")))

    async def clear(self, ns: str) -> int:
        _, data = await self._request("DELETE", self._path(ns))
        return int(data["deleted"])

    async def increment(self, ns: str, key: str, by: int | float, ttl: float | None) -> int | float:
        body = json.dumps({"by": by, "ttl": ttl}, allow_nan=False)
        _, data = await self._request(
            "POST", f"{self._path(ns, key)}/increment", content=body, headers={"Content-Type": "application/json"}
        )
        value: int | float = data["value"]
        return value

    async def compare_and_set(self, ns: str, key: str, expected: Any, new: Any, ttl: float | None) -> bool:
        payload: dict[str, Any] = {"value": new, "ttl": ttl}
        if expected is KV_MISSING:
            payload["expect_missing"] = True
        else:
            payload["expected"] = expected
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False)
        _, data = await self._request(
            "POST",
            f"{self._path(ns, key)}/compare-and-set",
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        return bool(data["swapped"])

    async def purge_expired(self) -> int:
        _, data = await self._request("POST", "/admin/purge-expired")
        return int(data["deleted"])

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()


class AsyncKVMemory:
    """One namespace of key-value memory, on a storage adapter or on the HTTP server.

    ``KVMemory`` (sync) and ``AsyncKVMemory`` (coroutines, ``aclose`` for ``close``) have the
    same methods, arguments, results and errors.

    Args:
        namespace: The namespace (1-255 characters, no ``/``, no control characters); e.g. an
            agent, user or tenant id. Namespaces are isolated from each other.
        storage: A :class:`~mastra_memory.storage.base.MemoryStorage` (for ``AsyncKVMemory``
            also a store's async face; a sync store then runs each call in a worker thread);
            default ``LibSQLStore("file:./mastra.db")`` (closed by ``close``/``aclose`` only
            when created here). Mutually exclusive with ``base_url``.
        base_url: URL of a ``mastra-memory serve`` server, e.g. ``"http://127.0.0.1:8000"``;
            needs ``httpx`` (``pip install "mastra-memory[server]"``).
        api_key: Bearer token for the server (default: the ``MASTRA_MEMORY_API_KEY``
            environment variable).
        timeout: HTTP timeout in seconds (10.0).
        http_client: An ``httpx.Client`` (``httpx.AsyncClient`` for ``AsyncKVMemory``) to use
            instead of making one (tests pass a ``fastapi.testclient.TestClient``, or an
            ``httpx.AsyncClient`` on an ``httpx.ASGITransport``); its base URL is used.
        page_size: Keys per request when :meth:`list_keys` pages internally (1,000).

    Raises:
        ConfigurationError: if both ``storage`` and ``base_url`` are given.
        MissingDependencyError: if ``base_url`` is given and ``httpx`` is not installed.
        ValidationError: on an invalid namespace.
    """

    MISSING: Final = KV_MISSING
    """Pass as ``expected`` to :meth:`compare_and_set` to require that the key does not exist."""

    def __init__(
        self,
        namespace: str,
        storage: AsyncMemoryStorage | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
        page_size: int = 1000,
    ) -> None:
        self.namespace = validate_kv_namespace(namespace)
        if storage is not None and (base_url is not None or http_client is not None):
            raise ConfigurationError("give either storage or base_url/http_client, not both")
        if not 1 <= page_size <= 10_000:
            raise ValidationError("page_size must be from 1 to 10000")
        self.page_size = page_size
        self._backend: _Backend
        if base_url is not None or http_client is not None:
            key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
            self._backend = _HTTPBackend(base_url or "", key, timeout, http_client)
        else:
            self._backend = _StorageBackend(storage, owned=storage is None)

    @property
    def is_remote(self) -> bool:
        """True when talking to a server (``base_url``)."""
        return isinstance(self._backend, _HTTPBackend)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (any JSON value) under ``key``, replacing what was there.

        Args:
            key: 1-512 characters, no control characters, no ``.``/``..`` ``/``-segments.
            value: Any JSON value; comes back with its type.
            ttl: Seconds until the key expires (> 0); ``None`` never expires (and removes an
                earlier expiry).

        Raises:
            ValidationError: on a bad key, ttl or value, or a value over the size limit
                (4 MiB embedded; the server's limit, 1 MiB by default, over HTTP).
            AccessDeniedError, QuotaExceededError: from a server.
        """
        await self._backend.set(self.namespace, validate_kv_key(key), value, validate_kv_ttl(ttl))

    async def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key``, or ``default`` when it is missing or expired."""
        entry = await self._backend.get(self.namespace, validate_kv_key(key))
        return default if entry is None else entry.value

    async def get_entry(self, key: str) -> KVEntry | None:
        """The entry with its times (``expires_at``, ``created_at``, ``updated_at``), or None."""
        return await self._backend.get(self.namespace, validate_kv_key(key))

    async def exists(self, key: str) -> bool:
        """True if ``key`` holds a live (unexpired) value."""
        return await self._backend.exists(self.namespace, validate_kv_key(key))

    async def delete(self, key: str) -> bool:
        """Delete ``key``; True if it held a live value. Idempotent."""
        return await self._backend.delete(self.namespace, validate_kv_key(key))

    async def iter_keys(self, prefix: str | None = None) -> AsyncIterator[str]:
        """Yield every live key (optionally starting with ``prefix``) in code-point order,
        fetching :attr:`page_size` keys per query (keyset pagination: no key is skipped or
        repeated by concurrent writes)."""
        after: str | None = None
        while True:
            page = await self._backend.list_keys(self.namespace, prefix, after, self.page_size)
            for key in page.keys:  # noqa: RUF100, UP028 (no `yield from` in an async generator)
                yield key
            if page.next_after is None:
                return
            after = page.next_after

    async def list_keys(self, prefix: str | None = None) -> list[str]:
        """Every live key (optionally starting with ``prefix``), complete, in code-point order.

        There is no silent cap: all pages are fetched. Use :meth:`iter_keys` to stream.
        """
        return [key async for key in self.iter_keys(prefix)]

    async def clear(self) -> int:
        """Delete every key of the namespace; returns how many entries were removed."""
        return await self._backend.clear(self.namespace)

    async def increment(self, key: str, by: int | float = 1, ttl: float | None = None) -> int | float:
        """Atomically add ``by`` to a number and return the result (a missing key counts as 0).

        ``int + int`` stays an ``int``; a ``float`` makes a ``float``. ``ttl`` applies only when
        the key is created. No increment is lost under concurrent callers (threads, tasks,
        processes or server clients).

        Raises:
            ValidationError: if ``by`` or the stored value is not a number.
        """
        return await self._backend.increment(self.namespace, validate_kv_key(key), by, validate_kv_ttl(ttl))

    async def compare_and_set(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        """Atomically store ``new`` only if ``key`` holds ``expected`` (type-strict equality).

        Pass :attr:`KVMemory.MISSING` as ``expected`` to set only if the key does not exist.

        Returns:
            True if the value was replaced.
        """
        return await self._backend.compare_and_set(
            self.namespace, validate_kv_key(key), expected, new, validate_kv_ttl(ttl)
        )

    async def purge_expired(self) -> int:
        """Delete expired entries of every namespace now (they are already invisible).

        Returns the count. Over HTTP this needs an API key scoped to all namespaces (``*``).
        """
        return await self._backend.purge_expired()

    async def aclose(self) -> None:
        """Release the store (if created here) or the HTTP client."""
        await self._backend.aclose()

    async def __aenter__(self) -> AsyncKVMemory:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        where = "http" if self.is_remote else type(getattr(self._backend, "storage", None)).__name__
        return f"{type(self).__name__}(namespace={self.namespace!r}, backend={where})"
