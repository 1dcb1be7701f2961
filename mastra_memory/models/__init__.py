"""Chat models: the protocol (:mod:`.base`), litellm, the offline llama.cpp default, and
:func:`resolve_model` that turns a model string into a model object."""

from __future__ import annotations

from typing import Any

from mastra_memory.errors import ConfigurationError
from mastra_memory.models.base import ChatModel, ModelResponse, ToolCall, Usage

__all__ = ["ChatModel", "ModelResponse", "ToolCall", "Usage", "resolve_model"]

LOCAL_PREFIX = "local/"


def resolve_model(model: Any, model_settings: dict[str, Any] | None = None) -> ChatModel:
    """Return a :class:`ChatModel` for ``model``.

    Args:
        model: A model object implementing :class:`ChatModel` (returned as is); ``"local/<name>"``
            for an offline llama.cpp model (``"local/smollm2"``, extra ``[local]``); any other
            string is a litellm model (``"openai/gpt-4o-mini"``, ``"openai/<alias>"``, ...).
        model_settings: Defaults for every call of a model built from a string (temperature,
            max_tokens, api_base, api_key, ...; for local models also ``n_threads``, ``n_ctx``
            and ``model_path``). Ignored for model objects.

    Raises:
        ConfigurationError: for an unknown local model name or a value that is not a model.
        MissingDependencyError: for a local model without the ``[local]`` extra.
    """
    settings = dict(model_settings or {})
    if isinstance(model, str):
        name = model.strip()
        if not name:
            raise ConfigurationError("model must be a non-empty string or a model object")
        if name.startswith(LOCAL_PREFIX):
            from mastra_memory.models.local import LOCAL_MODELS, LocalLlamaModel

            local = name[len(LOCAL_PREFIX) :]
            if local not in LOCAL_MODELS:
                raise ConfigurationError(
                    f"unknown local model {name!r}; known: " + ", ".join(LOCAL_PREFIX + n for n in sorted(LOCAL_MODELS))
                )
            return LocalLlamaModel(local, **settings)
        from mastra_memory.models.litellm_model import LiteLLMModel

        return LiteLLMModel(name, **settings)
    if isinstance(model, ChatModel):
        return model
    raise ConfigurationError(
        f"model must be a model string or an object with generate() and stream(), not {type(model).__name__}"
    )
