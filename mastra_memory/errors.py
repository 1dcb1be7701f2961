"""The exception hierarchy of mastra-memory.

Every error the library raises on purpose derives from :class:`MastraMemoryError`, so callers
can catch one type. Driver errors are wrapped (``raise StorageError(...) from exc``) so the
original stays available as ``__cause__``::

    MastraMemoryError
    ├── ValidationError            bad input: ids, metadata, content, pagination
    │   ├── ResourceMismatchError  a thread used with a resource that does not own it
    │   ├── ThreadExistsError      an insert-only create of a thread id that is taken (HTTP 409)
    │   └── MessageIdUnavailableError  a message id that is taken by another thread
    ├── ThreadNotFoundError        an operation needs a thread that does not exist
    ├── StorageError               a storage or vector backend failed (wraps the driver error)
    │   ├── ConcurrencyError       a compare-and-set lost, or a lock could not be taken
    │   └── NoDataError            a read-only open found no mastra-memory data (nothing created)
    ├── ConfigurationError         an invalid or contradictory configuration
    │   └── MissingDependencyError an optional extra is not installed (names the pip command)
    ├── ModelError                 a language model or embedder call failed or returned junk
    ├── AccessDeniedError          the memory server refused the API key (HTTP 401/403)
    └── QuotaExceededError         a namespace's write rate or storage cap was hit (HTTP 429/507)

``MemoryError`` (the builtin) is never shadowed. Messages never confirm that a thread or
message id of another resource exists or name its owner: a thread used with the wrong resource
reads "not found for resource ..."; the owner is only an attribute, for trusted callers.
"""

from __future__ import annotations

__all__ = [
    "AccessDeniedError",
    "ConcurrencyError",
    "ConfigurationError",
    "MastraMemoryError",
    "MessageIdUnavailableError",
    "MissingDependencyError",
    "ModelError",
    "NoDataError",
    "QuotaExceededError",
    "ResourceMismatchError",
    "StorageError",
    "ThreadConflictError",
    "ThreadExistsError",
    "ThreadNotFoundError",
    "ValidationError",
]


class MastraMemoryError(Exception):
    """Base class of every error raised by mastra-memory."""


class ValidationError(MastraMemoryError, ValueError):
    """Input was rejected before anything was written (invalid id, non-JSON metadata, ...)."""


class ResourceMismatchError(ValidationError):
    """A thread was addressed with a resource id other than the one that owns it.

    Attributes:
        thread_id: The thread that was addressed.
        expected_resource_id: The resource that owns the thread.
        resource_id: The resource id the caller passed.
    """

    def __init__(self, thread_id: str, expected_resource_id: str, resource_id: str) -> None:
        super().__init__(f"thread {thread_id!r} not found for resource {resource_id!r}")
        self.thread_id = thread_id
        self.expected_resource_id = expected_resource_id
        self.resource_id = resource_id


class ThreadExistsError(ValidationError):
    """A thread with this id already exists, so an insert-only create was refused (nothing was
    written and the existing thread kept its owner). The HTTP service answers 409.

    Attributes:
        thread_id: The id that was taken.
    """

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread id {thread_id!r} can not be used to create a thread; choose another id")
        self.thread_id = thread_id


ThreadConflictError = ThreadExistsError
"""Another name of :class:`ThreadExistsError` (the typed conflict of an insert-only create)."""


class MessageIdUnavailableError(ValidationError):
    """A saved message's id is already used by a message of another thread; message ids are
    global, so nothing was written. The text does not say whose thread it is.

    Attributes:
        message_id: The id that can not be used.
    """

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message id {message_id!r} can not be used in this thread; choose another id")
        self.message_id = message_id


class ThreadNotFoundError(MastraMemoryError, LookupError):
    """The thread does not exist.

    Attributes:
        thread_id: The id that was looked up.
    """

    def __init__(self, thread_id: str) -> None:
        super().__init__(f"thread {thread_id!r} not found")
        self.thread_id = thread_id


class StorageError(MastraMemoryError):
    """A storage backend failed; the driver's exception is the ``__cause__``."""


class ConcurrencyError(StorageError):
    """A concurrent writer won a compare-and-set, or a lock could not be taken in time."""


class NoDataError(StorageError):
    """A store opened read-only (``open_storage(url, create=False)``, the CLI's list and show
    commands) holds no mastra-memory data: the file, database or tables do not exist. Nothing
    was created."""


class ConfigurationError(MastraMemoryError):
    """The configuration is invalid or contradictory."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is missing.

    The message names the exact command, e.g. ``pip install "mastra-memory[pg]"``.

    Attributes:
        extra: The name of the extra that provides the dependency.
    """

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f'{package} is not installed; install it with: pip install "mastra-memory[{extra}]"')
        self.extra = extra


class ModelError(MastraMemoryError):
    """A language model or embedding call failed, or returned output that could not be used."""


class AccessDeniedError(MastraMemoryError, PermissionError):
    """The memory server refused the request: no or an unknown API key (HTTP 401), or a key not
    scoped to the namespace or resource (HTTP 403).

    Attributes:
        status_code: The HTTP status (401 or 403).
    """

    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.status_code = status_code


class QuotaExceededError(MastraMemoryError):
    """A namespace's write quota (HTTP 429) or storage cap (HTTP 507) was exceeded.

    Attributes:
        retry_after: Seconds to wait before retrying (rate quota), or ``None`` (storage cap).
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
