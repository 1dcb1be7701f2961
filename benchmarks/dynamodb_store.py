"""The storage workload of ../shared/bench/mastra_ts (bench.mjs) on DynamoDBStore, beside raw
boto3 doing the same DynamoDB operations on the same kind of table.

Run against the DynamoDB-compatible server of ``scripts/services.sh`` (moto) or any endpoint::

    eval "$(scripts/services.sh env)"
    python benchmarks/dynamodb_store.py [--scale 0.2] [--endpoint-url URL] [--ts]

``--ts`` also runs the workload on Mastra's @mastra/memory + @mastra/dynamodb
(benchmarks/dynamodb_ts.mjs; ``bash scripts/ts_interop.sh`` installs them).

Workload (bench.mjs's, every count times ``--scale``; 0.2 by default because moto is a
single-process Python server that applies one request at a time): create N threads; save
messages one per call into one thread, and 100 per call into a second; recall the last 10 of the
big thread; list page 0 of 100 threads of a resource; clone the big thread; get threads by id.

"ours" goes through the public API (``Memory``), one fresh table per run. "raw boto3" does the
same DynamoDB requests a minimal hand-written client needs, in the same item layout:
conditional ``PutItem`` per thread, ``TransactWriteItems`` (the thread's ``updatedAt`` plus each
message under a "same thread" condition) per batch, a ``gsi1`` ``Query`` (newest first, limit 10)
per recall, a ``gsi1`` query of the resource's threads per list, queries plus transactions of 100
per clone, ``GetItem`` per get. It skips what the store adds for correctness (owner checks,
ordering after the newest message, observation cursors, id-collision checks), so the ratio is
the price of those guarantees. On moto the server dominates both sides: the numbers say little
about AWS, where each request is a network round trip of a few milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

from mastra_memory import Memory, Message, MessageContent, TextPart
from storage_adapters.dynamodb import DynamoDBStore

BASE = datetime(2025, 1, 1, tzinfo=UTC)
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip. "
)


def text(i: int) -> str:
    return (f"message {i}: " + LOREM * 3)[:200]


def iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def counts(scale: float) -> dict[str, int]:
    base = {"threads": 1000, "save1": 1000, "msgs": 10_000, "recall": 1000, "list": 200, "clone": 5, "get": 1000}
    return {k: max(1, int(v * scale)) for k, v in base.items()}


def run_ours(endpoint: str, n: dict[str, int]) -> dict[str, Any]:
    store = DynamoDBStore(f"bench_{uuid.uuid4().hex[:8]}", region="us-east-1", endpoint_url=endpoint)
    store.setup()
    memory = Memory(storage=store, options={"last_messages": 10})
    ops: dict[str, Any] = {}
    try:
        t = time.perf_counter()
        ids = [memory.create_thread("res-threads", thread_id=f"t-{i:06d}").id for i in range(n["threads"])]
        ops["createThread_per_s"] = round(n["threads"] / (time.perf_counter() - t))
        single = memory.create_thread("res-msgs", thread_id="single")
        msgs = [
            Message.user(text(i), single.id, id=f"s-{i:06d}", created_at=BASE + timedelta(seconds=i))
            for i in range(n["save1"])
        ]
        t = time.perf_counter()
        for m in msgs:
            memory.save_messages([m])
        ops["saveMessages_batch1_per_s"] = round(n["save1"] / (time.perf_counter() - t))
        big = memory.create_thread("res-msgs", thread_id="big")
        msgs = [
            Message(
                id=f"b-{i:06d}",
                thread_id=big.id,
                resource_id="res-msgs",
                role="user" if i % 2 == 0 else "assistant",
                created_at=BASE + timedelta(seconds=i),
                content=MessageContent(parts=[TextPart(text=text(i))]),
            )
            for i in range(n["msgs"])
        ]
        t = time.perf_counter()
        for i in range(0, len(msgs), 100):
            memory.save_messages(msgs[i : i + 100])
        ops["saveMessages_batch100_per_s"] = round(n["msgs"] / (time.perf_counter() - t))
        first = memory.recall(big.id, resource_id="res-msgs", per_page=10)
        assert [m.id for m in first.messages][-1] == msgs[-1].id and first.total == n["msgs"]
        ops["recall_last10_p50_ms"] = p50(
            timed(lambda: memory.recall(big.id, resource_id="res-msgs", per_page=10), n["recall"])
        )
        page = memory.list_threads(resource_id="res-threads", per_page=100)
        assert len(page.threads) == min(100, n["threads"]) and page.total == n["threads"]
        ops["listThreads_100_p50_ms"] = p50(
            timed(lambda: memory.list_threads(resource_id="res-threads", per_page=100), n["list"])
        )
        clones = timed(lambda: memory.clone_thread(big.id, resource_id="res-msgs"), n["clone"])
        ops["cloneThread_p50_ms"] = p50(clones)
        k = iter(range(10**9))
        ops["getThreadById_p50_ms"] = p50(timed(lambda: memory.get_thread_by_id(ids[next(k) % len(ids)]), n["get"]))
    finally:
        store.drop_table()
    return ops


def run_raw(endpoint: str, n: dict[str, int]) -> dict[str, Any]:
    """The same requests by hand with the low-level boto3 client (see the module docstring)."""
    probe = DynamoDBStore(f"bench_raw_{uuid.uuid4().hex[:8]}", region="us-east-1", endpoint_url=endpoint)
    probe.setup()  # the same table definition
    c = probe._client
    table = probe.table_name
    ops: dict[str, Any] = {}

    def thread_item(tid: str, rid: str) -> dict[str, Any]:
        now = iso(datetime.now(UTC))
        return {
            "pk": {"S": f"$mastra#entity_thread#id_{tid}"},
            "sk": {"S": f"$thread_1#id_{tid}"},
            "gsi1pk": {"S": f"$mastra#entity_thread#resourceid_{rid}"},
            "gsi1sk": {"S": f"$thread_1#createdat_{now.lower()}"},
            "entity": {"S": "thread"},
            "id": {"S": tid},
            "resourceId": {"S": rid},
            "title": {"S": ""},
            "metadata": {"S": "{}"},
            "createdAt": {"S": now},
            "updatedAt": {"S": now},
        }

    def msg_item(mid: str, tid: str, i: int) -> dict[str, Any]:
        at = iso(BASE + timedelta(seconds=i))
        content = json.dumps({"format": 2, "parts": [{"type": "text", "text": text(i)}]})
        return {
            "pk": {"S": f"$mastra#entity_message#id_{mid}"},
            "sk": {"S": "$message_1#entity_message"},
            "gsi1pk": {"S": f"$mastra#entity_message#threadid_{tid}"},
            "gsi1sk": {"S": f"$message_1#createdat_{at.lower()}"},
            "entity": {"S": "message"},
            "id": {"S": mid},
            "threadId": {"S": tid},
            "resourceId": {"S": "res-msgs"},
            "role": {"S": "user" if i % 2 == 0 else "assistant"},
            "type": {"S": "v2"},
            "content": {"S": content},
            "createdAt": {"S": at},
        }

    def save(tid: str, items: list[dict[str, Any]]) -> None:
        bump = {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": f"$mastra#entity_thread#id_{tid}"}, "sk": {"S": f"$thread_1#id_{tid}"}},
                "UpdateExpression": "SET updatedAt = :now",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":now": {"S": iso(datetime.now(UTC))}},
            }
        }
        for s in range(0, len(items), 99):
            puts = [
                {
                    "Put": {
                        "TableName": table,
                        "Item": it,
                        "ConditionExpression": "attribute_not_exists(pk) OR threadId = :t",
                        "ExpressionAttributeValues": {":t": {"S": tid}},
                    }
                }
                for it in items[s : s + 99]
            ]
            c.transact_write_items(TransactItems=[bump, *puts])

    def query_all(**args: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            resp = c.query(TableName=table, **args)
            out += resp["Items"]
            if "LastEvaluatedKey" not in resp:
                return out
            args["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    try:
        t = time.perf_counter()
        for i in range(n["threads"]):
            c.put_item(
                TableName=table,
                Item=thread_item(f"t-{i:06d}", "res-threads"),
                ConditionExpression="attribute_not_exists(pk)",
            )
        ops["createThread_per_s"] = round(n["threads"] / (time.perf_counter() - t))
        c.put_item(TableName=table, Item=thread_item("single", "res-msgs"))
        t = time.perf_counter()
        for i in range(n["save1"]):
            save("single", [msg_item(f"s-{i:06d}", "single", i)])
        ops["saveMessages_batch1_per_s"] = round(n["save1"] / (time.perf_counter() - t))
        c.put_item(TableName=table, Item=thread_item("big", "res-msgs"))
        items = [msg_item(f"b-{i:06d}", "big", i) for i in range(n["msgs"])]
        t = time.perf_counter()
        for i in range(0, len(items), 100):
            save("big", items[i : i + 100])
        ops["saveMessages_batch100_per_s"] = round(n["msgs"] / (time.perf_counter() - t))

        def recall() -> None:
            c.query(
                TableName=table,
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p AND begins_with(gsi1sk, :b)",
                ExpressionAttributeValues={
                    ":p": {"S": "$mastra#entity_message#threadid_big"},
                    ":b": {"S": "$message_1#createdat_"},
                },
                ScanIndexForward=False,
                Limit=10,
            )
            c.get_item(
                TableName=table, Key={"pk": {"S": "$mastra#entity_thread#id_big"}, "sk": {"S": "$thread_1#id_big"}}
            )

        ops["recall_last10_p50_ms"] = p50(timed(recall, n["recall"]))

        def list_threads() -> None:
            got = query_all(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues={":p": {"S": "$mastra#entity_thread#resourceid_res-threads"}},
                ScanIndexForward=False,
            )
            assert len(got[:100]) == min(100, n["threads"])

        ops["listThreads_100_p50_ms"] = p50(timed(list_threads, n["list"]))
        k = iter(range(10**9))

        def clone() -> None:
            cid = f"c-{next(k)}"
            got = query_all(
                IndexName="gsi1",
                KeyConditionExpression="gsi1pk = :p",
                ExpressionAttributeValues={":p": {"S": "$mastra#entity_message#threadid_big"}},
            )
            c.put_item(
                TableName=table, Item=thread_item(cid, "res-msgs"), ConditionExpression="attribute_not_exists(pk)"
            )
            copies = []
            for it in got:
                mid = f"{cid}-{it['id']['S']}"
                copies.append(
                    {
                        **it,
                        "id": {"S": mid},
                        "pk": {"S": f"$mastra#entity_message#id_{mid}"},
                        "threadId": {"S": cid},
                        "gsi1pk": {"S": f"$mastra#entity_message#threadid_{cid}"},
                    }
                )
            for s in range(0, len(copies), 100):
                c.transact_write_items(
                    TransactItems=[{"Put": {"TableName": table, "Item": it}} for it in copies[s : s + 100]]
                )

        ops["cloneThread_p50_ms"] = p50(timed(clone, n["clone"]))
        g = iter(range(10**9))

        def get() -> None:
            tid = f"t-{next(g) % n['threads']:06d}"
            c.get_item(
                TableName=table,
                Key={"pk": {"S": f"$mastra#entity_thread#id_{tid}"}, "sk": {"S": f"$thread_1#id_{tid}"}},
                ConsistentRead=True,
            )

        ops["getThreadById_p50_ms"] = p50(timed(get, n["get"]))
    finally:
        probe.drop_table()
    return ops


def run_ts(endpoint: str, n: dict[str, int]) -> dict[str, Any]:
    """The workload on @mastra/memory + @mastra/dynamodb (benchmarks/dynamodb_ts.mjs), on a
    table created the same way (its package does not create tables)."""
    import subprocess

    store = DynamoDBStore(f"bench_ts_{uuid.uuid4().hex[:8]}", region="us-east-1", endpoint_url=endpoint)
    store.setup()
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "MASTRA_TEST_TS_INTEROP": os.environ.get("MASTRA_TEST_TS_INTEROP", str(root / ".services/ts-interop")),
    }
    try:
        proc = subprocess.run(
            ["node", str(root / "benchmarks" / "dynamodb_ts.mjs"), store.table_name, endpoint, json.dumps(n)],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dynamodb_ts.mjs failed: {proc.stderr[-2000:]}")
        return json.loads(proc.stdout)  # type: ignore[no-any-return]
    finally:
        store.drop_table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", default=None, help="default: the endpoint of $MASTRA_TEST_DYNAMODB_URL")
    parser.add_argument("--scale", type=float, default=0.2, help="fraction of bench.mjs's counts (0.2)")
    parser.add_argument("--ts", action="store_true", help="also run @mastra/dynamodb (bash scripts/ts_interop.sh)")
    args = parser.parse_args()
    endpoint = args.endpoint_url
    if endpoint is None:
        url = os.environ.get("MASTRA_TEST_DYNAMODB_URL")
        if not url:
            sys.exit('set MASTRA_TEST_DYNAMODB_URL (eval "$(scripts/services.sh env)") or pass --endpoint-url')
        endpoint = DynamoDBStore.from_url(url).endpoint_url
    n = counts(args.scale)
    print(f"counts: {n}")
    ours = run_ours(endpoint or "", n)
    raw = run_raw(endpoint or "", n)
    ts = run_ts(endpoint or "", n) if args.ts else {}
    print(f"{'op':30} {'ours':>10} {'raw boto3':>10} {'ours/raw':>9} {'mastra-ts':>10} {'ours/ts':>8}")
    for op in ours:
        a, b = ours[op], raw[op]
        ratio = a / b if op.endswith("per_s") else b / a  # > 1 means ours is faster
        line = f"{op:30} {a:>10} {b:>10} {ratio:>9.2f}"
        if op in ts and ts[op] is None:
            line += f" {'n/a':>10}"
        elif op in ts:
            c = ts[op]
            line += f" {c:>10} {(a / c if op.endswith('per_s') else c / a):>8.2f}"
        print(line)


if __name__ == "__main__":
    main()
