"""``LangChainEmbedder``: any LangChain ``Embeddings`` object as a mastra-memory embedder.

LangChain embeddings have ``embed_documents(texts)`` and ``embed_query(text)``; this wrapper gives
them the :class:`~mastra_memory.embedders.base.Embedder` shape (``name``, ``dimension``,
``embed_many``). :func:`~mastra_memory.embedders.resolve_embedder` wraps such objects
automatically, so ``Memory(embedder=OpenAIEmbeddings(...))`` works as is. No LangChain import
is needed here (the object is used through those two methods, and ``aembed_documents`` for
``aembed_many`` when the object has it; otherwise ``embed_documents`` runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from mastra_memory.embedders.base import ProbedDimension
from mastra_memory.errors import ModelError, ValidationError

__all__ = ["LangChainEmbedder", "is_langchain_embeddings"]


def is_langchain_embeddings(obj: Any) -> bool:
    """Whether ``obj`` looks like a LangChain ``Embeddings`` (has ``embed_documents`` and ``embed_query``)."""
    return callable(getattr(obj, "embed_documents", None)) and callable(getattr(obj, "embed_query", None))


class LangChainEmbedder(ProbedDimension):
    """Wraps a LangChain ``Embeddings``.

    Args:
        embeddings: The LangChain object (``langchain_core.embeddings.Embeddings``).
        name: Model name used in cache keys (default: the object's ``model`` attribute if it
            has one, else its class name). Two embedders with the same name must give the same
            vectors, or the embedding cache mixes them up.
        dimension: Vector length if known; otherwise probed once by embedding ``"a"``.

    Raises:
        ValidationError: if ``embeddings`` lacks ``embed_documents``/``embed_query`` or
            ``dimension`` is not positive.
    """

    def __init__(self, embeddings: Any, *, name: str | None = None, dimension: int | None = None) -> None:
        if not is_langchain_embeddings(embeddings):
            raise ValidationError("embeddings must have embed_documents() and embed_query()")
        if dimension is not None and dimension <= 0:
            raise ValidationError("dimension must be > 0")
        model = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None)
        self.embeddings = embeddings
        label = model if isinstance(model, str) else type(embeddings).__name__
        self._name = name or f"langchain/{label}"
        self._dimension = dimension
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def _probe(self, texts: list[str]) -> list[list[float]]:
        return self.embed_many(texts)

    def _check(self, items: list[str], vectors: Any) -> list[list[float]]:
        if len(vectors) != len(items):
            raise ModelError(f"{self._name} returned {len(vectors)} vectors for {len(items)} texts")
        return [list(map(float, v)) for v in vectors]

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` with ``embed_documents``.

        Raises:
            ModelError: if the LangChain object fails or returns the wrong number of vectors.
        """
        items = list(texts)
        try:
            vectors = self.embeddings.embed_documents(items)
        except Exception as exc:
            raise ModelError(f"{self._name}: {exc}") from exc
        return self._check(items, vectors)

    async def aembed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts`` with ``aembed_documents`` (``embed_documents`` in a worker thread when
        the object has no async method).

        Raises:
            ModelError: if the LangChain object fails or returns the wrong number of vectors.
        """
        items = list(texts)
        aembed = getattr(self.embeddings, "aembed_documents", None)
        try:
            if callable(aembed):
                vectors = await aembed(items)
            else:
                vectors = await asyncio.to_thread(self.embeddings.embed_documents, items)
        except Exception as exc:
            raise ModelError(f"{self._name}: {exc}") from exc
        return self._check(items, vectors)
