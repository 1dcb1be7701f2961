"""The ``mastra-memory`` command line (typer + rich).

Commands (``mastra-memory --help``; details and examples in docs/cli.md):

* ``chat``: one-shot (``-m TEXT``) or interactive chat with an agent that remembers
  (``--thread``, ``--resource``, ``--db``, ``--model``, ``--instructions``);
* ``threads list|show|clone|delete``;
* ``ingest PATH``: load LoCoMo or chat-JSON conversations into threads;
* ``recall --thread T --query Q``: print what memory would give the model.

Other parts of the package add commands through :data:`PLUGIN_MODULES`: each module, when it
exists, has ``register(app: typer.Typer) -> None`` (e.g. ``om show``, ``serve``).

Every command takes ``--db URL`` (else ``$MASTRA_MEMORY_DB``, else ``file:./mastra.db``) and
opens it through :func:`mastra_memory.storage.open_storage`; ``threads list``, ``threads show``
and ``recall`` only read (they create nothing, not even an empty file), ``threads clone`` and
``threads delete`` need existing data, ``chat`` and ``ingest`` create the store if needed. See
:mod:`mastra_memory._cli_support` for how the store is opened.

The CLI only calls the public API. Errors are printed as one red line on stderr: exit code 2
for a wrong URL (unknown scheme, malformed URL), 1 for every other failure.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from mastra_memory._cli_settings import (
    ConfigOption,
    EmbedderOption,
    OmOption,
    VectorOption,
    cli_settings,
    open_settings_memory,
)
from mastra_memory._cli_support import DbOption, fail, one_line, open_cli_storage
from mastra_memory.errors import MastraMemoryError, ValidationError
from mastra_memory.memory import Memory
from mastra_memory.storage.registry import redact_url, resolve_storage_url
from mastra_memory.types import Message, TextPart, ToolInvocationPart, new_id

__all__ = ["PLUGIN_MODULES", "app", "main"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "local/smollm2"
DEFAULT_RESOURCE = "default"
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."

#: Modules that may add commands; each defines ``register(app: typer.Typer) -> None``.
PLUGIN_MODULES = ("mastra_memory.server.cli", "mastra_memory.observational.cli", "mastra_memory.mcp_server")


def _hide_flag_placeholders() -> None:
    """Render on/off flags without a value placeholder in ``--help`` (``--json``, not
    ``--json <bool>``): typer 0.29 shows the type of every option, flags included, which reads
    as if the flag took a value. Options that take a value are unchanged."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - another typer layout: leave its help as it is
        return
    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_mm_flags", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        result: str | None = original(self, ctx)
        return result

    display_type_rich._mm_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_placeholders()

app = typer.Typer(
    name="mastra-memory",
    help="Conversational memory for LLM agents: chat, threads, ingest, recall.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
threads_app = typer.Typer(help="List, show, clone and delete threads.", no_args_is_help=True)
app.add_typer(threads_app, name="threads")

console = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Db = DbOption
F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Print library errors as one line and exit 1 instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MastraMemoryError as exc:
            fail(one_line(exc, resolve_storage_url(kwargs.get("db"))))

    return wrapper  # type: ignore[return-value]


def open_memory(db: str | None, *, read_only: bool = False, **options: Any) -> Memory:
    """A :class:`Memory` on the store ``--db`` names (else ``$MASTRA_MEMORY_DB``, else
    ``file:./mastra.db``), or exit with one error line.

    Args:
        db: The ``--db`` value, or ``None``.
        read_only: Create nothing and run no migration; the store must hold mastra-memory data.
        **options: :class:`~mastra_memory.config.MemoryConfig` fields.
    """
    store, _ = open_cli_storage(db, read_only=read_only)
    return Memory(store, options=options or None)


def _settings(pairs: list[str] | None) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` model settings; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValidationError(f"model settings are KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _message_line(msg: Message) -> str:
    speaker = msg.content.metadata.get("speaker")
    who = f"{msg.role} ({speaker})" if speaker else msg.role
    lines: list[str] = []
    for part in msg.content.parts:
        if isinstance(part, TextPart):
            lines.append(escape(part.text))
        elif isinstance(part, ToolInvocationPart):
            args = json.dumps(part.args, ensure_ascii=False)
            result = json.dumps(part.result, ensure_ascii=False, default=str)
            call = f"tool {part.tool_name}({args}) -> {result}"
            lines.append(f"[magenta]{escape(call)}[/magenta]")
    stamp = msg.created_at.strftime("%Y-%m-%d %H:%M:%S")
    return f"[dim]{stamp}[/dim] [bold]{escape(who)}[/bold]: " + "\n  ".join(lines)


# -- chat ---------------------------------------------------------------------------------------


class _ModelLoadingHandler(logging.Handler):
    """Shows the models' INFO lines on stderr, dimmed (``err`` finds ``sys.stderr`` when printing)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            err.print(escape(self.format(record)), style="dim")
        except Exception:  # pragma: no cover - a closed stream must not fail a turn
            self.handleError(record)


def _show_model_loading() -> None:
    """Print the models' INFO lines ("loading SmolLM2-... (98 MB) with llama.cpp") on stderr, so a
    slow first model call says what it is doing."""
    models_logger = logging.getLogger("mastra_memory.models")
    if not any(isinstance(h, _ModelLoadingHandler) for h in models_logger.handlers):
        models_logger.addHandler(_ModelLoadingHandler(logging.INFO))
    if models_logger.getEffectiveLevel() > logging.INFO:
        models_logger.setLevel(logging.INFO)


@app.command()
@_friendly
def chat(
    message: Annotated[str | None, typer.Option("-m", "--message", help="Send one message and exit.")] = None,
    thread: Annotated[str | None, typer.Option(help="Thread id (new one if omitted).")] = None,
    resource: Annotated[
        str | None,
        typer.Option(help="Resource (user) id; default: the thread's owner, or 'default'."),
    ] = None,
    db: Db = None,
    model: Annotated[
        str | None, typer.Option(help=f"litellm model string or {DEFAULT_MODEL} (the default).", show_default=False)
    ] = None,
    instructions: Annotated[str, typer.Option(help="The agent's system prompt.")] = DEFAULT_INSTRUCTIONS,
    last_messages: Annotated[
        int | None, typer.Option(help="History messages sent to the model (default 10).", show_default=False)
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(
            "--setting", "-s", metavar="KEY=VALUE", help="Model setting (e.g. temperature=0.2, api_base=...)."
        ),
    ] = None,
    om: OmOption = None,
    vector: VectorOption = None,
    embedder: EmbedderOption = None,
    config: ConfigOption = None,
) -> None:
    """Chat with an agent whose memory lives in the database (one-shot with -m, else a REPL)."""
    from mastra_memory.agent import Agent

    settings = cli_settings(
        db,
        config,
        model=model,
        om=om,
        vector=vector,
        embedder=embedder,
        resource=resource,
        memory_options=None if last_messages is None else {"last_messages": last_messages},
    )
    model = settings.model
    memory = open_settings_memory(settings, read_only=False)
    try:
        if resource is None:
            existing = memory.get_thread_by_id(thread) if thread else None
            resource = existing.resource_id if existing is not None else settings.resource
        if thread is None:
            thread = new_id()
            err.print(f"[dim]new thread {thread} (continue it with --thread {thread})[/dim]")
        agent = Agent("cli", instructions, model, memory=memory, model_settings=_settings(setting))
        _show_model_loading()

        def turn(text: str) -> None:
            started = time.perf_counter()
            stream = agent.stream(text, thread=thread, resource=resource)
            for delta in stream:
                sys.stdout.write(delta)
                sys.stdout.flush()
            result = stream.result
            sys.stdout.write("\n")
            sys.stdout.flush()
            if result.finish_reason == "length":
                limit = agent.model_settings.get("max_tokens")
                at = f" at max_tokens={limit}" if limit is not None else " at the model's token limit"
                err.print(f"[yellow]reply cut{at}: raise it with -s max_tokens=N[/yellow]")
            err.print(
                f"[dim]{result.usage.prompt_tokens} prompt + "
                f"{result.usage.completion_tokens} completion tokens, "
                f"{time.perf_counter() - started:.2f} s, thread {thread}[/dim]"
            )

        if message is not None:
            turn(message)
            return
        err.print(f"[dim]thread {thread}, resource {resource}, model {model}; /exit or Ctrl-D quits[/dim]")
        while True:
            try:
                line = console.input("[bold green]you>[/bold green] ")
            except (EOFError, KeyboardInterrupt):
                console.print()
                break
            if line.strip() in ("/exit", "/quit"):
                break
            if line.strip():
                console.print("[bold blue]assistant>[/bold blue] ", end="")
                turn(line)
    finally:
        memory.close()


# -- threads ------------------------------------------------------------------------------------


@threads_app.command("list")
@_friendly
def threads_list(
    resource: Annotated[str | None, typer.Option(help="Only threads of this resource.")] = None,
    page: Annotated[int, typer.Option(help="Page number from 0.")] = 0,
    per_page: Annotated[int, typer.Option(help="Threads per page.")] = 20,
    order_by: Annotated[str, typer.Option(help="created_at or updated_at.")] = "created_at",
    direction: Annotated[str, typer.Option(help="DESC or ASC.")] = "DESC",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """List threads, newest first, one page at a time."""
    with open_memory(db, read_only=True) as memory:
        result = memory.list_threads(
            resource_id=resource,
            page=page,
            per_page=per_page,
            order_by=order_by,  # type: ignore[arg-type]
            direction=direction.upper(),  # type: ignore[arg-type]
        )
    if as_json:
        console.out(result.model_dump_json(indent=2))
        return
    # thread ids in full at any terminal width: the id column never shrinks, wraps or is cut,
    # and a terminal too narrow for the table gets one block per thread instead
    widest = max((len(t.id) + (8 if Memory.is_clone(t) else 0) for t in result.threads), default=2)
    narrow = console.width < widest + 40
    table = Table(Column("id", no_wrap=True, min_width=widest), "resource", "title", "created", "updated")
    for t in result.threads:
        clone = " [dim](clone)[/dim]" if Memory.is_clone(t) else ""
        created, updated = t.created_at.strftime("%Y-%m-%d %H:%M"), t.updated_at.strftime("%Y-%m-%d %H:%M")
        if narrow:
            console.out(t.id, highlight=False)  # never wrapped or cut
            console.print(
                f"  {clone.strip()} resource {escape(t.resource_id)}, {escape(repr(t.title))}, "
                f"created {created}, updated {updated}".replace("   ", " ").strip()
            )
            continue
        table.add_row(escape(t.id) + clone, escape(t.resource_id), escape(t.title), created, updated)
    if not narrow:
        console.print(table)
    more = f"; next: --page {page + 1}" if result.has_more else ""
    console.print(f"page {page}: {len(result.threads)} of {result.total} threads{more}")


@threads_app.command("show")
@_friendly
def threads_show(
    thread_id: Annotated[str, typer.Argument(help="The thread id.")],
    last: Annotated[int, typer.Option(help="Show the newest N messages.")] = 50,
    show_all: Annotated[bool, typer.Option("--all", help="Show every message.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """Print a thread and its messages."""
    with open_memory(db, read_only=True) as memory:
        thread = memory.get_thread_by_id(thread_id)
        if thread is None:
            fail(f"thread {thread_id!r} not found")
        page = memory.list_messages(thread_id, per_page=False if show_all else last)
    if as_json:
        console.out(
            json.dumps(
                {
                    "thread": thread.model_dump(mode="json"),
                    "total": page.total,
                    "messages": [m.model_dump(mode="json") for m in page.messages],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    console.print(
        f"[bold]{escape(thread.id)}[/bold] {escape(thread.title)} "
        f"[dim](resource {escape(thread.resource_id)}, {page.total} messages)[/dim]"
    )
    if page.total > len(page.messages):
        console.print(f"[dim]... {page.total - len(page.messages)} older messages (use --all)[/dim]")
    for msg in page.messages:
        console.print(_message_line(msg))


@threads_app.command("clone")
@_friendly
def threads_clone(
    thread_id: Annotated[str, typer.Argument(help="The thread to copy.")],
    title: Annotated[str | None, typer.Option(help="Title of the clone.")] = None,
    limit: Annotated[int | None, typer.Option(help="Copy only the newest N messages.")] = None,
    new_id_: Annotated[str | None, typer.Option("--new-id", help="Id of the clone.")] = None,
    resource: Annotated[str | None, typer.Option(help="Owner of the clone (default: the source's).")] = None,
    db: Db = None,
) -> None:
    """Copy a thread and its messages into a new thread."""
    with open_memory(db, read_only=True) as memory:
        result = memory.clone_thread(
            thread_id, new_thread_id=new_id_, resource_id=resource, title=title, message_limit=limit
        )
    console.print(
        f"cloned {escape(thread_id)} -> [bold]{escape(result.thread.id)}[/bold] "
        f"({len(result.cloned_messages)} messages, title {escape(repr(result.thread.title))})"
    )


@threads_app.command("delete")
@_friendly
def threads_delete(
    thread_id: Annotated[str, typer.Argument(help="The thread to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: Db = None,
) -> None:
    """Delete a thread and its messages."""
    with open_memory(db, read_only=True) as memory:
        if memory.get_thread_by_id(thread_id) is None:
            fail(f"thread {thread_id!r} not found")
        if not yes:
            typer.confirm(f"Delete thread {thread_id} and its messages?", abort=True)
        memory.delete_thread(thread_id)
    console.print(f"deleted {escape(thread_id)}")


# -- ingest and recall --------------------------------------------------------------------------


@app.command()
@_friendly
def ingest(
    path: Annotated[str, typer.Argument(help="A LoCoMo JSON file or a chat JSON file.")],
    format: Annotated[str, typer.Option("--format", help="auto, locomo or chat.")] = "auto",
    db: Db = None,
    vector: VectorOption = None,
    embedder: EmbedderOption = None,
    config: ConfigOption = None,
) -> None:
    """Load multi-session conversations into threads (re-running updates, never duplicates)."""
    from mastra_memory.ingest import ingest as run_ingest
    from mastra_memory.ingest import load_file

    if format not in ("auto", "locomo", "chat"):
        raise ValidationError(f"--format must be auto, locomo or chat, not {format!r}")
    fmt, batches = load_file(path, format)  # type: ignore[arg-type]
    settings = cli_settings(db, config, vector=vector, embedder=embedder)
    memory = open_settings_memory(settings, read_only=False)
    if settings.semantic_recall:
        err.print(f"[dim]embedding messages with {escape(str(settings.embedder))} for semantic recall[/dim]")
    with (
        memory,
        Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        ) as progress,
    ):
        task = progress.add_task(f"ingesting {fmt}", total=len(batches))
        stats = run_ingest(
            memory,
            batches,
            on_batch=lambda b: progress.update(task, advance=1, description=f"ingesting {escape(b.thread.id)}"),
        )
        progress.update(task, description=f"ingested {fmt}")
    rate = stats.messages / stats.seconds if stats.seconds else 0.0
    where = redact_url(settings.db)
    console.print(
        f"ingested {stats.threads} threads ({stats.threads_created} new) and "
        f"{stats.messages} messages ({stats.messages_new} new) for {stats.resources} resources "
        f"in {stats.seconds:.2f} s ({rate:,.0f} messages/s) into {escape(where)}"
    )


@app.command()
@_friendly
def recall(
    thread: Annotated[str, typer.Option(help="The thread.")],
    query: Annotated[str | None, typer.Option(help="Search text (used by semantic recall).")] = None,
    resource: Annotated[str | None, typer.Option(help="Resource; must own the thread.")] = None,
    last: Annotated[int, typer.Option(help="Recent messages to recall.")] = 10,
    top_k: Annotated[int | None, typer.Option(help="Semantic hits per query (default 4).", show_default=False)] = None,
    db: Db = None,
    vector: VectorOption = None,
    embedder: EmbedderOption = None,
    config: ConfigOption = None,
) -> None:
    """Print the messages memory recalls for a thread (what the model would see as history);
    with --query also the semantic hits (best first) among the resource's messages."""
    settings = cli_settings(db, config, vector=vector, embedder=embedder)
    options: dict[str, Any] = {"last_messages": last}
    if top_k is not None and settings.semantic_recall:
        sr = settings.memory.semantic_recall
        assert sr is not False
        options["semantic_recall"] = sr.model_copy(update={"top_k": top_k})
    with open_settings_memory(settings, read_only=True) as memory:
        if memory.get_thread_by_id(thread, resource) is None:
            fail(f"thread {thread!r} not found")
        result = memory.recall(thread, resource, vector_search_string=query, memory_options=options)
        hits = {h.message_id: h for h in result.semantic_hits or []}
        if query and not settings.semantic_recall:
            err.print(
                "[dim]semantic recall is not configured (no vector store or embedder; see --vector, "
                "--embedder, or pip install 'mastra-memory[local]'): showing the newest messages only[/dim]"
            )
        elif query:
            found = memory.storage.list_messages_by_id(list(hits)) if hits else []
            found.sort(key=lambda m: -hits[m.id].score)
            console.print(f"[bold]{len(found)} semantic hits for {escape(repr(query))}[/bold]")
            for msg in found:
                score = f"[cyan]{hits[msg.id].score:.3f}[/cyan] [dim]{escape(msg.id)}[/dim] "
                console.print(score + _message_line(msg))
    console.print(f"[dim]{len(result.messages)} recalled of {result.total} messages[/dim]")
    for msg in result.messages:
        console.print(_message_line(msg))


# -- plugins and entry point --------------------------------------------------------------------


def _register_plugins(target: typer.Typer) -> None:
    """Let other parts of the package add commands (``register(app)`` in each module)."""
    for name in PLUGIN_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part of the package does not exist (yet)
            logger.debug("CLI plugin %s not loaded: %s", name, exc)
            continue
        except ImportError as exc:
            logger.debug("CLI plugin %s not loaded: %s", name, exc)
            continue
        register = getattr(module, "register", None)
        if callable(register):
            register(target)


_register_plugins(app)


def main() -> None:
    """Console-script entry point (``mastra-memory``)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
