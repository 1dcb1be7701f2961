"""Redis backend (``pip install "mastra-memory[redis]"``) on redis-py: ``RedisStore``, its async
twin ``AsyncRedisStore`` (on ``redis.asyncio``) and ``RedisVector``, for ``redis://`` and
``rediss://`` URLs (Redis, Valkey, Upstash over TLS)."""

from __future__ import annotations

from storage_adapters.redis.store import RedisStore
from storage_adapters.redis.store_async import AsyncRedisStore
from storage_adapters.redis.vector import RedisVector

__all__ = ["AsyncRedisStore", "RedisStore", "RedisVector"]
