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

``await agent.agenerate(...)`` and ``agent.astream(...)`` run the same turn on the async face
(with an :class:`~mastra_memory.memory_async.AsyncMemory`): the loop is written once, in
``agent_loop_async.py``, and ``agent_loop.py`` is generated from it.
"""

from __future__ import annotations

from mastra_memory.agent_base import AgentBase, AgentStream, AsyncAgentStream, GenerateResult
from mastra_memory.agent_loop import TurnLoop
from mastra_memory.agent_loop_async import AsyncTurnLoop

__all__ = ["Agent", "AgentStream", "AsyncAgentStream", "GenerateResult"]


class Agent(TurnLoop, AsyncTurnLoop, AgentBase):
    """An LLM agent with instructions, tools and optional memory.

    ``generate``/``stream`` run a turn with a :class:`~mastra_memory.memory.Memory`;
    ``agenerate``/``astream`` run the same turn on the event loop with an
    :class:`~mastra_memory.memory_async.AsyncMemory` (or without memory on either face).

    Args:
        name: The agent's name (for logs and traces).
        instructions: The system prompt, sent first on every call.
        model: A litellm model string (``"openai/gpt-4o-mini"``, ``"openai/<alias>"`` with
            ``model_settings={"api_base": ...}``), ``"local/smollm2"`` (offline, extra
            ``[local]``), or an object implementing
            :class:`~mastra_memory.models.base.ChatModel` (e.g.
            :class:`~mastra_memory.testing.ScriptedModel`).
        memory: A :class:`~mastra_memory.memory.Memory` or an
            :class:`~mastra_memory.memory_async.AsyncMemory`; without it the agent is stateless.
        tools: Python functions or coroutine functions (their signature and type hints become
            the JSON schema of the arguments) or :class:`~mastra_memory.tools.Tool` objects.
        model_settings: Passed to every model call (litellm: ``temperature``, ``max_tokens``,
            ``api_base``, ``api_key``, ...).
        max_steps: Most model calls per turn (8); the tool loop stops there.

    Raises:
        ConfigurationError: on an invalid model, duplicate tool names or ``max_steps < 1``;
            when a turn is run on the other face than the memory's (``generate`` with an
            ``AsyncMemory``, ``agenerate`` with a ``Memory``).
        MissingDependencyError: for ``"local/..."`` models without the ``[local]`` extra.
    """
