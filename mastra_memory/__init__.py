"""mastra-memory: conversational memory for LLM agents.

Threads, resources, message history, working memory, semantic recall and observational memory
over pluggable storage (embedded libSQL by default), modelled on Mastra's ``@mastra/memory``.

Quick start::

    from mastra_memory import Agent, Memory

    memory = Memory()  # LibSQLStore("file:./mastra.db"), last_messages=10
    agent = Agent(name="assistant", instructions="You are helpful.", model="local/smollm2", memory=memory)
    reply = agent.generate("My name is Ana.", thread="t-1", resource="user-ana")
"""

from __future__ import annotations

import os as _os

# litellm fetches a model cost map from the internet at import unless told otherwise; respect a
# user's own setting (see docs/configuration.md).
_os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from mastra_memory.agent import Agent, AgentStream, AsyncAgentStream, GenerateResult
from mastra_memory.chat import from_chat_messages, to_chat_messages
from mastra_memory.config import (
    MemoryConfig,
    ObservationalMemoryConfig,
    SemanticRecallConfig,
    WorkingMemoryConfig,
)
from mastra_memory.errors import (
    AccessDeniedError,
    ConcurrencyError,
    ConfigurationError,
    MastraMemoryError,
    MessageIdUnavailableError,
    MissingDependencyError,
    ModelError,
    QuotaExceededError,
    ResourceMismatchError,
    StorageError,
    ThreadConflictError,
    ThreadExistsError,
    ThreadNotFoundError,
    ValidationError,
)
from mastra_memory.kv import KVMemory
from mastra_memory.kv_async import AsyncKVMemory
from mastra_memory.memory import Memory
from mastra_memory.memory_async import AsyncMemory
from mastra_memory.storage.records import ObservationalMemoryRecord
from mastra_memory.summarize import summarize_conversation
from mastra_memory.title_text import ThreadTitleEvent
from mastra_memory.types import (
    CloneResult,
    FilePart,
    Message,
    MessageContent,
    ReasoningPart,
    RecallResult,
    Resource,
    TextPart,
    Thread,
    ThreadPage,
    ToolInvocationPart,
)

__version__ = "0.1.0"

__all__ = [
    "AccessDeniedError",
    "Agent",
    "AgentStream",
    "AsyncAgentStream",
    "AsyncKVMemory",
    "AsyncMemory",
    "CloneResult",
    "ConcurrencyError",
    "ConfigurationError",
    "FilePart",
    "GenerateResult",
    "KVMemory",
    "MastraMemoryError",
    "Memory",
    "MemoryConfig",
    "Message",
    "MessageContent",
    "MessageIdUnavailableError",
    "MissingDependencyError",
    "ModelError",
    "ObservationalMemoryConfig",
    "ObservationalMemoryRecord",
    "QuotaExceededError",
    "ReasoningPart",
    "RecallResult",
    "Resource",
    "ResourceMismatchError",
    "SemanticRecallConfig",
    "StorageError",
    "TextPart",
    "Thread",
    "ThreadConflictError",
    "ThreadExistsError",
    "ThreadNotFoundError",
    "ThreadPage",
    "ThreadTitleEvent",
    "ToolInvocationPart",
    "ValidationError",
    "WorkingMemoryConfig",
    "from_chat_messages",
    "summarize_conversation",
    "to_chat_messages",
]
