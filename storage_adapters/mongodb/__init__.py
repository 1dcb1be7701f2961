"""MongoDB backend (``pip install "mastra-memory[mongodb]"``) on pymongo: ``MongoDBStore`` and
``MongoDBVector``."""

from __future__ import annotations

from storage_adapters.mongodb.store import MongoDBStore
from storage_adapters.mongodb.vector import MongoDBVector

__all__ = ["MongoDBStore", "MongoDBVector"]
