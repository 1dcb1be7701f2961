"""MongoDB backend (``pip install "mastra-memory[mongodb]"``) on pymongo: ``MongoDBStore`` and
``MongoDBVector``, and their native async twins ``AsyncMongoDBStore`` and ``AsyncMongoDBVector``
(pymongo's ``AsyncMongoClient``)."""

from __future__ import annotations

from storage_adapters.mongodb.store import MongoDBStore
from storage_adapters.mongodb.store_async import AsyncMongoDBStore
from storage_adapters.mongodb.vector import MongoDBVector
from storage_adapters.mongodb.vector_async import AsyncMongoDBVector

__all__ = ["AsyncMongoDBStore", "AsyncMongoDBVector", "MongoDBStore", "MongoDBVector"]
