"""Conformance checks of the keyword-search primitive (:meth:`MemoryStorage.search_messages`).

Subclass it with a ``store`` fixture yielding a fresh, empty, set-up store, as for
:class:`~mastra_memory.testing.conformance.MemoryStorageConformance`::

    class TestMyStoreKeywords(KeywordSearchConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with open_storage(f"file:{tmp_path}/t.db") as s:
                yield s

Every check holds for a backend that only inherits the base class's fallback (BM25 in Python
over the scope's messages) as well as for one searching inside its database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mastra_memory.errors import ValidationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.types import Message, MessageContent, SemanticHit, TextPart, Thread, ToolInvocationPart

__all__ = ["KeywordSearchConformance"]

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _setup(store: MemoryStorage) -> None:
    for tid, rid in (("ta", "ana"), ("tb", "ana"), ("tc", "bob")):
        store.save_thread(Thread(id=tid, resource_id=rid, created_at=T0, updated_at=T0))
    texts = {
        "ta": ["I went hiking in the Dolomites", "lovely, how was the weather?", "rainy but fine"],
        "tb": ["my sister Zanzibar-born Amelie visits in May", "nice, where will you go?"],
        "tc": ["bob hikes the Dolomites every summer", "Amelie is bob's cousin"],
    }
    for tid, items in texts.items():
        store.save_messages(
            [
                Message(
                    id=f"{tid}-{i}",
                    thread_id=tid,
                    role="user" if i % 2 == 0 else "assistant",
                    content=MessageContent(parts=[TextPart(text=text)]),
                    created_at=T0 + timedelta(minutes=i),
                )
                for i, text in enumerate(items)
            ]
        )


def _ids(hits: list[SemanticHit]) -> list[str]:
    return [h.message_id for h in hits]


class KeywordSearchConformance:
    """Behaviour every backend's ``search_messages`` shares."""

    def test_finds_stemmed_words_in_the_resource_only(self, store: MemoryStorage) -> None:
        _setup(store)
        hits = store.search_messages("where did she hike?", resource_id="ana")
        assert _ids(hits)[0] == "ta-0"  # ta-1 may follow: backends may index a reply's context
        assert set(_ids(hits)) <= {"ta-0", "ta-1"}
        assert hits[0].thread_id == "ta" and hits[0].score > 0
        assert _ids(store.search_messages("hike", resource_id="bob"))[0] == "tc-0"

    def test_thread_scope_and_ranking(self, store: MemoryStorage) -> None:
        _setup(store)
        assert _ids(store.search_messages("amelie", thread_id="tb"))[0] == "tb-0"
        assert store.search_messages("dolomites", thread_id="tb") == []
        ranked = _ids(store.search_messages("amelie zanzibar may", resource_id="ana"))
        assert ranked[0] == "tb-0"
        assert len(store.search_messages("dolomites hiking weather rainy", resource_id="ana", limit=2)) == 2

    def test_saves_updates_and_deletes_are_seen_at_once(self, store: MemoryStorage) -> None:
        _setup(store)
        store.save_messages([Message.user("snowy, quokka", "ta", id="ta-2", created_at=T0 + timedelta(minutes=2))])
        assert _ids(store.search_messages("quokka", resource_id="ana")) == ["ta-2"]
        assert store.search_messages("rainy", resource_id="ana") == []
        store.delete_messages(["ta-2"])
        assert store.search_messages("quokka", resource_id="ana") == []
        store.delete_thread("tb")
        assert store.search_messages("amelie", resource_id="ana") == []
        assert _ids(store.search_messages("amelie", resource_id="bob")) == ["tc-1"]

    def test_only_text_parts_are_indexed(self, store: MemoryStorage) -> None:
        store.save_thread(Thread(id="tt", resource_id="ana", created_at=T0, updated_at=T0))
        content = MessageContent(
            parts=[
                TextPart(text="checking the forecast"),
                ToolInvocationPart(tool_call_id="c1", tool_name="weather", args={"city": "Reykjavik"}, state="call"),
                TextPart(text="for tomorrow"),
            ]
        )
        store.save_messages([Message(id="tt-0", thread_id="tt", role="assistant", content=content, created_at=T0)])
        assert _ids(store.search_messages("tomorrow forecast", resource_id="ana")) == ["tt-0"]
        assert store.search_messages("reykjavik", resource_id="ana") == []

    def test_clones_are_searchable(self, store: MemoryStorage) -> None:
        _setup(store)
        clone = store.clone_thread("ta", Thread(id="ta-copy", resource_id="ana", created_at=T0, updated_at=T0))
        assert clone.thread.id == "ta-copy"
        hits = store.search_messages("dolomites", thread_id="ta-copy")
        assert hits and {h.thread_id for h in hits} == {"ta-copy"}
        assert clone.message_id_map["ta-0"] == hits[0].message_id

    def test_ensure_keyword_index_covers_earlier_and_later_saves(self, store: MemoryStorage) -> None:
        """Messages saved before the index exists (a backend that builds it on first use) are
        in it once built; later saves are seen at once; a second call builds nothing."""
        _setup(store)
        assert isinstance(store.ensure_keyword_index(), bool)
        assert store.ensure_keyword_index() is False
        assert _ids(store.search_messages("dolomites", resource_id="ana"))[0] == "ta-0"
        store.save_messages([Message.user("kayaking in Norway", "ta", id="ta-9", created_at=T0)])
        assert _ids(store.search_messages("kayaking", resource_id="ana"))[0] == "ta-9"

    def test_queries_without_searchable_words(self, store: MemoryStorage) -> None:
        _setup(store)
        assert store.search_messages("", resource_id="ana") == []
        assert store.search_messages("what is the of it?", resource_id="ana") == []
        assert store.search_messages("\"*) OR NOT: ' ; DROP", resource_id="ana") == []
        assert store.search_messages("hiking", resource_id="nobody") == []

    @pytest.mark.parametrize(
        "kwargs",
        [
            {},
            {"resource_id": "ana", "thread_id": "ta"},
            {"resource_id": "ana", "limit": 0},
            {"resource_id": "ana", "limit": 1001},
            {"resource_id": "ana", "limit": True},
            {"resource_id": ""},
        ],
    )
    def test_bad_arguments_are_validation_errors(self, store: MemoryStorage, kwargs: dict[str, object]) -> None:
        _setup(store)
        with pytest.raises(ValidationError):
            store.search_messages("hiking", **kwargs)  # type: ignore[arg-type]
        with pytest.raises(ValidationError):
            store.search_messages(None, resource_id="ana")  # type: ignore[arg-type]
        assert _ids(store.search_messages("hiking", resource_id="ana"))[0] == "ta-0"
