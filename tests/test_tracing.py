"""OpenTelemetry spans (mastra_memory.tracing) with the real SDK and an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="needs the [otel] extra and opentelemetry-sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mastra_memory import Agent, Memory
from mastra_memory import tracing as mm_tracing
from mastra_memory.errors import ModelError
from mastra_memory.models.base import ModelResponse, Usage
from mastra_memory.testing import HashingEmbedder, ScriptedModel
from storage_adapters.libsql import LibSQLStore, LibSQLVector
from tests.om_support import om_options, reflector_reply, scripted, turn


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    mm_tracing.configure(provider)
    try:
        yield exp
    finally:
        mm_tracing.configure(None)
        provider.shutdown()


def _chat_spans(exp: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exp.get_finished_spans() if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]


def _reply(text: str, prompt: int, completion: int) -> ModelResponse:
    return ModelResponse(
        text=text, usage=Usage(prompt_tokens=prompt, completion_tokens=completion), finish_reason="stop"
    )


def test_one_span_per_model_call_with_token_counts(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    # gpt-4o-mini is in litellm's bundled price table, so the span also carries a cost (priced
    # only once litellm is imported, as it is by any LiteLLMModel call)
    import litellm

    model = ScriptedModel(
        [
            ScriptedModel.tool_call("add", {"a": 2, "b": 3}),
            _reply("It is 5.", 120, 7),
            _reply("Hi Ana.", 90, 4),
        ],
        name="openai/gpt-4o-mini",
    )

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    memory = Memory(storage=LibSQLStore(f"file:{tmp_path}/t.db"))
    agent = Agent("calc", "You add.", model, memory=memory, tools=[add])
    agent.generate("2+3?", thread="t1", resource="ana")
    streamed = "".join(agent.stream("Hello", thread="t1", resource="ana"))
    assert streamed == "Hi Ana."

    spans = _chat_spans(exporter)
    assert len(spans) == len(model.calls) == 3
    first, second, third = (dict(s.attributes or {}) for s in spans)
    assert [s.name for s in spans] == ["chat openai/gpt-4o-mini"] * 3
    assert all(s.kind == SpanKind.CLIENT for s in spans)
    assert first["gen_ai.usage.input_tokens"] == 0 and first["gen_ai.usage.output_tokens"] == 0
    assert second["gen_ai.usage.input_tokens"] == 120 and second["gen_ai.usage.output_tokens"] == 7
    assert third["gen_ai.usage.input_tokens"] == 90 and third["gen_ai.usage.output_tokens"] == 4
    assert second["gen_ai.provider.name"] == "openai" and second["gen_ai.request.model"] == "openai/gpt-4o-mini"
    assert second["gen_ai.response.finish_reasons"] == ("stop",)
    assert second["mastra_memory.caller"] == "agent"
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o-mini", prompt_tokens=120, completion_tokens=7))
    assert second["gen_ai.usage.cost"] == pytest.approx(expected) and expected > 0
    # storage calls are spans too, children of nothing here but named by operation
    ops = {(s.attributes or {}).get("db.operation.name") for s in exporter.get_finished_spans()}
    assert {"save_messages", "list_messages"} <= ops


def test_a_failing_model_call_ends_its_span_with_an_error(exporter: InMemorySpanExporter) -> None:
    model = ScriptedModel([RuntimeError("provider down")], name="openai/gpt-4o-mini")
    agent = Agent("a", "", model)
    with pytest.raises(ModelError):
        agent.generate("hi")
    (span,) = _chat_spans(exporter)
    assert span.status.status_code == StatusCode.ERROR
    assert "provider down" in (span.status.description or "")
    assert "gen_ai.usage.input_tokens" not in (span.attributes or {})


def test_observation_and_reflection_cycles_are_parents_of_their_model_calls(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    observer = scripted()
    reflector = ScriptedModel(default=reflector_reply, name="reflector")
    options = om_options(observer, reflection={"observation_tokens": 60, "model": reflector})
    memory = Memory(storage=LibSQLStore(f"file:{tmp_path}/om.db"), options=options)
    for n in range(10):
        turn(memory, "t1", "r1", n)
    spans = exporter.get_finished_spans()
    by_id = {s.context.span_id: s for s in spans}
    observes = [s for s in spans if s.name == "mastra_memory.observe"]
    reflects = [s for s in spans if s.name == "mastra_memory.reflect"]
    assert observes and reflects
    observer_calls = [s for s in _chat_spans(exporter) if (s.attributes or {})["mastra_memory.caller"] == "observer"]
    reflector_calls = [s for s in _chat_spans(exporter) if (s.attributes or {})["mastra_memory.caller"] == "reflector"]
    assert len(observer_calls) == len(observer.calls) > 0
    assert len(reflector_calls) == len(reflector.calls) > 0

    def ancestors(span: ReadableSpan) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    assert all("mastra_memory.observe" in ancestors(s) for s in observer_calls)
    assert all("mastra_memory.reflect" in ancestors(s) for s in reflector_calls)
    assert all((s.attributes or {})["gen_ai.usage.output_tokens"] > 0 for s in observer_calls)


def test_embedding_spans_only_for_real_model_calls(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    embedder = HashingEmbedder(64)
    memory = Memory(
        storage=LibSQLStore(f"file:{tmp_path}/sr.db"),
        vector=LibSQLVector(f"file:{tmp_path}/sr.db"),
        embedder=embedder,
        options={"last_messages": 2, "semantic_recall": {"top_k": 2, "message_range": 1}},
    )
    agent = Agent("a", "", ScriptedModel(default="ok"), memory=memory)
    agent.generate("my cat is called Tom", thread="t1", resource="r1")
    agent.generate("my cat is called Tom", thread="t1", resource="r1")  # cached texts: fewer calls
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("embeddings ")]
    assert len(spans) == embedder.calls > 0
    assert sum((s.attributes or {})["mastra_memory.embeddings.count"] for s in spans) == embedder.texts_embedded
    assert spans[0].name == "embeddings test/hashing-64"


def test_embedding_spans_carry_the_providers_input_tokens(exporter: InMemorySpanExporter) -> None:
    import asyncio

    from mastra_memory.embedders import LiteLLMEmbedder, resolve_embedder
    from tests.test_async_models import EmbeddingStub  # usage.prompt_tokens = characters sent

    stub = EmbeddingStub()
    try:
        inner = LiteLLMEmbedder("openai/x", api_base=stub.url, api_key="k", batch_size=2, max_retries=0)
        embedder = resolve_embedder(inner, cache=False)
        embedder.embed_many(["ab", "cde", "f"])  # one span, two requests (batch_size 2): 5 + 1 tokens
        asyncio.run(embedder.aembed_many(["ghij"]))
        inner.embed_many(["outside any span"])  # an embedder called directly records nothing
    finally:
        stub.close()
    spans = [s for s in exporter.get_finished_spans() if s.name == "embeddings openai/x"]
    assert [(s.attributes or {})["gen_ai.usage.input_tokens"] for s in spans] == [6, 4]
    assert len(stub.requests) == 5  # the four above and the dimension probe (outside any span)


def test_local_embedder_spans_count_tokens_with_its_tokenizer(exporter: InMemorySpanExporter) -> None:
    from mastra_memory.settings import local_embedder_available

    if not local_embedder_available():
        pytest.skip("needs the [local] extra")
    from mastra_memory.embedders import LocalEmbedder, resolve_embedder

    local = LocalEmbedder(batch_size=2)
    texts = ["hi", "my cat is called Tom and he sleeps all day", "tokens"]
    resolve_embedder(local, cache=False).embed_many(texts)
    # each text encoded alone has no padding: its attention mask counts its word pieces
    expected = sum(sum(local._tokenizer.encode(t).attention_mask) for t in texts)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "embeddings local/all-minilm-l6-v2"]
    assert (span.attributes or {})["gen_ai.usage.input_tokens"] == expected > len(texts) * 2


def test_off_without_a_provider_records_nothing_and_returns_the_same(tmp_path: Path) -> None:
    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    # a provider exists but is neither global nor configured for mastra-memory: tracing is off
    assert mm_tracing._tracer() is None
    agent = Agent("a", "", ScriptedModel(default="ok"), memory=Memory(storage=LibSQLStore(f"file:{tmp_path}/o.db")))
    assert agent.generate("hi", thread="t", resource="r").text == "ok"
    assert exp.get_finished_spans() == ()
    assert mm_tracing.model_span(object(), "agent") is mm_tracing._OFF


def test_the_global_provider_turns_tracing_on(monkeypatch: pytest.MonkeyPatch) -> None:
    import opentelemetry.trace as otel_trace

    exp = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exp))
    monkeypatch.setattr(otel_trace, "get_tracer_provider", lambda: provider)
    Agent("a", "", ScriptedModel(default="ok")).generate("hi")
    assert len(_chat_spans(exp)) == 1
