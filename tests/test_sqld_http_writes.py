"""Over HTTP, no write of ``LibSQLStore`` opens an interactive transaction on sqld (issue 12).

An interactive transaction over HTTP outlives each request: a client killed inside it leaves sqld
holding the write lock. Every write is therefore one batch, one compare-and-set statement or one
statement (docs/storage.md, "sqld"); this test runs each kind of write with the interactive
path (``LibSQLStore._open``) made to fail. It also covers a store left idle longer than sqld's
stream expiry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mastra_memory.storage.om import ObservationCommit
from mastra_memory.storage.records import MessageRef
from mastra_memory.types import Message, Resource, Thread
from storage_adapters.libsql import LibSQLStore
from tests import servers


@pytest.fixture
def sqld_url() -> Iterator[str]:
    url = servers.url_or_skip(servers.SQLD)
    with servers._server_lock(url):
        servers.clear_sqld(url)
        yield url


def test_every_write_over_http_is_a_single_request(sqld_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_interactive_transaction(self: LibSQLStore, retry_begin: bool) -> Any:
        raise AssertionError("interactive transaction over HTTP")

    monkeypatch.setattr(LibSQLStore, "_open", no_interactive_transaction)
    with LibSQLStore(sqld_url) as store:
        store.setup()  # migrations: one guarded batch
        store.create_thread(Thread(id="t", resource_id="r"))
        store.save_thread(Thread(id="t", resource_id="r", title="saved"))
        assert store.update_thread("t", title="updated", metadata={"a": 1}).metadata == {"a": 1}
        assert store.set_thread_title_if_empty("t", "ignored") is False
        saved = store.save_messages([Message.user(f"m{i}", "t", id=f"m{i}") for i in range(3)])
        assert store.update_working_memory_atomic(thread_id="t", fn=lambda cur: (cur or "") + "x") == "x"
        assert store.update_working_memory_atomic(resource_id="r", fn=lambda cur: (cur or "") + "y") == "y"
        store.save_resource(Resource(id="r2"))
        assert store.update_resource("r2", working_memory="w", metadata={"b": 2}).metadata == {"b": 2}
        result = store.commit_observations(
            ObservationCommit(
                scope="thread",
                thread_id="t",
                resource_id="r",
                observations="Date: Mar 1, 2025\n* 🔴 observed",
                messages=[MessageRef(id=m.id, thread_id=m.thread_id, created_at=m.created_at) for m in saved],
            )
        )
        assert result.committed
        store.clone_thread("t", Thread(id="t2", resource_id="r"))
        store.replace_messages("t2", [Message.user("only", "t2", id="only")])
        assert [m.id for m in store.list_messages("t2", per_page=False).messages] == ["only"]
        assert store.pop_newest_message("t2") is not None
        store.delete_messages(["m0"])
        store.kv_increment("ns", "k")
        store.clear_observational_memory("t")
        later = datetime.now(UTC) + timedelta(days=1)
        store.prune_messages(later, limit=1)
        store.prune_observational_memory_history(later)
        store.prune_resources(later, limit=1)
        assert store.prune_threads(later, limit=1)
        store.delete_thread("t")
        store.delete_resource("r")
        assert store.get_thread_by_id("t2") is None


@pytest.mark.slow
def test_a_store_idle_past_the_stream_expiry_still_answers(sqld_url: str) -> None:
    """sqld drops a Hrana stream idle for 10 s; the next statement used to fail with
    ``STREAM_EXPIRED``."""
    with LibSQLStore(sqld_url) as store:
        store.create_thread(Thread(id="t", resource_id="r"))
        time.sleep(11)
        assert store.get_thread_by_id("t") is not None
        time.sleep(11)
        store.save_messages([Message.user("after a pause", "t")])
        assert store.list_messages("t").total == 1
