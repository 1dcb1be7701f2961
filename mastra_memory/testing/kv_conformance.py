"""The key-value conformance suite every :class:`~mastra_memory.storage.base.MemoryStorage` with
key-value support runs (table ``mastra_kv``).

Use it like :mod:`mastra_memory.testing.conformance`: subclass and provide a ``store`` fixture
yielding a fresh, empty, set-up store::

    class TestMyStoreKV(KeyValueConformance):
        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(...) as s:
                yield s

Expiry checks run on a controlled clock (the ``clock`` fixture moves the time the storage layer
sees), plus one check in real time, so they are exact and fast on every backend.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mastra_memory.errors import MastraMemoryError, ValidationError
from mastra_memory.storage.base import MemoryStorage
from mastra_memory.storage.kv import KV_MISSING

__all__ = ["TYPED_VALUES", "KeyValueConformance"]

TYPED_VALUES: list[Any] = [
    0,
    -7,
    2**70,  # beyond 64-bit integers
    1.0,
    -0.5,
    1e300,
    3.141592653589793,
    True,
    False,
    None,
    "",
    'text with ünïcödé, emoji 🦜 and "quotes"\n',
    [],
    {},
    [1, 1.0, True, None, "1"],
    {"nested": {"list": [{"a": 1}, [2.5, [False]]], "null": None}, "n": 10},
]
"""Values whose type a round trip must keep exactly (``1`` vs ``1.0`` vs ``True``)."""


def _same(a: Any, b: Any) -> bool:
    """Type-strict deep equality (``1 == 1.0 == True`` in Python, but not here)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True) and type(a) is type(b)


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class KeyValueConformance:
    """Checks of the key-value contract. Subclasses provide the ``store`` fixture."""

    #: Keys written for the listing check, more than :attr:`page_size`.
    many_keys: int = 1500
    #: Page size of the listing check: 1,000, the default page, so the check lists beyond it.
    #: A backend whose test server is slow to insert may lower both (and list beyond 1,000 keys
    #: once in a test of its own).
    page_size: int = 1000

    @pytest.fixture
    def store(self) -> MemoryStorage:  # pragma: no cover - replaced by subclasses
        raise NotImplementedError("provide a `store` fixture yielding a fresh store")

    @pytest.fixture
    def clock(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Clock]:
        """Freeze the time the storage layer sees; ``clock.advance(s)`` moves it."""
        fake = _Clock(datetime.now(UTC).replace(microsecond=0))
        monkeypatch.setattr("mastra_memory.storage.base.now_utc", fake)
        yield fake

    # -- values ---------------------------------------------------------------------------------

    @pytest.mark.parametrize("value", TYPED_VALUES, ids=[repr(v)[:30] for v in TYPED_VALUES])
    def test_value_keeps_its_type(self, store: MemoryStorage, value: Any) -> None:
        store.kv_set("ns", "k", value)
        entry = store.kv_get("ns", "k")
        assert entry is not None
        assert _same(entry.value, value), (entry.value, value)

    def test_tuple_is_stored_as_array(self, store: MemoryStorage) -> None:
        store.kv_set("ns", "t", (1, "a"))
        entry = store.kv_get("ns", "t")
        assert entry is not None and entry.value == [1, "a"]

    @pytest.mark.parametrize(
        "bad",
        [float("nan"), float("inf"), {1: "int key"}, {"a": {2: 3}}, object(), b"bytes", {1, 2}],
        ids=["nan", "inf", "int-key", "nested-int-key", "object", "bytes", "set"],
    )
    def test_non_json_values_are_refused(self, store: MemoryStorage, bad: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_set("ns", "k", bad)
        assert store.kv_get("ns", "k") is None

    def test_deep_nesting_is_refused_not_crashing(self, store: MemoryStorage) -> None:
        deep: Any = []
        for _ in range(100_000):
            deep = [deep]
        with pytest.raises(ValidationError):
            store.kv_set("ns", "deep", deep)

    def test_value_size_limit(self, store: MemoryStorage) -> None:
        limit = store.max_kv_value_bytes
        store.kv_set("ns", "big", "x" * (limit - 2))  # two quotes make it exactly the limit
        with pytest.raises(ValidationError, match="over the limit"):
            store.kv_set("ns", "bigger", "x" * (limit - 1))

    def test_overwrite_replaces_value_and_keeps_created_at(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "k", 1)
        first = store.kv_get("ns", "k")
        clock.advance(5)
        store.kv_set("ns", "k", "two")
        second = store.kv_get("ns", "k")
        assert first is not None and second is not None
        assert second.value == "two"
        assert second.created_at == first.created_at
        assert second.updated_at == first.updated_at + timedelta(seconds=5)

    # -- keys and namespaces --------------------------------------------------------------------

    @pytest.mark.parametrize(
        "key",
        ["a/b/c", "with space", "ünï/ключ/键", "%2F", "?q=1&x#frag", "/leading", "a//b", "...", ".hidden", "k" * 512],
    )
    def test_unusual_but_valid_keys(self, store: MemoryStorage, key: str) -> None:
        store.kv_set("ns", key, key)
        entry = store.kv_get("ns", key)
        assert entry is not None and entry.value == key
        assert store.kv_list_keys("ns").keys == [key]

    @pytest.mark.parametrize(
        "key",
        ["", "k" * 513, "a\x00b", "tab\there", "\x7f", "..", ".", "../x", "a/../b", "a/./b", "x/..", 5, None, "\ud800"],
    )
    def test_invalid_keys(self, store: MemoryStorage, key: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_set("ns", key, 1)
        with pytest.raises(ValidationError):
            store.kv_get("ns", key)

    @pytest.mark.parametrize("namespace", ["", "a/b", "..", ".", "n" * 256, "x\ny", 3])
    def test_invalid_namespaces(self, store: MemoryStorage, namespace: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_set(namespace, "k", 1)

    def test_namespaces_are_isolated(self, store: MemoryStorage) -> None:
        store.kv_set("alpha", "shared", "a")
        store.kv_set("beta", "shared", "b")
        store.kv_set("alphabet", "other", 1)
        a, b = store.kv_get("alpha", "shared"), store.kv_get("beta", "shared")
        assert a is not None and a.value == "a" and b is not None and b.value == "b"
        assert store.kv_list_keys("alpha").keys == ["shared"]
        assert store.kv_clear("alpha") == 1
        assert store.kv_get("alpha", "shared") is None
        beta = store.kv_get("beta", "shared")
        assert beta is not None and beta.value == "b"
        assert store.kv_list_keys("alphabet").keys == ["other"]

    def test_delete_and_exists(self, store: MemoryStorage) -> None:
        store.kv_set("ns", "k", None)  # a stored null still exists
        assert store.kv_exists("ns", "k")
        assert store.kv_delete("ns", "k") is True
        assert store.kv_delete("ns", "k") is False
        assert not store.kv_exists("ns", "k")
        assert store.kv_get("ns", "k") is None

    # -- listing --------------------------------------------------------------------------------

    def test_prefix_listing_beyond_one_page(self, store: MemoryStorage) -> None:
        n, size = self.many_keys, self.page_size
        assert n > size
        expected = sorted(f"user/{i:05d}" for i in range(n))
        for key in expected:
            store.kv_set("big", key, 1)
        for i in range(10):
            store.kv_set("big", f"users-not/{i}", 1)  # shares "user" but not "user/"
            store.kv_set("big", f"admin/{i}", 1)
        page1 = store.kv_list_keys("big", prefix="user/", limit=size)
        assert len(page1.keys) == size and page1.next_after == page1.keys[-1]
        rest: list[str] = []
        after: str | None = page1.next_after
        while after is not None:
            page = store.kv_list_keys("big", prefix="user/", after_key=after, limit=size)
            rest += page.keys
            after = page.next_after
        assert page1.keys + rest == expected
        small: list[str] = []
        after = None
        while True:
            page = store.kv_list_keys("big", prefix="user/", after_key=after, limit=max(1, size // 3))
            small += page.keys
            if page.next_after is None:
                break
            after = page.next_after
        assert small == expected
        everything = store.kv_list_keys("big", limit=10_000).keys
        assert len(everything) == n + 20 and everything == sorted(everything)

    def test_prefix_with_like_wildcards_and_unicode(self, store: MemoryStorage) -> None:
        for key in ["a%b", "a%c", "axb", "a_b", "aab", "é1", "é2", "f", "\U0010ffffz", "\U0010ffff"]:
            store.kv_set("ns", key, 1)
        assert store.kv_list_keys("ns", prefix="a%").keys == ["a%b", "a%c"]
        assert store.kv_list_keys("ns", prefix="a_").keys == ["a_b"]
        assert store.kv_list_keys("ns", prefix="é").keys == ["é1", "é2"]
        assert store.kv_list_keys("ns", prefix="\U0010ffff").keys == ["\U0010ffff", "\U0010ffffz"]
        assert store.kv_list_keys("ns", prefix="zz").keys == []

    def test_listing_order_is_code_point_order(self, store: MemoryStorage) -> None:
        keys = ["B", "a", "Z", "é", "e", "10", "9", "_", "~", "中"]
        for key in keys:
            store.kv_set("ns", key, 1)
        assert store.kv_list_keys("ns").keys == sorted(keys)

    @pytest.mark.parametrize("prefix", ["a\x00", "\ud800", "p" * 513, 7])
    def test_invalid_prefix(self, store: MemoryStorage, prefix: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_list_keys("ns", prefix=prefix)

    @pytest.mark.parametrize("limit", [0, -1, 10_001, True, 1.5])
    def test_list_limit_is_validated(self, store: MemoryStorage, limit: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_list_keys("ns", limit=limit)

    # -- expiry ---------------------------------------------------------------------------------

    def test_ttl_expiry_hides_and_purges(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "short", "v", ttl=10)
        store.kv_set("ns", "long", "v", ttl=1000)
        store.kv_set("ns", "forever", "v")
        entry = store.kv_get("ns", "short")
        assert entry is not None and entry.expires_at == clock.now + timedelta(seconds=10)
        clock.advance(9.999)
        assert store.kv_exists("ns", "short")
        clock.advance(0.001)  # expiry is inclusive: at expires_at the key is gone
        assert not store.kv_exists("ns", "short")
        assert store.kv_get("ns", "short") is None
        assert store.kv_list_keys("ns").keys == ["forever", "long"]
        assert store.kv_stats("ns").keys == 2
        assert store.kv_delete("ns", "short") is False
        clock.advance(1000)
        assert store.kv_purge_expired() == 1  # "short" was already removed lazily by the read
        assert store.kv_list_keys("ns").keys == ["forever"]
        assert store.kv_purge_expired() == 0

    def test_set_without_ttl_clears_expiry(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "k", 1, ttl=5)
        store.kv_set("ns", "k", 2)
        clock.advance(10)
        entry = store.kv_get("ns", "k")
        assert entry is not None and entry.value == 2 and entry.expires_at is None

    def test_rewriting_an_expired_key_starts_fresh(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "k", 1, ttl=1)
        clock.advance(5)
        store.kv_set("ns", "k", 2)
        entry = store.kv_get("ns", "k")
        assert entry is not None and entry.created_at == clock.now

    def test_ttl_in_real_time(self, store: MemoryStorage) -> None:
        store.kv_set("ns", "k", [1], ttl=0.2)
        time.sleep(0.25)
        assert store.kv_get("ns", "k") is None
        assert not store.kv_exists("ns", "k")

    @pytest.mark.parametrize("ttl", [0, -1, float("nan"), float("inf"), "10", True, 1e12])
    def test_invalid_ttl(self, store: MemoryStorage, ttl: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_set("ns", "k", 1, ttl=ttl)

    # -- atomic updates -------------------------------------------------------------------------

    def test_increment_types(self, store: MemoryStorage) -> None:
        assert store.kv_increment("ns", "n") == 1
        value = store.kv_increment("ns", "n", 41)
        assert value == 42 and type(value) is int
        value = store.kv_increment("ns", "n", 0.5)
        assert value == 42.5 and type(value) is float
        entry = store.kv_get("ns", "n")
        assert entry is not None and entry.value == 42.5 and type(entry.value) is float
        assert store.kv_increment("ns", "big", 2**63) == 2**63
        assert store.kv_increment("ns", "big", 2**63) == 2**64
        assert store.kv_increment("ns", "neg", -3) == -3

    @pytest.mark.parametrize("stored", ["7", True, None, [1], {"n": 1}])
    def test_increment_refuses_non_numbers(self, store: MemoryStorage, stored: Any) -> None:
        store.kv_set("ns", "k", stored)
        with pytest.raises(ValidationError, match="not a number"):
            store.kv_increment("ns", "k")
        entry = store.kv_get("ns", "k")
        assert entry is not None and _same(entry.value, stored)

    @pytest.mark.parametrize("by", ["1", True, None, float("nan")])
    def test_increment_step_is_validated(self, store: MemoryStorage, by: Any) -> None:
        with pytest.raises(ValidationError):
            store.kv_increment("ns", "k", by)
        assert store.kv_get("ns", "k") is None

    def test_increment_overflow_to_infinity_is_refused(self, store: MemoryStorage) -> None:
        store.kv_set("ns", "f", 1.7e308)
        with pytest.raises(ValidationError):
            store.kv_increment("ns", "f", 1.7e308)

    def test_increment_ttl_applies_on_creation_only(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_increment("ns", "rate", ttl=60)
        clock.advance(30)
        store.kv_increment("ns", "rate", ttl=60)  # keeps the first expiry
        clock.advance(30)
        assert store.kv_get("ns", "rate") is None
        assert store.kv_increment("ns", "rate", ttl=60) == 1  # expired counter restarts at 0

    def test_compare_and_set(self, store: MemoryStorage) -> None:
        assert store.kv_compare_and_set("ns", "k", KV_MISSING, {"v": 1}) is True
        assert store.kv_compare_and_set("ns", "k", KV_MISSING, {"v": 2}) is False
        assert store.kv_compare_and_set("ns", "k", {"v": 2}, {"v": 3}) is False
        assert store.kv_compare_and_set("ns", "k", {"v": 1}, {"v": 3}) is True
        entry = store.kv_get("ns", "k")
        assert entry is not None and entry.value == {"v": 3}
        store.kv_set("ns", "n", 1)
        assert store.kv_compare_and_set("ns", "n", 1.0, 2) is False  # type-strict
        assert store.kv_compare_and_set("ns", "n", True, 2) is False
        assert store.kv_compare_and_set("ns", "n", 1, 2) is True
        store.kv_set("ns", "o", {"a": 1, "b": [1, 2]})
        assert store.kv_compare_and_set("ns", "o", {"b": [1, 2], "a": 1}, None) is True  # key order
        assert store.kv_compare_and_set("ns", "o", None, "x") is True  # null is a value, not missing
        assert store.kv_compare_and_set("ns", "absent", None, "x") is False

    def test_compare_and_set_on_expired_key(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "lock", "holder-a", ttl=5)
        assert store.kv_compare_and_set("ns", "lock", KV_MISSING, "holder-b", ttl=5) is False
        clock.advance(5)
        assert store.kv_compare_and_set("ns", "lock", "holder-a", "holder-c") is False
        assert store.kv_compare_and_set("ns", "lock", KV_MISSING, "holder-b", ttl=5) is True
        entry = store.kv_get("ns", "lock")
        assert entry is not None and entry.value == "holder-b"

    # -- housekeeping ---------------------------------------------------------------------------

    def test_stats(self, store: MemoryStorage, clock: _Clock) -> None:
        store.kv_set("ns", "a", "é")  # "é" in quotes: 4 bytes of UTF-8
        store.kv_set("ns", "b", 12345)
        store.kv_set("ns", "c", 1, ttl=1)
        store.kv_set("other", "z", "zzzz")
        clock.advance(2)
        stats = store.kv_stats("ns")
        assert (stats.keys, stats.value_bytes) == (2, 4 + 5)

    def test_clear_counts_rows(self, store: MemoryStorage) -> None:
        for i in range(25):
            store.kv_set("ns", f"k{i}", i)
        assert store.kv_clear("ns") == 25
        assert store.kv_clear("ns") == 0
        assert store.kv_list_keys("ns").keys == []

    def test_errors_share_one_base(self, store: MemoryStorage) -> None:
        with pytest.raises(MastraMemoryError):
            store.kv_set("", "k", 1)
