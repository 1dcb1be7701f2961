"""DynamoDBStore specifics on the real DynamoDB-compatible server (moto, started by
``scripts/services.sh``): the table ``setup()`` creates, @mastra/dynamodb's item layout, DynamoDB's
limits (transactions of 100 items, 400 KB items), key-value TTL, URLs, and many processes
writing at once. The shared suites (storage, key-value, observational memory) run through
``tests/servers.py`` FACTORIES["dynamodb"].
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mastra_memory.errors import ConfigurationError, NoDataError, ThreadConflictError, ValidationError
from mastra_memory.storage import open_storage
from mastra_memory.types import Message, Thread, now_utc
from tests import servers

pytest.importorskip("boto3", reason="boto3 not installed ([dynamodb])")

from storage_adapters.dynamodb import DynamoDBStore

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DynamoDBStore]:
    with servers.dynamodb_store() as s:
        assert isinstance(s, DynamoDBStore)
        yield s


def _raw(store: DynamoDBStore, pk: str, sk: str) -> dict[str, Any]:
    item = store._client.get_item(TableName=store.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}})["Item"]
    return {k: next(iter(v.values())) for k, v in item.items()}


def test_setup_creates_the_table_with_its_indexes_and_ttl(store: DynamoDBStore) -> None:
    table = store._client.describe_table(TableName=store.table_name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"pk": "HASH", "sk": "RANGE"}
    assert sorted(g["IndexName"] for g in table["GlobalSecondaryIndexes"]) == ["gsi1", "gsi2"]
    ttl = store._client.describe_time_to_live(TableName=store.table_name)["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "ttl"
    store._ready = False
    store.setup()  # idempotent on an existing table


def test_items_have_mastra_dynamodbs_keys_and_attributes(store: DynamoDBStore) -> None:
    """The exact items ElectroDB (@mastra/dynamodb 1.0) writes for the same thread and message."""
    store.save_thread(Thread(id="Th-1", resource_id="User-A", title="T", metadata={"a": 1}, created_at=T0))
    store.save_messages([Message.user("hi", "Th-1", id="Msg-1", created_at=T0)])
    thread = _raw(store, "$mastra#entity_thread#id_th-1", "$thread_1#id_th-1")
    assert thread["gsi1pk"] == "$mastra#entity_thread#resourceid_user-a"
    assert thread["gsi1sk"] == "$thread_1#createdat_2025-03-01t09:00:00.000z"
    assert (thread["id"], thread["resourceId"], thread["metadata"]) == ("Th-1", "User-A", '{"a":1}')
    assert (thread["__edb_e__"], thread["__edb_v__"], thread["entity"]) == ("thread", "1", "thread")
    msg = _raw(store, "$mastra#entity_message#id_msg-1", "$message_1#entity_message")
    assert msg["gsi1pk"] == "$mastra#entity_message#threadid_th-1"
    assert msg["gsi1sk"] == "$message_1#createdat_2025-03-01t09:00:00.000z"
    assert (msg["threadId"], msg["resourceId"], msg["role"], msg["type"]) == ("Th-1", "User-A", "user", "v2")
    assert msg["createdAt"] == "2025-03-01T09:00:00.000Z" and msg["content"].startswith('{"format":2')


def test_ids_differing_only_in_case_are_refused_not_mixed(store: DynamoDBStore) -> None:
    store.create_thread(Thread(id="Abc", resource_id="r"))
    with pytest.raises(ValidationError, match="collides"):
        store.create_thread(Thread(id="abc", resource_id="r"))
    assert store.get_thread_by_id("abc") is None
    assert store.get_thread_by_id("Abc") is not None
    store.save_messages([Message.user("one", "Abc", id="M")])
    with pytest.raises(ValidationError, match="collides"):
        store.save_messages([Message.user("two", "Abc", id="m")])
    assert [m.text for m in store.list_messages("Abc").messages] == ["one"]


def test_create_thread_is_insert_only(store: DynamoDBStore) -> None:
    store.create_thread(Thread(id="t", resource_id="alice"))
    with pytest.raises(ThreadConflictError):
        store.create_thread(Thread(id="t", resource_id="mallory"))
    thread = store.get_thread_by_id("t")
    assert thread is not None and thread.resource_id == "alice"


def test_a_batch_over_the_transaction_limit_is_saved_whole(store: DynamoDBStore) -> None:
    store.save_thread(Thread(id="t", resource_id="r"))
    batch = [Message.user(f"m{i}", "t", id=f"m{i:04d}", created_at=T0 + timedelta(seconds=i)) for i in range(250)]
    store.save_messages(batch)
    page = store.list_messages("t", per_page=False)
    assert [m.id for m in page.messages] == [m.id for m in batch] and page.total == 250
    last = store.list_messages("t", per_page=40, page=1)
    assert [m.id for m in last.messages] == [f"m{i:04d}" for i in range(170, 210)] and last.has_more
    clone = store.clone_thread("t", Thread(id="c", resource_id="r"))
    assert len(clone.cloned_messages) == 250
    assert store.list_messages("c", per_page=False).total == 250
    store.delete_thread("t")
    assert store.list_messages("t", per_page=False).total == 0
    assert store.list_messages("c", per_page=False).total == 250


def test_a_large_message_is_split_into_parts_and_joined_back(store: DynamoDBStore) -> None:
    store.save_thread(Thread(id="t", resource_id="r"))
    text = "é" * 900_000  # 1.8 MB of UTF-8: six parts
    store.save_messages([Message.user(text, "t", id="big")])
    (got,) = store.list_messages("t").messages
    assert got.text == text
    store.save_messages([Message.user("small now", "t", id="big")])  # the stale parts go
    (got,) = store.list_messages_by_id(["big"])
    assert got.text == "small now"
    left = store._client.query(
        TableName=store.table_name,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "$mastra#entity_message#id_big"}},
    )["Items"]
    assert len(left) == 1
    with pytest.raises(ValidationError, match="over the limit"):
        store.save_messages([Message.user("x" * (3 * 1024 * 1024 + 1), "t", id="huge")])


def test_kv_ttl_uses_the_tables_ttl_attribute_and_reads_filter(store: DynamoDBStore) -> None:
    store.kv_set("ns", "soon", 1, ttl=0.5)
    store.kv_set("ns", "kept", 2)
    raw = _raw(store, "$mastra#entity_kv#namespace_ns", "$kv_1#key_soon")
    assert abs(int(raw["ttl"]) - time.time()) <= 2  # epoch seconds, for DynamoDB's own deletion
    assert "ttl" not in _raw(store, "$mastra#entity_kv#namespace_ns", "$kv_1#key_kept")
    time.sleep(0.7)
    # DynamoDB has not deleted it (it deletes expired items late): every read filters it
    assert store.kv_get("ns", "soon") is None and not store.kv_exists("ns", "soon")
    assert store.kv_list_keys("ns").keys == ["kept"]
    assert store.kv_stats("ns").keys == 1


def test_urls_and_registry(store: DynamoDBStore) -> None:
    url = f"dynamodb://{store.table_name}?region=us-east-1&endpoint_url={store.endpoint_url}"
    other = open_storage(url)
    assert isinstance(other, DynamoDBStore) and other.table_name == store.table_name
    store.save_thread(Thread(id="t", resource_id="r"))
    assert other.get_thread_by_id("t") is not None
    with pytest.raises(ConfigurationError, match="unknown"):
        open_storage("dynamodb://tbl?regoin=x")
    with pytest.raises(ConfigurationError, match="names the table"):
        DynamoDBStore.from_url("dynamodb://")
    with pytest.raises(ValidationError):
        DynamoDBStore("x", endpoint_url=store.endpoint_url)
    missing = DynamoDBStore(servers.unique("absent"), region="us-east-1", endpoint_url=store.endpoint_url)
    with pytest.raises(NoDataError):
        missing.connect(create=False)


# -- many processes at once ------------------------------------------------------------------

# moto applies one request at a time (scripts/moto_server.py): 8 x 50 saves and 8 x 100
# increments took 37 s and 40 s. A barrier releases the eight processes together (see _run) and
# their requests interleave from the first to the last, so 20 saves and 25 increments each still
# race on one thread and one counter through the whole run: a lost update or a misordered save
# still fails the exact checks below.
WRITERS = 8
PER_WRITER = 20
INCREMENTS = 25


def _writer(table: str, endpoint: str, writer: int, start: Any, out: Any) -> None:
    try:
        with DynamoDBStore(table, region="us-east-1", endpoint_url=endpoint) as store:
            start.wait(60)
            last = now_utc()
            for j in range(PER_WRITER):
                last = max(now_utc(), last + timedelta(milliseconds=1))
                store.save_messages(
                    [Message.user(f"w{writer} m{j}", "shared", id=f"w{writer}-{j:03d}", created_at=last)]
                )
        out.put(("ok", writer))
    except BaseException as exc:
        out.put(("error", f"writer {writer}: {type(exc).__name__}: {exc}"))


def _incrementer(table: str, endpoint: str, start: Any, out: Any) -> None:
    try:
        with DynamoDBStore(table, region="us-east-1", endpoint_url=endpoint) as store:
            start.wait(60)
            for _ in range(INCREMENTS):
                store.kv_increment("ctr", "hits")
        out.put(("ok", 0))
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _run(target: Any, args: tuple[Any, ...], n: int) -> None:
    ctx = mp.get_context("spawn")
    # a barrier, not an event set right after start(): the processes take a second or more to
    # import, and only a barrier makes all of them begin their requests at the same moment
    start, out = ctx.Barrier(n), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(*args, i, start, out) if target is _writer else (*args, start, out))
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(30)
    errors = [d for s, d in results if s != "ok"]
    assert not errors, errors


def test_eight_processes_write_twenty_messages_each_on_one_thread(store: DynamoDBStore) -> None:
    store.save_thread(Thread(id="shared", resource_id="r"))
    _run(_writer, (store.table_name, store.endpoint_url), WRITERS)
    page = store.list_messages("shared", per_page=False)
    ids = [m.id for m in page.messages]
    assert len(ids) == len(set(ids)) == page.total == WRITERS * PER_WRITER
    for w in range(WRITERS):
        assert [i for i in ids if i.startswith(f"w{w}-")] == [f"w{w}-{j:03d}" for j in range(PER_WRITER)]


def test_eight_processes_increment_one_key_twenty_five_times_each(store: DynamoDBStore) -> None:
    _run(_incrementer, (store.table_name, store.endpoint_url), WRITERS)
    entry = store.kv_get("ctr", "hits")
    assert entry is not None and entry.value == WRITERS * INCREMENTS
