"""LangChain ``Embeddings`` objects as mastra-memory embedders (real langchain-core)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("langchain_core.embeddings", reason="needs the [langchain] extra")

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from mastra_memory import Memory
from mastra_memory.embedders import CachedEmbedder, resolve_embedder
from mastra_memory.errors import ConfigurationError, ModelError, ValidationError
from mastra_memory.integrations.langchain import LangChainEmbedder
from storage_adapters.libsql import LibSQLStore, LibSQLVector


class CountingEmbeddings(Embeddings):
    def __init__(self) -> None:
        self.inner = DeterministicFakeEmbedding(size=16)
        self.calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_resolve_embedder_wraps_langchain_embeddings() -> None:
    lc = CountingEmbeddings()
    embedder = resolve_embedder(lc, cache=False)
    assert isinstance(embedder, CachedEmbedder) and isinstance(embedder.inner, LangChainEmbedder)
    assert embedder.name == "langchain/CountingEmbeddings" and embedder.dimension == 16
    vectors = embedder.embed_many(["a", "b", "a"])
    assert vectors[0] == vectors[2] == pytest.approx(lc.inner.embed_documents(["a"])[0])
    assert LangChainEmbedder(lc, name="custom").name == "custom"


def test_semantic_recall_with_a_langchain_embedder(tmp_path: Path) -> None:
    lc = CountingEmbeddings()
    db = f"file:{tmp_path}/lc.db"
    memory = Memory(
        LibSQLStore(db),
        vector=LibSQLVector(db),
        embedder=lc,
        options={"last_messages": 1, "semantic_recall": {"top_k": 1, "message_range": 0}},
    )
    memory.get_or_create_thread("t", "ana")
    from mastra_memory.types import Message

    saved = memory.save_messages([Message.user(f"fact number {i}", "t", resource_id="ana") for i in range(5)])
    assert lc.calls >= 1
    result = memory.recall("t", "ana", vector_search_string="fact number 2")
    assert result.semantic_hits[0].message_id == saved[2].id
    assert "fact number 2" in [m.text for m in result.messages]


def test_bad_embeddings_objects() -> None:
    with pytest.raises(ConfigurationError):
        resolve_embedder(object())
    with pytest.raises(ValidationError):
        LangChainEmbedder(object())

    class Broken(CountingEmbeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise RuntimeError("provider down")

    with pytest.raises(ModelError, match="provider down"):
        LangChainEmbedder(Broken()).embed_many(["x"])
