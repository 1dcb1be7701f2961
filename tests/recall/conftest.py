"""Fixtures for the working-memory, embedder, vector and semantic-recall tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh libSQL database file."""
    return f"file:{tmp_path / 'recall.db'}"


@pytest.fixture
def pg_url() -> str:
    url = os.environ.get("MASTRA_TEST_PG_URL")
    if not url:
        pytest.skip("MASTRA_TEST_PG_URL is not set (PostgreSQL 18 + pgvector; scripts/services.sh start)")
    return url


@pytest.fixture
def mongo_url() -> str:
    url = os.environ.get("MASTRA_TEST_MONGODB_URL")
    if not url:
        pytest.skip("MASTRA_TEST_MONGODB_URL is not set (mongoeco wire server; scripts/services.sh start)")
    return url


@pytest.fixture
def unique() -> Iterator[str]:
    yield uuid.uuid4().hex[:10]
