"""The embedder seam: a small protocol, an LRU embedding cache and the caching wrapper.

An embedder turns texts into fixed-length float vectors. Anything with ``name``, ``dimension``
and ``embed_many(texts)`` is one (see :class:`Embedder`); the built-in ones are
:class:`~mastra_memory.embedders.litellm.LiteLLMEmbedder` (any litellm provider) and
:class:`~mastra_memory.embedders.local.LocalEmbedder` (offline ONNX MiniLM).

:class:`CachedEmbedder` puts an :class:`EmbeddingCache` in front of any embedder so the same
text is never embedded twice by the same model (the original keeps a process-global LRU for the
same reason, after issue #11455). The cache key is BLAKE2b-128 of ``model name + NUL + text``;
entries live in memory (LRU, 10,000 by default, about 15 MB at 384 floats) and optionally in a
SQLite file that survives restarts and is shared by processes.

The async face: an embedder may also have ``async def aembed_many(texts)`` (optional; without it
the async API runs ``embed_many`` in a worker thread). :meth:`CachedEmbedder.aembed_many` looks
the cache up once and sends only the misses to the inner embedder's ``aembed_many`` (or its
``embed_many`` in a worker thread).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from mastra_memory import _io_async
from mastra_memory.errors import ModelError, ValidationError
from mastra_memory.tracing import embedding_span

__all__ = ["CachedEmbedder", "Embedder", "EmbeddingCache", "ProbedDimension", "cache_key", "default_cache"]

logger = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """What semantic recall needs from an embedding model.

    Attributes:
        name: Model identifier (part of the cache key; e.g. ``"openai/text-embedding-3-small"``).
        dimension: Length of every vector (e.g. 384, 1536).
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts, returning one vector per text in input order."""
        ...

    # Optional, not part of the runtime check: ``async def aembed_many(texts)`` with the same
    # result, used by the async face when present.


class ProbedDimension:
    """``dimension`` learnt, when not given, from one embedding of ``"a"`` on first use
    (thread-safe, once). A subclass sets ``_dimension`` (``None``: probe) and ``_lock`` and
    implements :meth:`_probe`."""

    _dimension: int | None
    _lock: threading.Lock

    def _probe(self, texts: list[str]) -> list[list[float]]:
        raise NotImplementedError

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            with self._lock:
                if self._dimension is None:
                    self._dimension = len(self._probe(["a"])[0])
        return self._dimension


def cache_key(model: str, text: str) -> bytes:
    """BLAKE2b-128 of ``model NUL text`` (16 bytes)."""
    return hashlib.blake2b(f"{model}\x00{text}".encode(), digest_size=16).digest()


class EmbeddingCache:
    """An LRU of embeddings keyed by :func:`cache_key`, optionally backed by a SQLite file.

    Args:
        max_entries: In-memory entries kept (10,000); the file, if any, keeps everything.
        path: Optional SQLite file for a persistent cache shared across processes.

    Thread-safe.
    """

    def __init__(self, max_entries: int = 10_000, path: str | Path | None = None) -> None:
        if max_entries < 0:
            raise ValidationError("max_entries must be >= 0")
        self.max_entries = max_entries
        self._lru: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        if path is not None:
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS embedding_cache (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")
            self._db.commit()

    def __len__(self) -> int:
        return len(self._lru)

    def _remember(self, key: bytes, vec: np.ndarray) -> None:
        self._lru[key] = vec
        self._lru.move_to_end(key)
        while len(self._lru) > self.max_entries:
            self._lru.popitem(last=False)

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """Return the cached vectors of ``keys`` that are present."""
        found: dict[bytes, np.ndarray] = {}
        with self._lock:
            for k in keys:
                vec = self._lru.get(k)
                if vec is not None:
                    self._lru.move_to_end(k)
                    found[k] = vec
            missing = [k for k in keys if k not in found]
            if missing and self._db is not None:
                for i in range(0, len(missing), 500):
                    chunk = missing[i : i + 500]
                    marks = ",".join("?" for _ in chunk)
                    for k, blob in self._db.execute(
                        f"SELECT key, vector FROM embedding_cache WHERE key IN ({marks})", chunk
                    ):
                        vec = np.frombuffer(blob, dtype="<f4")
                        found[bytes(k)] = vec
                        self._remember(bytes(k), vec)
        return found

    def put_many(self, items: dict[bytes, np.ndarray]) -> None:
        """Store vectors (float32)."""
        with self._lock:
            for k, v in items.items():
                self._remember(k, v)
            if self._db is not None and items:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embedding_cache (key, vector) VALUES (?, ?)",
                    [(k, np.asarray(v, dtype="<f4").tobytes()) for k, v in items.items()],
                )
                self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


_DEFAULT_CACHE: EmbeddingCache | None = None
_DEFAULT_LOCK = threading.Lock()


def default_cache() -> EmbeddingCache:
    """The process-global in-memory cache (10,000 entries) shared by resolved embedders."""
    global _DEFAULT_CACHE
    with _DEFAULT_LOCK:
        if _DEFAULT_CACHE is None:
            _DEFAULT_CACHE = EmbeddingCache()
        return _DEFAULT_CACHE


class CachedEmbedder:
    """Wraps an embedder with an :class:`EmbeddingCache`, batching and de-duplication.

    Args:
        inner: The embedder doing the work.
        cache: The cache (default: the process-global one).
        batch_size: Texts per call to ``inner.embed_many`` (64).

    Attributes:
        hits: Texts served from the cache so far.
        misses: Texts sent to the model so far.
    """

    def __init__(self, inner: Embedder, cache: EmbeddingCache | None = None, batch_size: int = 64) -> None:
        if batch_size <= 0:
            raise ValidationError("batch_size must be > 0")
        self.inner = inner
        self.cache = cache if cache is not None else default_cache()
        self.batch_size = batch_size
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_input_chars(self) -> int | None:
        """The inner embedder's input limit in characters, if it declares one."""
        return getattr(self.inner, "max_input_chars", None)

    def _plan(self, texts: Sequence[str]) -> tuple[list[bytes], dict[bytes, np.ndarray], list[list[tuple[bytes, str]]]]:
        """Look the cache up once: the keys of ``texts``, the vectors found, and the batches of
        distinct misses to embed."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValidationError("embed_many expects a list of strings")
        keys = [cache_key(self.name, t) for t in texts]
        found = self.cache.get_many(keys)
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in found and k not in todo:
                todo[k] = t
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        pending = list(todo.items())
        return keys, found, [pending[i : i + self.batch_size] for i in range(0, len(pending), self.batch_size)]

    def _accept(
        self, batch: list[tuple[bytes, str]], vectors: list[list[float]], fresh: dict[bytes, np.ndarray]
    ) -> None:
        """Check one batch's vectors (count and shape) and add them to ``fresh``."""
        if len(vectors) != len(batch):
            raise ModelError(f"{self.name} returned {len(vectors)} vectors for {len(batch)} texts")
        for (k, _), vec in zip(batch, vectors, strict=True):
            arr = np.asarray(vec, dtype=np.float32)
            if arr.shape != (self.dimension,):
                raise ModelError(f"{self.name} returned a vector of shape {arr.shape}, expected ({self.dimension},)")
            fresh[k] = arr

    def _finish(
        self, keys: list[bytes], found: dict[bytes, np.ndarray], fresh: dict[bytes, np.ndarray]
    ) -> list[list[float]]:
        if fresh:
            self.cache.put_many(fresh)
            found.update(fresh)
        return [found[k].tolist() for k in keys]

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed ``texts``; cached texts and repeats within the call are embedded once.

        Raises:
            ValidationError: if ``texts`` is not a list of strings.
            ModelError: if the model fails or returns vectors of the wrong shape.
        """
        keys, found, batches = self._plan(texts)
        fresh: dict[bytes, np.ndarray] = {}
        for batch in batches:
            with embedding_span(self.name, len(batch)):
                vectors = self.inner.embed_many([t for _, t in batch])
            self._accept(batch, vectors, fresh)
        return self._finish(keys, found, fresh)

    async def aembed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed_many` for the async face: the misses go to the inner embedder's
        ``aembed_many`` (or its ``embed_many`` in a worker thread); a cache with a SQLite file is
        read and written in a worker thread.

        Raises:
            ValidationError: if ``texts`` is not a list of strings.
            ModelError: if the model fails or returns vectors of the wrong shape.
        """
        on_disk = self.cache._db is not None  # a SQLite file: its reads and writes go to a thread
        keys, found, batches = await _io_async.run_blocking(self._plan, texts) if on_disk else self._plan(texts)
        fresh: dict[bytes, np.ndarray] = {}
        for batch in batches:
            with embedding_span(self.name, len(batch)):
                vectors = await _io_async.embed_many(self.inner, [t for _, t in batch])
            if self._dimension_unknown():
                # a lazily probed dimension would block the loop on a model call
                await _io_async.run_blocking(lambda: self.dimension)
            self._accept(batch, vectors, fresh)
        if on_disk:
            return await _io_async.run_blocking(self._finish, keys, found, fresh)
        return self._finish(keys, found, fresh)

    def _dimension_unknown(self) -> bool:
        """True when the inner embedder would probe its dimension with a model call."""
        return isinstance(self.inner, ProbedDimension) and self.inner._dimension is None
