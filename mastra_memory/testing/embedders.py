"""``HashingEmbedder``: a deterministic, dependency-free embedder for tests and examples.

It is a bag of words hashed into ``dimension`` buckets (the "hashing trick", Weinberger et al.
2009): lowercase word tokens, each adding ``+1`` or ``-1`` (by a second hash bit) to bucket
``blake2b(token) mod dimension``, then L2-normalised. Texts that share words get cosine
similarity above 0; the same text always gets the same vector, in every process.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

__all__ = ["HashingEmbedder"]

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    """Deterministic bag-of-words embedder.

    Args:
        dimension: Vector length (64).
        name: Model name used in cache keys (``"test/hashing-<dimension>"``).

    Attributes:
        calls: Number of ``embed_many`` calls; ``texts_embedded``: texts seen in total.
    """

    def __init__(self, dimension: int = 64, name: str | None = None) -> None:
        if dimension <= 0:
            raise ValueError("dimension must be > 0")
        self._dimension = dimension
        self._name = name or f"test/hashing-{dimension}"
        self.calls = 0
        self.texts_embedded = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_one(self, text: str) -> list[float]:
        vec = [0.0] * self._dimension
        for token in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
            h = int.from_bytes(digest, "little")
            vec[h % self._dimension] += 1.0 if (h >> 63) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        if norm == 0.0:
            vec[0] = 1.0
            return vec
        return [v / norm for v in vec]

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        self.texts_embedded += len(texts)
        return [self.embed_one(t) for t in texts]

    async def aembed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed_many` for the async face (pure computation, no I/O)."""
        return self.embed_many(texts)
