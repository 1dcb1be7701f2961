"""Chat models: the protocol (:mod:`.base`), litellm, the offline llama.cpp default, and
:func:`resolve_model` that turns a model string into a model object."""

from __future__ import annotations

from mastra_memory.models.base import ChatModel, ModelResponse, ToolCall, Usage

__all__ = ["ChatModel", "ModelResponse", "ToolCall", "Usage"]
