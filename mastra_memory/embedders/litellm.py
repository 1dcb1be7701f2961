"""``LiteLLMEmbedder``: embeddings from any litellm provider (OpenAI, Cohere, Ollama, ...).

``model_settings`` go to ``litellm.embedding`` unchanged (``api_base``, ``api_key``,
``dimensions``, ``timeout``, ...), so any OpenAI-compatible server works::

    LiteLLMEmbedder("openai/my-embedder", api_base="http://127.0.0.1:8000/v1", api_key="x")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from mastra_memory.embedders.base import ProbedDimension
from mastra_memory.errors import ModelError, ValidationError

__all__ = ["LiteLLMEmbedder"]


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

    def _call(self, texts: list[str]) -> list[list[float]]:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        try:
            response = litellm.embedding(
                model=self._name, input=texts, num_retries=self.max_retries, **self.model_settings
            )
        except Exception as exc:
            raise ModelError(f"embedding with {self._name!r} failed: {exc}") from exc
        data = sorted(response.data, key=lambda d: d["index"] if isinstance(d, dict) else d.index)
        vectors = [list(d["embedding"] if isinstance(d, dict) else d.embedding) for d in data]
        if len(vectors) != len(texts):
            raise ModelError(f"{self._name!r} returned {len(vectors)} embeddings for {len(texts)} texts")
        return vectors

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts in batches of ``batch_size``.

        Raises:
            ModelError: on a provider error or a malformed response.
        """
        out: list[list[float]] = []
        items = list(texts)
        for i in range(0, len(items), self.batch_size):
            out.extend(self._call(items[i : i + self.batch_size]))
        if out and self._dimension is None:
            self._dimension = len(out[0])
        return out
