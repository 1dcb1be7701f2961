"""DynamoDB backend (``pip install "mastra-memory[dynamodb]"``) on boto3: ``DynamoDBStore``, the
single-table layout of @mastra/dynamodb."""

from __future__ import annotations

from storage_adapters.dynamodb.store import DynamoDBStore

__all__ = ["DynamoDBStore"]
