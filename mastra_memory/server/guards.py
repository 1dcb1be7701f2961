"""What the server checks before it touches storage: API keys, write rates and storage caps.

Framework-free: failures raise :class:`~mastra_memory.errors.AccessDeniedError` (HTTP 401/403)
and :class:`~mastra_memory.errors.QuotaExceededError` (429 with ``retry_after``, or 507), which
the app maps to responses.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from mastra_memory.errors import AccessDeniedError, QuotaExceededError
from mastra_memory.server.config import ApiKey, NamespaceLimits
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.kv import encode_kv_value

__all__ = ["KeyRing", "RateLimiter", "UsageTracker"]


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class KeyRing:
    """The configured API keys, looked up by the SHA-256 digest of the presented token.

    With no keys configured, every request is allowed (the CLI permits that only on a loopback
    address).
    """

    def __init__(self, keys: Iterable[ApiKey | str] = ()) -> None:
        self._keys: dict[bytes, ApiKey] = {}
        for item in keys:
            key = ApiKey(token=item, name="cli") if isinstance(item, str) else item  # type: ignore[arg-type]
            digest = _digest(key.token.get_secret_value())
            self._keys[digest] = key.model_copy(update={"token": SecretStr("<redacted>")})

    @property
    def enabled(self) -> bool:
        """True if requests must present a key."""
        return bool(self._keys)

    def authenticate(self, authorization: str | None) -> ApiKey | None:
        """Return the key for an ``Authorization: Bearer <token>`` header (``None`` when keys
        are not enabled).

        Raises:
            AccessDeniedError: 401 if the header is missing, malformed or names no key.
        """
        if not self._keys:
            return None
        if not authorization:
            raise AccessDeniedError("missing API key (send 'Authorization: Bearer <key>')", 401)
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AccessDeniedError("malformed Authorization header (expected 'Bearer <key>')", 401)
        # A lookup by SHA-256 digest: timing can reveal nothing useful, as finding a token whose
        # digest matches a stored one in any prefix is a preimage search.
        key = self._keys.get(_digest(token.strip()))
        if key is None:
            raise AccessDeniedError("unknown API key", 401)
        return key

    @staticmethod
    def require_namespace(key: ApiKey | None, namespace: str, write: bool) -> None:
        """Raises AccessDeniedError (403) unless ``key`` may use ``namespace`` (and write)."""
        if key is None:
            return
        if not key.allows_namespace(namespace):
            raise AccessDeniedError(f"this API key is not scoped to namespace {namespace!r}", 403)
        if write and key.read_only:
            raise AccessDeniedError("this API key is read-only", 403)

    @staticmethod
    def require_resource(key: ApiKey | None, resource_id: str, write: bool) -> None:
        """Raises AccessDeniedError (403) unless ``key`` may use ``resource_id`` (and write)."""
        if key is None:
            return
        if not key.allows_resource(resource_id):
            raise AccessDeniedError(f"this API key is not scoped to resource {resource_id!r}", 403)
        if write and key.read_only:
            raise AccessDeniedError("this API key is read-only", 403)


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Per-namespace token buckets for writes (in this process; a multi-process deployment
    gets one bucket per process)."""

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, namespace: str, limits: NamespaceLimits) -> None:
        """Spend one write token.

        Raises:
            QuotaExceededError: with ``retry_after`` (seconds) when the bucket is empty.
        """
        rate = limits.write_rate
        if rate is None:
            return
        burst = float(limits.write_burst or max(1.0, rate))
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(namespace)
            if bucket is None:
                bucket = self._buckets[namespace] = _Bucket(burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / rate
        raise QuotaExceededError(
            f"write quota of namespace {namespace!r} exceeded ({rate:g} writes/s)", retry_after=round(wait, 3)
        )


@dataclass
class _Usage:
    keys: int
    value_bytes: int
    counted_at: float


class UsageTracker:
    """Enforces ``max_keys`` / ``max_bytes`` per namespace without counting on every write.

    Usage is counted exactly (``kv_stats``, one indexed range scan) when first needed and when
    older than ``refresh_seconds``; each accepted write adds its worst case (one more key, its
    full size) to the cached figures, so the estimate never undercounts this process's writes.
    A write that would cross a cap by the estimate is re-checked exactly, with the key's current
    size, before it is refused, so overwrites near the cap are judged correctly. Writes from
    other processes are seen at the next refresh.

    Args:
        storage: The sync store holding the key-value entries.
        refresh_seconds: Age, in seconds, after which the cached usage is counted again.
        call: How a storage call runs, ``await call(storage.kv_stats, namespace)``: the server
            passes :meth:`ServerState.call <mastra_memory.server.deps.ServerState.call>`, which
            awaits the natively async twin of the store on the event loop (PostgreSQL, MongoDB,
            Redis), runs an embedded store inline and anything else in the thread pool.
            Default: the thread pool.
    """

    def __init__(
        self, storage: MemoryStorage, refresh_seconds: float, call: Callable[..., Awaitable[Any]] | None = None
    ) -> None:
        self.storage = storage
        self.refresh_seconds = refresh_seconds
        self.call: Callable[..., Awaitable[Any]] = call or _in_thread
        self._usage: dict[str, _Usage] = {}
        self._lock = threading.Lock()

    async def _count(self, namespace: str) -> _Usage:
        stats = await self.call(self.storage.kv_stats, namespace)
        usage = _Usage(stats.keys, stats.value_bytes, time.monotonic())
        with self._lock:
            self._usage[namespace] = usage
        return usage

    @staticmethod
    def _fits(limits: NamespaceLimits, keys: int, value_bytes: int) -> bool:
        return (limits.max_keys is None or keys <= limits.max_keys) and (
            limits.max_bytes is None or value_bytes <= limits.max_bytes
        )

    async def check_write(self, namespace: str, key: str, size: int, limits: NamespaceLimits) -> None:
        """Admit a write of ``size`` bytes to ``key`` or refuse it.

        Args:
            namespace: The key-value namespace.
            key: The key about to be written.
            size: Bytes of the value's stored JSON.
            limits: The namespace's caps.

        Raises:
            QuotaExceededError: (HTTP 507) if the namespace would exceed a cap.
        """
        if limits.max_keys is None and limits.max_bytes is None:
            return
        with self._lock:
            usage = self._usage.get(namespace)
        if usage is None or time.monotonic() - usage.counted_at > self.refresh_seconds:
            usage = await self._count(namespace)
        if self._fits(limits, usage.keys + 1, usage.value_bytes + size):
            with self._lock:
                usage.keys += 1
                usage.value_bytes += size
            return
        usage = await self._count(namespace)  # exact: current usage and the key's current size
        entry = await self.call(self.storage.kv_get, namespace, key)
        old = 0 if entry is None else len(encode_kv_value(entry.value, 2**62).encode("utf-8"))
        keys = usage.keys + (0 if entry is not None else 1)
        value_bytes = usage.value_bytes - old + size
        if not self._fits(limits, keys, value_bytes):
            raise QuotaExceededError(
                f"namespace {namespace!r} is full: this write would make {keys} keys / {value_bytes} bytes "
                f"(caps: {limits.max_keys} keys, {limits.max_bytes} bytes)"
            )
        with self._lock:
            usage.keys, usage.value_bytes = keys, value_bytes

    def forget(self, namespace: str) -> None:
        """Drop the cached usage (after a clear)."""
        with self._lock:
            self._usage.pop(namespace, None)
