"""``LiteLLMEmbedder``: embeddings from any litellm provider (OpenAI, Cohere, Ollama, ...).

``model_settings`` go to ``litellm.embedding`` unchanged (``api_base``, ``api_key``,
``dimensions``, ``timeout``, ...), so any OpenAI-compatible server works::

    LiteLLMEmbedder("openai/my-embedder", api_base="http://127.0.0.1:8000/v1", api_key="x")

``aembed_many`` (the async face) sends the same requests through ``litellm.aembedding``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

from mastra_memory.embedders.base import ProbedDimension
from mastra_memory.errors import ModelError, ValidationError
from mastra_memory.tracing import record_embedding_tokens

__all__ = ["LiteLLMEmbedder"]


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


class LiteLLMEmbedder(ProbedDimension):
    """Embedder calling ``litellm.embedding``.

    Args:
        model: A litellm model string, e.g. ``"openai/text-embedding-3-small"``.
        dimension: Vector length if known (1536 for text-embedding-3-small); otherwise it is
            probed once by embedding ``"a"``. A failed probe raises; it never guesses.
        batch_size: Texts per request (128).
        max_retries: Retries per request on transient errors (3, as the original).
        **model_settings: Passed to ``litellm.embedding``.
    """

    def __init__(
        self,
        model: str,
        *,
        dimension: int | None = None,
        batch_size: int = 128,
        max_retries: int = 3,
        **model_settings: Any,
    ) -> None:
        if not isinstance(model, str) or not model:
            raise ValidationError("model must be a non-empty litellm model string")
        if dimension is not None and dimension <= 0:
            raise ValidationError("dimension must be > 0")
        self._name = model
        self._dimension = dimension
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.model_settings = model_settings
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def _probe(self, texts: list[str]) -> list[list[float]]:
        return self._call(texts)

    def _request(self, texts: list[str]) -> dict[str, Any]:
        return {"model": self._name, "input": texts, "num_retries": self.max_retries, **self.model_settings}

    def _vectors(self, response: Any, texts: list[str]) -> list[list[float]]:
        usage = response.get("usage") if isinstance(response, dict) else getattr(response, "usage", None)
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else getattr(usage, "prompt_tokens", None)
        record_embedding_tokens(tokens if isinstance(tokens, int) else None)
        data = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        vectors = [list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in data]
        if len(vectors) != len(texts):
            raise ModelError(f"{self._name!r} returned {len(vectors)} embeddings for {len(texts)} texts")
        return vectors

    def _error(self, exc: Exception) -> ModelError:
        return ModelError(f"embedding with {self._name!r} failed: {exc}")

    def _call(self, texts: list[str]) -> list[list[float]]:
        litellm = _litellm()
        try:
            response = litellm.embedding(**self._request(texts))
        except Exception as exc:
            raise self._error(exc) from exc
        return self._vectors(response, texts)

    async def _acall(self, texts: list[str]) -> list[list[float]]:
        litellm = _litellm() if "litellm" in sys.modules else await asyncio.to_thread(_litellm)
        try:
            response = await litellm.aembedding(**self._request(texts))
        except Exception as exc:
            raise self._error(exc) from exc
        return self._vectors(response, texts)

    def _batches(self, texts: Sequence[str]) -> list[list[str]]:
        items = list(texts)
        return [items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)]

    def _learn_dimension(self, out: list[list[float]]) -> list[list[float]]:
        if out and self._dimension is None:
            self._dimension = len(out[0])
        return out

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches of ``batch_size``.

        Raises:
            ModelError: on a provider error or a malformed response.
        """
        out: list[list[float]] = []
        for batch in self._batches(texts):
            out.extend(self._call(batch))
        return self._learn_dimension(out)

    async def aembed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed_many` without blocking the event loop (``litellm.aembedding``).

        Raises:
            ModelError: on a provider error or a malformed response.
        """
        out: list[list[float]] = []
        for batch in self._batches(texts):
            out.extend(await self._acall(batch))
        return self._learn_dimension(out)
