"""``mastra-memory serve``: run the HTTP service with uvicorn.

The main CLI wires this in with :func:`register`; ``python -m mastra_memory.server`` runs it on
its own. On an address other than loopback the server refuses to start without API keys.

``--db`` falls back to ``$MASTRA_MEMORY_DB``, then ``file:./mastra.db``, and is opened through
:func:`mastra_memory.storage.open_storage` before uvicorn starts: an unknown scheme exits with
code 2 and an unreachable server with code 1, each as one line, before anything listens. Worker
processes receive the resolved URL (never re-read the environment).
"""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from mastra_memory._cli_settings import ConfigOption, EmbedderOption, OmOption, VectorOption, cli_settings
from mastra_memory._cli_support import EXIT_USAGE, DbOption, exit_code, fail, one_line, open_cli_storage
from mastra_memory.errors import ConfigurationError, MastraMemoryError, MissingDependencyError
from mastra_memory.server.config import ApiKey, ServerLimits, load_api_keys
from mastra_memory.settings import load_settings
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.registry import open_storage, redact_url

__all__ = ["app_from_environment", "is_loopback", "open_store", "register", "serve"]

API_KEY_ENV = "MASTRA_MEMORY_API_KEY"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``); every other
    name or address (``0.0.0.0`` included) counts as reachable from the network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_store(url: str) -> MemoryStorage:
    """The store for a resolved ``--db`` URL (see :func:`mastra_memory.storage.open_storage`);
    not yet connected.

    Raises:
        UnknownSchemeError: for a scheme no backend handles.
        MissingDependencyError: if the backend's extra is not installed.
    """
    return open_storage(url)


CONFIG_ENV = "MASTRA_MEMORY_SERVE_CONFIG"
"""Environment variable through which ``serve`` hands its settings to uvicorn worker processes."""


def app_from_environment() -> Any:
    """The app for uvicorn workers (``--workers N``): settings come from :data:`CONFIG_ENV`,
    written by :func:`serve` (database URL, API keys, limits, memory options)."""
    from mastra_memory.server import create_app
    from mastra_memory.settings import Settings

    config = json.loads(os.environ[CONFIG_ENV])
    keys = [ApiKey.model_validate(k) for k in config["api_keys"]]
    memory = Settings.from_json(config["settings"]).open_memory()
    return create_app(memory, keys, ServerLimits.model_validate(config["limits"]), close_on_shutdown=True)


def _limits(
    limits_file: Path | None,
    max_value_bytes: int | None,
    max_key_length: int | None,
    write_rate: float | None,
    write_burst: int | None,
    max_keys: int | None,
    max_bytes: int | None,
) -> ServerLimits:
    data: dict[str, Any] = {}
    if limits_file is not None:
        try:
            data = json.loads(limits_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"could not read limits from {limits_file}: {exc}") from exc
    if max_value_bytes is not None:
        data["max_value_bytes"] = max_value_bytes
    if max_key_length is not None:
        data["max_key_length"] = max_key_length
    quota = {"write_rate": write_rate, "write_burst": write_burst, "max_keys": max_keys, "max_bytes": max_bytes}
    given = {k: v for k, v in quota.items() if v is not None}
    if given:
        data["default"] = {**dict(data.get("default") or {}), **given}
    try:
        return ServerLimits.model_validate(data)
    except ValueError as exc:
        raise ConfigurationError(f"invalid limits: {exc}") from exc


def _check_app(store: MemoryStorage, options: Any, api_keys: list[ApiKey], limits: ServerLimits) -> None:
    """Build the app the workers will build (memory options included) once, so that what would
    fail in them fails here, as one ``error:`` line before anything listens."""
    from mastra_memory.memory import Memory
    from mastra_memory.server import create_app

    if options is not None and not isinstance(options, dict):
        fail(f"--memory-options must be a JSON object, got {type(options).__name__}", EXIT_USAGE)
    try:
        create_app(Memory(store, options=options), api_keys, limits, close_on_shutdown=False)
    except MastraMemoryError as exc:
        fail(f"--memory-options: {one_line(exc)}", exit_code(exc))
    except (ValueError, TypeError) as exc:
        fail(f"--memory-options: {one_line(exc)}", EXIT_USAGE)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback requires API keys.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: DbOption = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(help=f"An API key with full access (repeatable; also read from ${API_KEY_ENV})."),
    ] = None,
    api_keys_file: Annotated[
        Path | None, typer.Option(help="JSON list of scoped keys: token, name, namespaces, resources, read_only.")
    ] = None,
    limits_file: Annotated[Path | None, typer.Option(help="JSON of ServerLimits (per-namespace overrides).")] = None,
    max_value_bytes: Annotated[int | None, typer.Option(help="Largest value in bytes (default 1 MiB).")] = None,
    max_key_length: Annotated[int | None, typer.Option(help="Longest key in characters (default 512).")] = None,
    write_rate: Annotated[float | None, typer.Option(help="Writes per second per namespace.")] = None,
    write_burst: Annotated[int | None, typer.Option(help="Burst of writes per namespace.")] = None,
    max_keys: Annotated[int | None, typer.Option(help="Most keys per namespace.")] = None,
    max_bytes: Annotated[int | None, typer.Option(help="Most value bytes per namespace.")] = None,
    memory_options: Annotated[
        str | None, typer.Option(help='MemoryConfig as JSON, e.g. \'{"working_memory": {"enabled": true}}\'.')
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (uvicorn workers); quotas then apply per process.")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    vector: VectorOption = None,
    embedder: EmbedderOption = None,
    om: OmOption = None,
    config: ConfigOption = None,
) -> None:
    """Serve key-value and conversation memory over HTTP (FastAPI; docs at /docs)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError as exc:
        fail(str(MissingDependencyError(exc.name or "uvicorn", "server")))
    keys: list[ApiKey | str] = list(api_key or [])
    if os.environ.get(API_KEY_ENV):
        keys.append(os.environ[API_KEY_ENV])
    if api_keys_file is not None:
        keys.extend(load_api_keys(api_keys_file))
    if not keys and not is_loopback(host):
        typer.echo(
            f"refusing to serve on {host}: it is not a loopback address and no API key is configured "
            f"(use --api-key, --api-keys-file or ${API_KEY_ENV})",
            err=True,
        )
        raise typer.Exit(code=2)
    try:
        limits = _limits(limits_file, max_value_bytes, max_key_length, write_rate, write_burst, max_keys, max_bytes)
    except MastraMemoryError as exc:
        fail(one_line(exc), exit_code(exc))
    try:
        options = json.loads(memory_options) if memory_options else None
    except ValueError as exc:
        fail(f"--memory-options is not valid JSON: {one_line(exc)}", EXIT_USAGE)
    if options is not None and not isinstance(options, dict):
        fail("--memory-options must be a JSON object", EXIT_USAGE)
    if options is None:
        settings = cli_settings(db, config, vector=vector, embedder=embedder, om=om)
    else:
        try:  # name the flag when the options it brought are what the configuration refuses
            settings = load_settings(config, db=db, vector=vector, embedder=embedder, om=om, memory_options=options)
        except MastraMemoryError as exc:
            fail(f"--memory-options: {one_line(exc, db)}", exit_code(exc))
    # Open (and create or migrate) the store once here, so a wrong URL or an unreachable server
    # fails before anything listens; the workers open their own from the resolved URL.
    try:
        api_keys = [k if isinstance(k, ApiKey) else ApiKey(token=k, name="cli") for k in keys]  # type: ignore[arg-type]
    except ValueError as exc:
        typer.echo(f"invalid API key: {exc}", err=True)
        raise typer.Exit(code=2) from None
    store, url = open_cli_storage(settings.db, read_only=False)
    try:
        _check_app(store, {**settings.memory.model_dump(by_alias=True), "semantic_recall": False}, api_keys, limits)
    finally:
        store.close()
    os.environ[CONFIG_ENV] = json.dumps(
        {
            "settings": settings.to_json(),
            "limits": limits.model_dump(mode="json"),
            "api_keys": [{**k.model_dump(mode="json"), "token": k.token.get_secret_value()} for k in api_keys],
        }
    )
    typer.echo(
        f"mastra-memory serving {redact_url(url)} on http://{host}:{port} with {workers} worker(s) "
        f"(auth: {'on' if keys else 'off'}; semantic recall: "
        f"{f'{settings.embedder} in {redact_url(str(settings.vector))}' if settings.semantic_recall else 'off'})",
        err=True,
    )
    uvicorn.run(
        "mastra_memory.server.cli:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,  # nothing here uses the client address; one middleware less per request
        access_log=log_level in ("trace", "debug", "info"),  # its arguments cost CPU even when filtered
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to a typer app (the ``mastra-memory`` CLI)."""
    app.command("serve")(serve)
