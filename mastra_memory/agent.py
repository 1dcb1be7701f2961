"""``Agent``: one model, instructions, tools and (optionally) memory.

One :meth:`Agent.generate` turn:

1. ``memory.prepare_turn`` (an alias of :meth:`~mastra_memory.memory.Memory.load_turn`) resolves
   the configuration once, resolves or creates the thread (ownership checked) and loads history,
   working memory and recalled messages, each once, assembled into a
   :class:`~mastra_memory.context.TurnContext` by :func:`~mastra_memory.context.assemble`;
2. :func:`~mastra_memory.context.build_chat_messages` puts the agent's instructions first, then
   memory's system messages, the history and the new input;
3. the tool loop calls the model, runs the tools it asks for (agent tools plus the tools memory
   adds, e.g. ``update_working_memory``) and calls it again with the results, at most
   ``max_steps`` model calls;
4. ``memory.finish_turn`` saves the new input message(s) and **one** assistant message holding
   every step's parts in order (text, then ``tool-invocation`` parts with ``state="result"``,
   ``args`` and ``result``), in one transaction, as the original stores a turn.

If the model fails, nothing of the turn is saved (and a thread the turn created is removed
again); a tool that raises, an unknown tool name or invalid arguments give the model an error
result instead of failing the turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mastra_memory import history_budget, titles
from mastra_memory.chat import from_chat_messages
from mastra_memory.context import TurnContext, build_chat_messages
from mastra_memory.errors import ConfigurationError, MastraMemoryError, ModelError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.models import resolve_model
from mastra_memory.models.base import ChatModel, ModelResponse, ToolCall, Usage
from mastra_memory.recall_tool import add_recall_tool
from mastra_memory.resend_filter import drop_resent_history
from mastra_memory.tools import Tool, as_tool, result_to_text
from mastra_memory.tracing import model_span
from mastra_memory.types import (
    Message,
    MessageContent,
    Part,
    TextPart,
    Thread,
    ToolInvocationPart,
    new_id,
    validate_id,
)

__all__ = ["Agent", "AgentStream", "GenerateResult"]

logger = logging.getLogger(__name__)

AgentInput = str | Message | Mapping[str, Any] | Sequence[Message | Mapping[str, Any]]
ThreadArg = str | Mapping[str, Any] | Thread | None


class GenerateResult(BaseModel):
    """The outcome of one agent turn.

    Attributes:
        text: The text of the final model step (as the AI SDK's ``result.text``); text the
            model wrote before calling tools is in ``messages`` and ``steps``.
        messages: The new messages of the turn, as saved: the input message(s) without system
            messages, then one assistant message with every step's parts (none if the model
            returned nothing at all).
        usage: Tokens summed over all model steps.
        thread_id: The thread of the turn (``None`` when stateless).
        resource_id: The owning resource (``None`` when stateless).
        steps: Every model step, in order.
        finish_reason: The last step's finish reason, or ``"max_steps"`` when the loop stopped
            at ``max_steps`` with tool calls still pending.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    messages: list[Message]
    usage: Usage = Field(default_factory=Usage)
    thread_id: str | None = None
    resource_id: str | None = None
    steps: list[ModelResponse] = Field(default_factory=list)
    finish_reason: str | None = None


class AgentStream:
    """Iterator over the text deltas of a streamed turn; the :class:`GenerateResult` is
    available as :attr:`result` once the iterator is exhausted.

    The turn runs while you iterate; it is saved when the last delta has been consumed. If you
    stop early (``break`` and :meth:`close`, or leave a ``with`` block), nothing is saved.

    Example::

        stream = agent.stream("Hello", thread="t-1", resource="user-1")
        for delta in stream:
            print(delta, end="", flush=True)
        print(stream.result.usage)
    """

    def __init__(self, gen: Generator[str, None, GenerateResult]) -> None:
        self._gen = gen
        self._result: GenerateResult | None = None
        self._done = False

    def __iter__(self) -> AgentStream:
        return self

    def __next__(self) -> str:
        if self._done:
            raise StopIteration
        try:
            return next(self._gen)
        except StopIteration as stop:
            self._done = True
            self._result = stop.value
            raise
        except BaseException:
            self._done = True
            raise

    @property
    def result(self) -> GenerateResult:
        """The turn's result; consumes the remaining deltas first if needed.

        Raises:
            RuntimeError: if the stream was closed early or failed.
        """
        for _ in self:
            pass
        if self._result is None:
            raise RuntimeError("the stream was closed or failed before the turn finished")
        return self._result

    @property
    def text(self) -> str:
        """Shortcut for ``result.text``."""
        return self.result.text

    def close(self) -> None:
        """Stop the turn without saving it."""
        self._done = True
        self._gen.close()

    def __enter__(self) -> AgentStream:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._result is None:
            self.close()


@dataclass
class _Turn:
    """State of one running turn."""

    thread_id: str | None
    resource_id: str | None
    inputs: list[Message]
    chat: list[dict[str, Any]]
    tools: dict[str, Tool]
    context: TurnContext | None = None
    parts: list[Part] = field(default_factory=list)
    steps: list[ModelResponse] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)

    @property
    def tool_specs(self) -> list[dict[str, Any]] | None:
        return [t.to_openai() for t in self.tools.values()] or None


def _jsonable(value: Any) -> Any:
    """A JSON-storable form of a tool result (pydantic models dumped, others via ``str``)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        try:
            return json.loads(json.dumps(value, default=str, allow_nan=False))
        except (TypeError, ValueError):
            return str(value)


class Agent:
    """An LLM agent with instructions, tools and optional memory.

    Args:
        name: The agent's name (for logs and traces).
        instructions: The system prompt, sent first on every call.
        model: A litellm model string (``"openai/gpt-4o-mini"``, ``"openai/<alias>"`` with
            ``model_settings={"api_base": ...}``), ``"local/smollm2"`` (offline, extra
            ``[local]``), or an object implementing
            :class:`~mastra_memory.models.base.ChatModel` (e.g.
            :class:`~mastra_memory.testing.ScriptedModel`).
        memory: A :class:`~mastra_memory.memory.Memory`; without it the agent is stateless.
        tools: Python functions (their signature and type hints become the JSON schema of
            the arguments) or :class:`~mastra_memory.tools.Tool` objects.
        model_settings: Passed to every model call (litellm: ``temperature``, ``max_tokens``,
            ``api_base``, ``api_key``, ...).
        max_steps: Most model calls per turn (8); the tool loop stops there.

    Raises:
        ConfigurationError: on an invalid model, duplicate tool names or ``max_steps < 1``.
        MissingDependencyError: for ``"local/..."`` models without the ``[local]`` extra.
    """

    def __init__(
        self,
        name: str,
        instructions: str,
        model: str | ChatModel,
        memory: Memory | None = None,
        tools: Sequence[Tool | Any] = (),
        model_settings: dict[str, Any] | None = None,
        max_steps: int = 8,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ConfigurationError("agent name must be a non-empty string")
        if not isinstance(instructions, str):
            raise ConfigurationError("instructions must be a string")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ConfigurationError("max_steps must be an integer >= 1")
        if memory is not None and not isinstance(memory, Memory):
            raise ConfigurationError(f"memory must be a Memory, not {type(memory).__name__}")
        self.name = name
        self.instructions = instructions
        self.model_settings = dict(model_settings or {})
        self.model: ChatModel = resolve_model(model, self.model_settings)
        # A model built from a string holds the settings; an object gets them on every call.
        self._call_settings = {} if isinstance(model, str) else dict(self.model_settings)
        self.memory = memory
        self.max_steps = max_steps
        self.tools: dict[str, Tool] = {}
        for item in tools:
            tool = as_tool(item)
            if tool.name in self.tools:
                raise ConfigurationError(f"duplicate tool name {tool.name!r}")
            self.tools[tool.name] = tool

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, model={getattr(self.model, 'name', self.model)!r})"

    # -- public API ---------------------------------------------------------------------------

    def generate(
        self,
        input: AgentInput,
        thread: ThreadArg = None,
        resource: str | None = None,
        memory_options: Any = None,
    ) -> GenerateResult:
        """Run one turn and return its result.

        Args:
            input: A user message string, a :class:`~mastra_memory.types.Message`, an
                OpenAI-style chat message dict, or a list of either. Send only the new
                message(s): history comes from memory.
            thread: A thread id, or ``{"id", "title", "metadata"}`` used when the thread is
                created. With memory and no thread but a ``resource``, a new thread is made.
            resource: The resource (user) that owns the thread; required with ``thread``
                when the agent has memory.
            memory_options: Per-call overrides of the memory configuration (a
                :class:`~mastra_memory.config.MemoryConfig` or a dict of its fields).

        Raises:
            ValidationError: on bad input, or ``thread`` without ``resource`` with memory.
            ResourceMismatchError: if the thread belongs to another resource.
            ModelError: if the model fails (nothing of the turn is saved).
        """
        turn = self._begin(input, thread, resource)
        try:
            self._prepare(turn, thread, memory_options)
            for step in range(self.max_steps):
                response = self._generate_step(turn)
                if not self._apply_step(turn, response, step):
                    break
            return self._finish(turn)
        except BaseException:
            self._abort(turn)
            raise

    def stream(
        self,
        input: AgentInput,
        thread: ThreadArg = None,
        resource: str | None = None,
        memory_options: Any = None,
    ) -> AgentStream:
        """Run one turn, streaming text deltas.

        Takes the same arguments as :meth:`generate`. Iterate the returned
        :class:`AgentStream` for the text deltas of every step; after the last one the turn is
        saved and ``stream.result`` is the same :class:`GenerateResult` ``generate`` returns.
        Argument errors are raised here; memory, model and storage errors while iterating.
        """
        turn = self._begin(input, thread, resource)
        return AgentStream(self._stream(turn, thread, memory_options))

    # -- the turn -----------------------------------------------------------------------------

    def _stream(self, turn: _Turn, thread: ThreadArg, memory_options: Any) -> Generator[str, None, GenerateResult]:
        try:
            self._prepare(turn, thread, memory_options)
            for step in range(self.max_steps):
                final: ModelResponse | None = None
                try:
                    with model_span(self.model, "agent") as span:
                        for item in self.model.stream(turn.chat, tools=turn.tool_specs, **self._call_settings):
                            if isinstance(item, ModelResponse):
                                final = item
                                span.record(item)
                            elif item:
                                yield item
                except MastraMemoryError:
                    raise
                except Exception as exc:
                    raise self._model_error(exc) from exc
                if final is None:
                    raise ModelError("the model stream ended without a final response")
                if not self._apply_step(turn, final, step):
                    break
            result = self._finish(turn)
        except BaseException:
            self._abort(turn)
            raise
        event = titles.wait_for_event(turn.context)
        if event is not None:
            yield event
        return result

    def _begin(self, input: AgentInput, thread: ThreadArg, resource: str | None) -> _Turn:
        """Validate the arguments and build the input messages (no I/O)."""
        thread_id: str | None = None
        if isinstance(thread, Thread):
            thread_id = thread.id
        elif isinstance(thread, Mapping):
            unknown = set(thread) - {"id", "title", "metadata"}
            if unknown or "id" not in thread:
                raise ValidationError("thread must be an id or a dict with 'id' and optional 'title', 'metadata'")
            thread_id = validate_id(thread["id"], "thread id")
        elif thread is not None:
            thread_id = validate_id(thread, "thread id")
        if resource is not None:
            validate_id(resource, "resource id")
        if self.memory is not None:
            if thread_id is not None and resource is None:
                raise ValidationError("a resource is required when a thread is given to an agent with memory")
            if thread_id is None and resource is not None:
                thread_id = new_id()
        elif thread_id is not None or resource is not None:
            logger.debug("agent %s has no memory: thread/resource are not stored", self.name)
        stateful = self.memory is not None and thread_id is not None
        inputs = self._input_messages(input, thread_id or new_id(), resource if stateful else None)
        return _Turn(
            thread_id=thread_id,
            resource_id=resource if stateful else None,
            inputs=inputs,
            chat=[],
            tools=dict(self.tools),
        )

    @staticmethod
    def _input_messages(input: AgentInput, thread_id: str, resource_id: str | None) -> list[Message]:
        if isinstance(input, str):
            if not input.strip():
                raise ValidationError("input is empty")
            return [Message.user(input, thread_id, resource_id=resource_id)]
        items: list[Any] = [input] if isinstance(input, Message | Mapping) else list(input)
        if not items:
            raise ValidationError("input is empty")
        out: list[Message] = []
        run: list[dict[str, Any]] = []

        def flush() -> None:
            if run:
                out.extend(from_chat_messages(run, thread_id, resource_id))
                run.clear()

        for item in items:
            if isinstance(item, Message):
                flush()
                out.append(item.model_copy(update={"thread_id": thread_id, "resource_id": resource_id}))
            elif isinstance(item, Mapping):
                run.append(dict(item))
            else:
                raise ValidationError(f"input items must be Message or chat message dicts, not {type(item).__name__}")
        flush()
        return out

    def _prepare(self, turn: _Turn, thread: ThreadArg, memory_options: Any) -> None:
        """Load memory (when stateful) and build the chat messages and tool set."""
        if self.memory is not None and turn.thread_id is not None and turn.resource_id is not None:
            title = metadata = None
            if isinstance(thread, Thread):
                title, metadata = thread.title, thread.metadata
            elif isinstance(thread, Mapping):
                title, metadata = thread.get("title"), thread.get("metadata")
            turn.context = self.memory.prepare_turn(
                turn.thread_id, turn.resource_id, turn.inputs, memory_options, title, metadata
            )
            add_recall_tool(self.memory, turn.context)
            for tool in turn.context.tools:
                turn.tools.setdefault(tool.name, tool)
            seen = {m.id for m in turn.context.history}
            turn.inputs = [m for m in turn.inputs if m.id not in seen]
            if not turn.context.config.retain_full_input:
                own = [m for m in turn.context.history if m.thread_id == turn.context.thread.id]
                turn.inputs = drop_resent_history(turn.inputs, own)
            history_budget.apply_budget(self.memory, turn.context, self.instructions, turn.inputs)
        turn.chat = build_chat_messages(self.instructions, turn.context, turn.inputs)

    def _model_error(self, exc: Exception) -> ModelError:
        return ModelError(f"{getattr(self.model, 'name', 'model')}: {exc}")

    def _generate_step(self, turn: _Turn) -> ModelResponse:
        """One model call; provider exceptions become ModelError (library errors pass)."""
        try:
            with model_span(self.model, "agent") as span:
                response = self.model.generate(turn.chat, tools=turn.tool_specs, **self._call_settings)
                if isinstance(response, ModelResponse):
                    span.record(response)
        except MastraMemoryError:
            raise
        except Exception as exc:
            raise self._model_error(exc) from exc
        if not isinstance(response, ModelResponse):
            raise ModelError(f"the model returned {type(response).__name__}, not a ModelResponse")
        return response

    def _apply_step(self, turn: _Turn, response: ModelResponse, step: int) -> bool:
        """Record one model step and run its tool calls; True if the model should go on."""
        turn.steps.append(response)
        turn.usage = turn.usage + response.usage
        if response.text:
            turn.parts.append(TextPart(text=response.text))
        if not response.tool_calls:
            return False
        turn.chat.append(
            {
                "role": "assistant",
                "content": response.text or None,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": json.dumps(c.arguments, ensure_ascii=False),
                        },
                    }
                    for c in response.tool_calls
                ],
            }
        )
        for call in response.tool_calls:
            result = self._run_tool(turn, call)
            turn.parts.append(
                ToolInvocationPart(
                    tool_call_id=call.id,
                    tool_name=call.name,
                    args=call.arguments,
                    result=result,
                    state="result",
                    step=step,
                )
            )
            turn.chat.append({"role": "tool", "tool_call_id": call.id, "content": result_to_text(result)})
        return True

    def _run_tool(self, turn: _Turn, call: ToolCall) -> Any:
        """Run one tool call; failures become an ``{"error": ...}`` result for the model."""
        tool = turn.tools.get(call.name)
        if tool is None:
            logger.info("agent %s: model called unknown tool %r", self.name, call.name)
            return {"error": f"unknown tool {call.name!r}; available tools: {sorted(turn.tools)}"}
        if call.arguments_error:
            return {"error": f"invalid arguments for {call.name!r}: {call.arguments_error}"}
        try:
            return _jsonable(tool.invoke(dict(call.arguments)))
        except ValidationError as exc:
            return {"error": str(exc)}
        except Exception as exc:
            logger.info("agent %s: tool %r raised %r", self.name, call.name, exc)
            return {"error": f"tool {call.name!r} failed: {type(exc).__name__}: {exc}"}

    def _finish(self, turn: _Turn) -> GenerateResult:
        last = turn.steps[-1] if turn.steps else ModelResponse()
        finish_reason = "max_steps" if last.tool_calls else last.finish_reason
        new_messages = list(turn.inputs)
        thread_id = turn.thread_id or (turn.inputs[0].thread_id if turn.inputs else new_id())
        if turn.parts:
            new_messages.append(
                Message(
                    role="assistant",
                    thread_id=thread_id,
                    resource_id=turn.resource_id,
                    content=MessageContent(parts=turn.parts),
                )
            )
        else:
            logger.debug("agent %s: the model returned no text and no tool calls", self.name)
        saved: list[Message] = []
        if self.memory is not None and turn.context is not None:
            saved = self.memory.finish_turn(turn.context, new_messages)
            titles.schedule(self.memory, turn.context, saved, self.model, self._call_settings)
        return GenerateResult(
            text=last.text,
            messages=saved or [m for m in new_messages if m.role != "system"],
            usage=turn.usage,
            thread_id=turn.thread_id,
            resource_id=turn.resource_id,
            steps=turn.steps,
            finish_reason=finish_reason,
        )

    def _abort(self, turn: _Turn) -> None:
        """Undo a thread this failed turn created (only if it is still empty)."""
        ctx = turn.context
        if self.memory is None or ctx is None or not ctx.created_thread:
            return
        try:
            if self.memory.list_messages(ctx.thread.id, per_page=1).total == 0:
                self.memory.delete_thread(ctx.thread.id)
        except Exception:  # pragma: no cover - best effort; the original error matters more
            logger.warning("could not remove thread %r of a failed turn", ctx.thread.id, exc_info=True)
