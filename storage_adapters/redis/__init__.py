"""Redis backend (``pip install "mastra-memory[redis]"``) on redis-py: ``RedisStore`` and
``RedisVector`` with their async twins ``AsyncRedisStore`` and ``AsyncRedisVector`` (on
``redis.asyncio``), for ``redis://`` and ``rediss://`` URLs (Redis, Valkey, Upstash over TLS)."""

from __future__ import annotations

from storage_adapters.redis.store import RedisStore
from storage_adapters.redis.store_async import AsyncRedisStore
from storage_adapters.redis.vector import RedisVector
from storage_adapters.redis.vector_async import AsyncRedisVector

__all__ = ["AsyncRedisStore", "AsyncRedisVector", "RedisStore", "RedisVector"]
