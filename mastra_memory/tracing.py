"""Optional OpenTelemetry spans: what memory did and what its model calls cost.

Off unless a tracer provider is configured, either globally by the application
(``opentelemetry.trace.set_tracer_provider(...)``, the usual OpenTelemetry setup) or for
mastra-memory alone with :func:`configure`. Off costs one dictionary lookup per traced call:
``opentelemetry`` is never imported by this module; it is looked up in ``sys.modules``, where an
application that configured tracing has already put it. Install the API with
``pip install "mastra-memory[otel]"`` (an SDK and an exporter come from the application).

Spans (names and attributes follow the OpenTelemetry GenAI and database semantic conventions):

* ``chat {model}`` (kind CLIENT), one per model call of the agent, the Observer and the
  Reflector: ``gen_ai.operation.name`` ``"chat"``, ``gen_ai.provider.name`` (the litellm
  prefix, e.g. ``"openai"``), ``gen_ai.request.model``, ``gen_ai.usage.input_tokens``,
  ``gen_ai.usage.output_tokens``, ``gen_ai.response.finish_reasons``, and
  ``gen_ai.usage.cost`` in USD when litellm's price table knows the model (the conventions have
  no cost attribute yet; this is the name Langfuse and OpenLIT read).
  ``mastra_memory.caller`` says who called: ``"agent"``, ``"observer"`` or ``"reflector"``.
* ``embeddings {model}`` (kind CLIENT), one per batch actually sent to the embedding model
  (cache hits make no call): ``gen_ai.operation.name`` ``"embeddings"``,
  ``gen_ai.request.model``, ``mastra_memory.embeddings.count`` (texts in the batch) and
  ``gen_ai.usage.input_tokens`` when the embedder reports it (litellm: the provider's
  ``usage.prompt_tokens``; the local ONNX embedder: the tokens its tokenizer fed the model,
  padding excluded; an embedder reports through :func:`record_embedding_tokens`).
* ``{operation} mastra_memory`` (kind CLIENT), one per public storage call
  (``save_messages``, ``list_messages``, ``kv_get``, ...): ``db.operation.name`` and
  ``db.system.name`` (the store class, e.g. ``"LibSQLStore"``).
* ``mastra_memory.observe`` / ``mastra_memory.reflect`` (kind INTERNAL), one per observational
  memory cycle, parents of that cycle's model and storage spans.

A failing call ends its span with status ERROR and the exception recorded; tracing never
changes what a call returns or raises.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = [
    "configure",
    "embedding_span",
    "model_cost",
    "model_span",
    "record_embedding_tokens",
    "trace_methods",
    "traced",
]

F = TypeVar("F", bound=Callable[..., Any])

_INSTRUMENTATION = "mastra_memory"
_provider: Any = None
_cache: tuple[Any, Any] | None = None


def configure(tracer_provider: Any = None) -> None:
    """Trace mastra-memory with ``tracer_provider`` whatever the global provider is.

    Args:
        tracer_provider: An ``opentelemetry.trace.TracerProvider`` (e.g. the SDK's, with an
            exporter), or ``None`` to go back to the global provider (tracing stays off while
            that is OpenTelemetry's default no-op proxy).
    """
    global _provider, _cache
    _provider = tracer_provider
    _cache = None


def _tracer() -> Any:
    """The tracer to use, or ``None`` when tracing is off (the fast path)."""
    global _cache
    provider = _provider
    if provider is None:
        trace = sys.modules.get("opentelemetry.trace")
        if trace is None:
            return None
        provider = trace.get_tracer_provider()
        if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
            return None
    cached = _cache
    if cached is not None and cached[0] is provider:
        return cached[1]
    tracer = provider.get_tracer(_INSTRUMENTATION, _version())
    _cache = (provider, tracer)
    return tracer


def _version() -> str | None:
    # not ``mastra_memory.__version__``: this module sits below the storage contract (import-linter)
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mastra-memory")
    except PackageNotFoundError:
        return None


def _span_kind(name: str) -> Any:
    return getattr(sys.modules["opentelemetry.trace"].SpanKind, name)


def _fail(span: Any, exc: BaseException) -> None:
    trace = sys.modules["opentelemetry.trace"]
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute("error.type", type(exc).__qualname__)


class _Off:
    """The shared do-nothing span of the off path."""

    def __enter__(self) -> _Off:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def record(self, response: Any) -> None:
        """No-op."""


_OFF = _Off()


def model_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD cost from litellm's local price table, else None: only when litellm is imported
    already (its import takes seconds, which would block an event loop, for a model it would not
    price anyway) and knows the model. litellm's "Provider List" hint on an unknown model is
    silenced (it printed to the application's stdout)."""
    litellm: Any = sys.modules.get("litellm")
    if litellm is None:
        return None
    litellm.suppress_debug_info = True
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # a model litellm has no price for
        return None
    return float(prompt_cost) + float(completion_cost)


class _ModelSpan:
    """A ``chat {model}`` span; not made current, so it can stay open across a stream's yields."""

    def __init__(self, tracer: Any, model: Any, caller: str) -> None:
        self.model_name = str(getattr(model, "name", None) or type(model).__name__)
        provider, _, _ = self.model_name.partition("/")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": self.model_name,
            "mastra_memory.caller": caller,
        }
        if "/" in self.model_name:
            attributes["gen_ai.provider.name"] = provider
        self.span = tracer.start_span(f"chat {self.model_name}", kind=_span_kind("CLIENT"), attributes=attributes)

    def __enter__(self) -> _ModelSpan:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            _fail(self.span, exc)
        self.span.end()

    def record(self, response: Any) -> None:
        """Put a :class:`~mastra_memory.models.base.ModelResponse`'s token usage, finish reason
        and cost on the span (typed ``Any``: this module sits below the model layer)."""
        usage = response.usage
        self.span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        self.span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        if response.finish_reason:
            self.span.set_attribute("gen_ai.response.finish_reasons", [response.finish_reason])
        cost = model_cost(self.model_name, usage.prompt_tokens, usage.completion_tokens)
        if cost is not None:
            self.span.set_attribute("gen_ai.usage.cost", cost)


def model_span(model: Any, caller: str) -> _ModelSpan | _Off:
    """A context manager around one model call; call ``.record(response)`` inside it.

    Args:
        model: The chat model (its ``name``, e.g. ``"openai/gpt-4o-mini"``, names the span).
        caller: ``"agent"``, ``"observer"`` or ``"reflector"``.

    Returns:
        A span context manager, or a shared no-op one when tracing is off.
    """
    tracer = _tracer()
    if tracer is None:
        return _OFF
    return _ModelSpan(tracer, model, caller)


_current_embedding: ContextVar[_EmbeddingSpan | None] = ContextVar("mastra_embedding_span", default=None)
"""The embedding span open in this context (a worker thread started by ``asyncio.to_thread``
inherits it), which :func:`record_embedding_tokens` adds to."""


class _EmbeddingSpan:
    def __init__(self, tracer: Any, model_name: str, count: int) -> None:
        self.input_tokens = 0
        self._token: Any = None
        self.span = tracer.start_span(
            f"embeddings {model_name}",
            kind=_span_kind("CLIENT"),
            attributes={
                "gen_ai.operation.name": "embeddings",
                "gen_ai.request.model": model_name,
                "mastra_memory.embeddings.count": count,
            },
        )

    def __enter__(self) -> _EmbeddingSpan:
        self._token = _current_embedding.set(self)
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        _current_embedding.reset(self._token)
        if exc is not None:
            _fail(self.span, exc)
        self.span.end()

    def add_tokens(self, input_tokens: int) -> None:
        self.input_tokens += input_tokens
        self.span.set_attribute("gen_ai.usage.input_tokens", self.input_tokens)


def record_embedding_tokens(input_tokens: int | None) -> None:
    """Add ``input_tokens`` (the tokens one request of an embedder consumed) to the embedding
    span open in this context; nothing when tracing is off, no span is open, or the count is
    unknown (``None``). An embedder calls it once per request; a span covering several requests
    carries their sum.

    Args:
        input_tokens: Tokens of the request, or ``None`` when the provider did not say.
    """
    current = _current_embedding.get()
    if current is not None and input_tokens is not None:
        current.add_tokens(int(input_tokens))


def embedding_span(model_name: str, count: int) -> _EmbeddingSpan | _Off:
    """A context manager around one embedding-model call of ``count`` texts."""
    tracer = _tracer()
    if tracer is None:
        return _OFF
    return _EmbeddingSpan(tracer, model_name, count)


def traced(span_name: str) -> Callable[[F], F]:
    """Decorate a function so each call is an INTERNAL span named ``span_name`` (made current).

    A coroutine function gets a coroutine wrapper: the span covers the awaited call.
    """

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                tracer = _tracer()
                if tracer is None:
                    return await fn(*args, **kwargs)
                with tracer.start_as_current_span(span_name, record_exception=True, set_status_on_exception=True):
                    return await fn(*args, **kwargs)

            awrapper.__mastra_traced__ = True  # type: ignore[attr-defined]
            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracer = _tracer()
            if tracer is None:
                return fn(*args, **kwargs)
            with tracer.start_as_current_span(span_name, record_exception=True, set_status_on_exception=True):
                return fn(*args, **kwargs)

        wrapper.__mastra_traced__ = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _storage_wrapper(operation: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):
        return _async_storage_wrapper(operation, fn)

    @functools.wraps(fn)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = _tracer()
        if tracer is None:
            return fn(self, *args, **kwargs)
        attributes = {"db.operation.name": operation, "db.system.name": type(self).__name__}
        with tracer.start_as_current_span(
            f"{operation} mastra_memory",
            kind=_span_kind("CLIENT"),
            attributes=attributes,
            record_exception=True,
            set_status_on_exception=True,
        ):
            return fn(self, *args, **kwargs)

    wrapper.__mastra_traced__ = True  # type: ignore[attr-defined]
    return wrapper


def _async_storage_wrapper(operation: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """The span of a coroutine method (the async store face) covers the awaited call."""

    @functools.wraps(fn)
    async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        tracer = _tracer()
        if tracer is None:
            return await fn(self, *args, **kwargs)
        attributes = {"db.operation.name": operation, "db.system.name": type(self).__name__}
        with tracer.start_as_current_span(
            f"{operation} mastra_memory",
            kind=_span_kind("CLIENT"),
            attributes=attributes,
            record_exception=True,
            set_status_on_exception=True,
        ):
            return await fn(self, *args, **kwargs)

    wrapper.__mastra_traced__ = True  # type: ignore[attr-defined]
    return wrapper


def trace_methods(cls: type, names: list[str]) -> None:
    """Wrap the named methods of ``cls`` (defined on it) so each call is a storage span."""
    for name in names:
        fn = cls.__dict__.get(name)
        if callable(fn) and not getattr(fn, "__mastra_traced__", False):
            setattr(cls, name, _storage_wrapper(name, fn))
