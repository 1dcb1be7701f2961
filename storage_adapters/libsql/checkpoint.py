"""Background WAL checkpoints for a local libSQL file.

In WAL mode every commit appends the pages it changed to the ``-wal`` file; a *checkpoint*
copies them back into the database file and syncs both files (``fsync``). SQLite's automatic
checkpoint runs inside the commit that brings the WAL to 1,000 pages, so one write in about a
hundred waits for the copy and the syncs of everything written since the last one: on this
project's test machines (2 cores, a virtio disk) about 10 us of ``fsync`` per page, and 45-70 us
per single-message save on average (``benchmarks/checkpoint.py``).

:class:`BackgroundCheckpointer` moves that work to a daemon thread with its own connection, as
the SQLite documentation suggests ("turn off the automatic checkpoints and run checkpoints ...
in a separate thread", https://sqlite.org/wal.html#application_initiated_checkpoints): every
``every`` commits the writer wakes the thread, which runs ``PRAGMA wal_checkpoint(PASSIVE)``.
A passive checkpoint never waits for readers or writers, and the ``sqlite3`` module releases the
GIL while it runs, so the writer goes on during the copy and the syncs.

The writer keeps SQLite's automatic checkpoint as it is: it still bounds the WAL (the WAL only
restarts from its beginning when a checkpoint has copied every frame, which a passive
checkpoint racing a busy writer rarely manages), but by the time it runs, the thread has copied
and synced all but the last few commits, so it has little left to do. Durability is unchanged:
the same syncs happen, on another thread. A failed background checkpoint is logged and changes
nothing; the automatic checkpoint then does the work as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["BackgroundCheckpointer"]

logger = logging.getLogger(__name__)

DEFAULT_EVERY = 16
"""Commits between two background checkpoints: 16 single-message saves append about 110 WAL
pages. Measured with ``benchmarks/checkpoint.py``: 16 and 48 gave the same save time; the
smaller the gap, the less the writer's own automatic checkpoint finds left to copy."""


class BackgroundCheckpointer:
    """Runs passive WAL checkpoints of one database file on a daemon thread.

    The thread starts at the ``every``-th commit (a store that only reads never starts one),
    again after a fork, and holds no reference to the store, so a store that is garbage
    collected without :meth:`stop` still lets it end (the store calls :meth:`stop` from a
    ``weakref.finalize``).

    Args:
        connect: Opens the thread's own connection (called on the thread when ``conn`` is not
            given, or after a failure).
        every: Commits between two checkpoints (default :data:`DEFAULT_EVERY`).
        conn: The thread's first connection, opened by the caller (``LibSQLStore`` opens it right
            after its own, while that one holds its locks: a connection opened later may find
            no lock on the shared-memory file if another SQLite library in the process closed
            the file, and rebuild it under the other connections; https://sqlite.org/howtocorrupt.html).
    """

    def __init__(self, connect: Callable[[], Any], every: int = DEFAULT_EVERY, conn: Any = None) -> None:
        if every < 1:
            raise ValueError("every must be at least 1")
        self._connect = connect
        self._first: Any = conn  # opened beside the store's own connection (see LibSQLStore)
        self._every = every
        self._commits = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.checkpoints = 0
        """Background checkpoints run so far (passive ones that found nothing to copy included)."""
        self.failures = 0
        """Background checkpoints that raised (each logged at WARNING level)."""

    def committed(self) -> None:
        """Count one commit; wake the thread at every ``every``-th (about 0.1 us otherwise)."""
        self._commits += 1
        if self._commits % self._every:
            return
        if self._pid != os.getpid():
            self._forked()
        thread = self._thread
        if (thread is None or not thread.is_alive()) and not self._start():
            return
        self._wake.set()

    def _forked(self) -> None:
        """In a child process: the parent's thread does not exist here, and its lock and events
        may have been copied mid-use, so take fresh ones (stopped stays stopped)."""
        stopped = self._stopped.is_set()
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = threading.Event()
        if stopped:
            self._stopped.set()
        self._thread = None
        self._first = None  # the parent's connection: never used in a child

    def _start(self) -> bool:
        with self._lock:
            if self._stopped.is_set():
                return False
            thread = self._thread
            if thread is not None and thread.is_alive():
                return True
            thread = threading.Thread(
                target=self._run, args=(self._wake, self._stopped), name="mastra-memory-checkpoint", daemon=True
            )
            self._thread = thread
            thread.start()
            return True

    def _run(self, wake: threading.Event, stopped: threading.Event) -> None:
        conn, self._first = self._first, None
        try:
            while True:
                wake.wait()
                if stopped.is_set():
                    return
                wake.clear()
                try:
                    if conn is None:
                        conn = self._connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except Exception:  # never fails a write: the writer's automatic checkpoint remains
                    self.failures += 1
                    logger.warning("background WAL checkpoint failed", exc_info=True)
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            conn.close()
                        conn = None
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop the thread (idempotent); wait up to ``timeout`` seconds for it to close its
        connection (``None``: do not wait, as from a finalizer)."""
        self._stopped.set()
        self._wake.set()
        first, self._first = self._first, None  # the thread never started: close its connection
        if first is not None:
            with contextlib.suppress(Exception):
                first.close()
        thread = self._thread
        if timeout is None or thread is None or thread is threading.current_thread() or self._pid != os.getpid():
            return
        thread.join(timeout)
