"""The turn loop of :class:`~mastra_memory.agent.Agent`, written once: ``agent_loop.py`` (the
sync ``generate``/``stream``) is generated from this module (``agenerate``/``astream``) by
``scripts/gen_sync.py``. The I/O-free parts of the agent (arguments, input messages, the
stream wrappers) live in :mod:`mastra_memory.agent`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from mastra_memory import _io_async as _io
from mastra_memory import history_budget_async as history_budget
from mastra_memory import titles_async as titles
from mastra_memory.agent_base import (
    AgentBase,
    AgentInput,
    AsyncAgentStream,
    GenerateResult,
    ThreadArg,
    _jsonable,
    _Turn,
)
from mastra_memory.context import build_chat_messages
from mastra_memory.errors import MastraMemoryError, ModelError, ValidationError
from mastra_memory.memory_async import AsyncMemory
from mastra_memory.models.base import ModelResponse, ToolCall
from mastra_memory.recall_tool_async import add_recall_tool
from mastra_memory.resend_filter import drop_resent_history
from mastra_memory.tools import result_to_text
from mastra_memory.tracing import model_span
from mastra_memory.types import Message, MessageContent, TextPart, Thread, ToolInvocationPart, new_id

__all__ = ["AsyncTurnLoop"]

logger = logging.getLogger(__name__)


class AsyncTurnLoop(AgentBase):
    """The agent's turn: load memory, call the model and tools, save the turn."""

    @property
    def _amemory(self) -> AsyncMemory | None:
        """The agent's memory when it is of this face (``_begin`` refuses the other face)."""
        return self.memory if isinstance(self.memory, AsyncMemory) else None

    async def agenerate(
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
        turn = self._begin(input, thread, resource, _io.IS_ASYNC)
        try:
            await self._aprepare(turn, thread, memory_options)
            for step in range(self.max_steps):
                response = await self._agenerate_step(turn)
                if not await self._aapply_step(turn, response, step):
                    break
            return await self._afinish(turn)
        except BaseException:
            await self._aabort(turn)
            raise

    def astream(
        self,
        input: AgentInput,
        thread: ThreadArg = None,
        resource: str | None = None,
        memory_options: Any = None,
    ) -> AsyncAgentStream:
        """Run one turn, streaming text deltas.

        Takes the same arguments as :meth:`generate`. Iterate the returned
        :class:`AgentStream` for the text deltas of every step; after the last one the turn is
        saved and ``stream.result`` is the same :class:`GenerateResult` ``generate`` returns.
        Argument errors are raised here; memory, model and storage errors while iterating.
        """
        turn = self._begin(input, thread, resource, _io.IS_ASYNC)
        return AsyncAgentStream(self._astream_turn(turn, thread, memory_options), turn)

    # -- the turn -----------------------------------------------------------------------------

    async def _astream_turn(self, turn: _Turn, thread: ThreadArg, memory_options: Any) -> AsyncIterator[str]:
        """The turn of :meth:`astream`: yields the text deltas, leaves the result in ``turn.result``."""
        try:
            await self._aprepare(turn, thread, memory_options)
            for step in range(self.max_steps):
                final: ModelResponse | None = None
                try:
                    with model_span(self.model, "agent") as span:
                        async for item in _io.stream(
                            self.model, turn.chat, tools=turn.tool_specs, **self._call_settings
                        ):
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
                if not await self._aapply_step(turn, final, step):
                    break
            turn.result = await self._afinish(turn)
        except BaseException:
            await self._aabort(turn)
            raise
        memory = self._amemory
        if memory is not None:
            event = await titles.wait_for_event(memory, turn.context)
            if event is not None:
                yield event

    async def _aprepare(self, turn: _Turn, thread: ThreadArg, memory_options: Any) -> None:
        """Load memory (when stateful) and build the chat messages and tool set."""
        memory = self._amemory
        if memory is not None and turn.thread_id is not None and turn.resource_id is not None:
            title = metadata = None
            if isinstance(thread, Thread):
                title, metadata = thread.title, thread.metadata
            elif isinstance(thread, Mapping):
                title, metadata = thread.get("title"), thread.get("metadata")
            context = turn.context = await memory.prepare_turn(
                turn.thread_id, turn.resource_id, turn.inputs, memory_options, title, metadata
            )
            add_recall_tool(memory, context)
            for tool in context.tools:
                turn.tools.setdefault(tool.name, tool)
            seen = {m.id for m in context.history}
            turn.inputs = [m for m in turn.inputs if m.id not in seen]
            if not context.config.retain_full_input:
                own = [m for m in context.history if m.thread_id == context.thread.id]
                turn.inputs = drop_resent_history(turn.inputs, own)
            await history_budget.apply_budget(memory, context, self.instructions, turn.inputs)
        turn.chat = build_chat_messages(self.instructions, turn.context, turn.inputs)

    async def _agenerate_step(self, turn: _Turn) -> ModelResponse:
        """One model call; provider exceptions become ModelError (library errors pass)."""
        try:
            with model_span(self.model, "agent") as span:
                response = await _io.generate(self.model, turn.chat, tools=turn.tool_specs, **self._call_settings)
                if isinstance(response, ModelResponse):
                    span.record(response)
        except MastraMemoryError:
            raise
        except Exception as exc:
            raise self._model_error(exc) from exc
        if not isinstance(response, ModelResponse):
            raise ModelError(f"the model returned {type(response).__name__}, not a ModelResponse")
        return response

    async def _aapply_step(self, turn: _Turn, response: ModelResponse, step: int) -> bool:
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
            result = await self._arun_tool(turn, call)
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

    async def _arun_tool(self, turn: _Turn, call: ToolCall) -> Any:
        """Run one tool call; failures become an ``{"error": ...}`` result for the model."""
        tool = turn.tools.get(call.name)
        if tool is None:
            logger.info("agent %s: model called unknown tool %r", self.name, call.name)
            return {"error": f"unknown tool {call.name!r}; available tools: {sorted(turn.tools)}"}
        if call.arguments_error:
            return {"error": f"invalid arguments for {call.name!r}: {call.arguments_error}"}
        try:
            return _jsonable(await _io.invoke(tool, dict(call.arguments)))
        except ValidationError as exc:
            return {"error": str(exc)}
        except Exception as exc:
            logger.info("agent %s: tool %r raised %r", self.name, call.name, exc)
            return {"error": f"tool {call.name!r} failed: {type(exc).__name__}: {exc}"}

    async def _afinish(self, turn: _Turn) -> GenerateResult:
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
        memory = self._amemory
        if memory is not None and turn.context is not None:
            saved = await memory.finish_turn(turn.context, new_messages)
            await titles.schedule(memory, turn.context, saved, self.model, self._call_settings)
        return GenerateResult(
            text=last.text,
            messages=saved or [m for m in new_messages if m.role != "system"],
            usage=turn.usage,
            thread_id=turn.thread_id,
            resource_id=turn.resource_id,
            steps=turn.steps,
            finish_reason=finish_reason,
        )

    async def _aabort(self, turn: _Turn) -> None:
        """Undo a thread this failed turn created (only if it is still empty)."""
        ctx, memory = turn.context, self._amemory
        if memory is None or ctx is None or not ctx.created_thread:
            return
        try:
            if (await memory.list_messages(ctx.thread.id, per_page=1)).total == 0:
                await memory.delete_thread(ctx.thread.id)
        except Exception:  # pragma: no cover - best effort; the original error matters more
            logger.warning("could not remove thread %r of a failed turn", ctx.thread.id, exc_info=True)
