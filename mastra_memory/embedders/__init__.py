"""Embedders: one protocol, a litellm adapter, an offline ONNX model, and a cache.

``resolve_embedder`` turns what a user passes to ``Memory(embedder=...)`` into a cached
embedder: ``"local/all-minilm-l6-v2"`` -> :class:`LocalEmbedder`, any other string ->
:class:`LiteLLMEmbedder`, an object with ``embed_many``/``dimension``/``name`` -> itself, a
LangChain ``Embeddings`` (``embed_documents``/``embed_query``) -> :class:`LangChainEmbedder`.
"""

from __future__ import annotations

from typing import Any

from mastra_memory.embedders.base import CachedEmbedder, Embedder, EmbeddingCache, cache_key, default_cache
from mastra_memory.embedders.langchain import LangChainEmbedder, is_langchain_embeddings
from mastra_memory.embedders.litellm import LiteLLMEmbedder
from mastra_memory.embedders.local import LocalEmbedder
from mastra_memory.errors import ConfigurationError

__all__ = [
    "CachedEmbedder",
    "Embedder",
    "EmbeddingCache",
    "LangChainEmbedder",
    "LiteLLMEmbedder",
    "LocalEmbedder",
    "cache_key",
    "default_cache",
    "resolve_embedder",
]


def resolve_embedder(
    embedder: str | Embedder | Any, *, cache: EmbeddingCache | bool | None = True, **model_settings: Any
) -> CachedEmbedder:
    """Return ``embedder`` as a :class:`CachedEmbedder`.

    Args:
        embedder: ``"local/<model>"``, a litellm model string, an embedder object, or a LangChain
            ``Embeddings`` (wrapped in :class:`~mastra_memory.embedders.langchain.LangChainEmbedder`).
        cache: ``True`` for the process-global cache, an :class:`EmbeddingCache`, or ``False``
            for a private cache of size 0 (no caching).
        **model_settings: Passed to :class:`LiteLLMEmbedder` for model strings.

    Raises:
        ConfigurationError: if ``embedder`` is neither a string nor an embedder.
    """
    if isinstance(embedder, CachedEmbedder):
        return embedder
    inner: Any
    if isinstance(embedder, str):
        inner = (
            LocalEmbedder(embedder)
            if embedder.lower().startswith("local/")
            else LiteLLMEmbedder(embedder, **model_settings)
        )
    elif isinstance(embedder, Embedder):
        inner = embedder
    elif is_langchain_embeddings(embedder):
        inner = LangChainEmbedder(embedder)
    else:
        raise ConfigurationError(
            f"not an embedder: {embedder!r} (need a model string or an object with name, dimension, embed_many)"
        )
    if cache is True:
        chosen = default_cache()
    elif cache is False or cache is None:
        chosen = EmbeddingCache(max_entries=0)
    else:
        chosen = cache
    return CachedEmbedder(inner, chosen)
