"""MongoDB backend (``pip install "mastra-memory[mongodb]"``) on pymongo."""

from __future__ import annotations

from storage_adapters.mongodb.store import MongoDBStore

__all__ = ["MongoDBStore"]
