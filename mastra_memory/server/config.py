"""Server settings: API keys with their scopes, and the limits the server enforces.

These are plain pydantic models (no FastAPI import), so the CLI and tests build them without the
``[server]`` extra. Every default lives here.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mastra_memory.errors import ConfigurationError
from mastra_memory.storage.kv import KV_MAX_KEY_LENGTH

__all__ = ["ApiKey", "NamespaceLimits", "ServerLimits", "load_api_keys"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApiKey(_Frozen):
    """A Bearer token and what it may touch.

    Scopes are shell-style patterns matched case-sensitively (``"*"`` = everything,
    ``"agent-*"``, exact names). A key reaches a key-value namespace when one of ``namespaces``
    matches it, and a thread when one of ``resources`` matches the thread's resource id.

    Attributes:
        token: The secret (at least 16 characters); only its SHA-256 digest is kept for lookup.
        name: A label for logs (never the token).
        namespaces: Key-value namespaces it may use (``("*",)``).
        resources: Resources whose threads, messages and working memory it may use (``("*",)``).
        read_only: Refuse every write (PUT, POST, PATCH, DELETE).
    """

    token: SecretStr
    name: str = ""
    namespaces: tuple[str, ...] = ("*",)
    resources: tuple[str, ...] = ("*",)
    read_only: bool = False

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        secret = value.get_secret_value()
        if len(secret) < 16 or secret.strip() != secret:
            raise ValueError("an API key token must be at least 16 characters without surrounding spaces")
        return value

    def allows_namespace(self, namespace: str) -> bool:
        """True if a pattern in :attr:`namespaces` matches ``namespace``."""
        return "*" in self.namespaces or any(fnmatchcase(namespace, p) for p in self.namespaces)

    def allows_resource(self, resource_id: str) -> bool:
        """True if a pattern in :attr:`resources` matches ``resource_id``."""
        return "*" in self.resources or any(fnmatchcase(resource_id, p) for p in self.resources)

    @property
    def all_resources(self) -> bool:
        """True if the key reaches every resource (it may list threads of all resources)."""
        return "*" in self.resources

    @property
    def is_admin(self) -> bool:
        """True if the key reaches every namespace (needed for server-wide operations)."""
        return "*" in self.namespaces and not self.read_only


class NamespaceLimits(_Frozen):
    """Quotas of one namespace (``None`` = unlimited).

    Attributes:
        write_rate: Sustained writes per second (token bucket; per server process).
        write_burst: Bucket size: writes allowed at once after a pause (default: ``write_rate``,
            at least 1).
        max_keys: Most live keys the namespace may hold.
        max_bytes: Most bytes of encoded JSON values the namespace may hold.
    """

    write_rate: float | None = Field(default=None, gt=0)
    write_burst: int | None = Field(default=None, ge=1)
    max_keys: int | None = Field(default=None, ge=1)
    max_bytes: int | None = Field(default=None, ge=1)


class ServerLimits(_Frozen):
    """Request and namespace limits.

    Attributes:
        max_key_length: Longest key in characters (512; the storage maximum).
        max_value_bytes: Largest value in bytes of JSON (1 MiB); bigger bodies get HTTP 413.
        max_request_bytes: Largest body of the thread and message routes (4 MiB).
        default: Quotas of every namespace without an override.
        namespaces: Per-namespace overrides (exact names); fields left ``None`` fall back to
            :attr:`default` (except ``write_burst``, which follows an overridden ``write_rate``).
        usage_refresh_seconds: How long a namespace's cached usage (for ``max_keys`` /
            ``max_bytes``) is trusted before it is counted again (5.0). Near a cap, usage is
            always counted exactly.
        purge_interval_seconds: How often the server deletes expired entries in the background
            (60.0; 0 disables; reads never show expired entries either way).
    """

    max_key_length: int = Field(default=KV_MAX_KEY_LENGTH, ge=1, le=KV_MAX_KEY_LENGTH)
    max_value_bytes: int = Field(default=1024 * 1024, ge=16)
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    default: NamespaceLimits = Field(default_factory=NamespaceLimits)
    namespaces: dict[str, NamespaceLimits] = Field(default_factory=dict)
    usage_refresh_seconds: float = Field(default=5.0, ge=0)
    purge_interval_seconds: float = Field(default=60.0, ge=0)

    def for_namespace(self, namespace: str) -> NamespaceLimits:
        """The effective quotas of ``namespace``."""
        override = self.namespaces.get(namespace)
        if override is None:
            return self.default
        merged: dict[str, Any] = self.default.model_dump()
        merged.update(override.model_dump(exclude_none=True))
        if override.write_rate is not None and override.write_burst is None:
            merged["write_burst"] = None  # a new rate brings its own default burst (= the rate)
        return NamespaceLimits(**merged)


def load_api_keys(path: str | Path) -> list[ApiKey]:
    """Read API keys from a JSON file: a list of objects with :class:`ApiKey`'s fields.

    Example file::

        [{"token": "s3cr3t-token-for-agent-a", "name": "agent-a",
          "namespaces": ["agent-a", "shared-*"], "resources": ["user-*"]}]

    Raises:
        ConfigurationError: if the file is missing, not JSON, or an entry is invalid.
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(raw, list):
            raise ValueError("expected a JSON list of key objects")
        return [ApiKey.model_validate(item) for item in raw]
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"could not load API keys from {path}: {exc}") from exc
