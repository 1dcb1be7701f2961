"""Redis specifics on the real server (``MASTRA_TEST_REDIS_URL``, a database of its own): the
@mastra/upstash key layout, the registry, atomic batches, many processes on one thread and on
one counter, the vector seam. The conformance suites run on Redis through ``tests/servers.py``.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest

from mastra_memory.errors import NoDataError, ThreadConflictError, ValidationError
from mastra_memory.storage import open_storage, open_vector
from mastra_memory.storage.vector import VectorStore
from mastra_memory.testing.vector_conformance import VectorStoreConformance
from mastra_memory.types import Message, Thread, now_utc
from tests import servers

pytest.importorskip("redis", reason="redis-py not installed ([redis])")

from storage_adapters.redis import RedisStore, RedisVector

WRITERS = 8
PER_WRITER = 50
INCREMENTS = 100


@pytest.fixture
def url() -> str:
    return servers.url_or_skip(servers.REDIS)


@pytest.fixture
def store(url: str) -> Iterator[RedisStore]:
    with servers.redis_store() as s:
        assert isinstance(s, RedisStore)
        yield s


def _prefixed(url: str) -> tuple[str, str]:
    prefix = f"mmtest_{uuid.uuid4().hex[:10]}:"
    return f"{url}?key_prefix={prefix}", prefix


def test_key_layout_follows_upstash(store: RedisStore) -> None:
    r, p = store._r, store.key_prefix
    store.create_thread(Thread(id="t-1", resource_id="ana", title="trip", metadata={"a": 1}))
    saved = store.save_messages([Message.user("hello", "t-1", id="m-1"), Message.assistant("hi", "t-1", id="m-2")])
    thread = orjson.loads(r.get(f"{p}mastra_threads:id:t-1"))
    assert thread["resourceId"] == "ana" and thread["metadata"] == {"a": 1} and thread["createdAt"].endswith("Z")
    message = orjson.loads(r.get(f"{p}mastra_messages:threadId:t-1:id:m-1"))
    assert message["threadId"] == "t-1" and message["resourceId"] == "ana" and message["role"] == "user"
    assert message["content"]["format"] == 2 and message["content"]["parts"][0]["text"] == "hello"
    members = r.zrange(f"{p}thread:t-1:messages", 0, -1, withscores=True)
    assert [(m.decode(), int(s)) for m, s in members] == [(m.id, int(m.created_at.timestamp() * 1000)) for m in saved]
    store.update_resource("ana", working_memory="# Ana")
    assert orjson.loads(r.get(f"{p}mastra_resources:ana"))["workingMemory"] == "# Ana"
    assert r.zrange(f"{p}mastra_threads:resource:ana:by_created", 0, -1) == [b"t-1"]


def test_registry_opens_redis_urls_and_create_false_creates_nothing(url: str) -> None:
    store_url, prefix = _prefixed(url)
    with pytest.raises(NoDataError):
        open_storage(store_url, create=False)
    store = open_storage(store_url)
    try:
        assert isinstance(store, RedisStore) and store.key_prefix == prefix
        store.create_thread(Thread(id="t", resource_id="r"))
        again = open_storage(store_url, create=False)
        assert again.get_thread_by_id("t") is not None
        again.close()
        vector = open_vector(store_url)
        assert isinstance(vector, RedisVector)
        vector.close()
    finally:
        store.drop_keys()  # type: ignore[attr-defined]
        store.close()


def test_rediss_url_is_registered() -> None:
    from mastra_memory.storage.registry import backend_class

    assert backend_class("rediss://default:x@example.upstash.io:6379") is RedisStore
    assert backend_class("rediss://h:6379", kind="vector") is RedisVector


def test_a_refused_batch_writes_nothing(store: RedisStore) -> None:
    """One message of the batch names a thread that is missing: not one key is written."""
    store.create_thread(Thread(id="t-1", resource_id="ana"))
    before = sorted(store._r.keys(store.key_prefix + "*"))
    batch = [Message.user(f"m{i}", "t-1", id=f"ok-{i}") for i in range(5)] + [Message.user("x", "nope", id="bad")]
    with pytest.raises(Exception, match="nope"):
        store.save_messages(batch)
    assert sorted(store._r.keys(store.key_prefix + "*")) == before
    store.create_thread(Thread(id="t-2", resource_id="ana"))
    store.save_messages([Message.user("there", "t-2", id="taken")])
    before = {k: store._r.dump(k) for k in store._r.keys(store.key_prefix + "*")}
    with pytest.raises(ValidationError, match="another thread"):
        store.save_messages([Message.user("a", "t-1", id="fresh"), Message.user("b", "t-1", id="taken")])
    assert {k: store._r.dump(k) for k in store._r.keys(store.key_prefix + "*")} == before


def test_guarded_write_checks_before_it_writes(store: RedisStore) -> None:
    """A failed guard in the middle of the list leaves every key untouched."""
    from storage_adapters.redis.store import _Txn

    p = store.key_prefix
    store._r.set(p + "a", "1")
    txn = _Txn()
    txn.get_eq(p + "a", "1")
    txn.get_eq(p + "b", "not-there")
    txn.write("SET", p + "a", "2")
    txn.write("SET", p + "c", "3")
    assert store._run(txn) == 2
    assert store._r.get(p + "a") == b"1" and store._r.get(p + "c") is None


def test_create_thread_is_insert_only(store: RedisStore) -> None:
    store.create_thread(Thread(id="t", resource_id="owner"))
    with pytest.raises(ThreadConflictError):
        store.create_thread(Thread(id="t", resource_id="thief"))
    thread = store.get_thread_by_id("t")
    assert thread is not None and thread.resource_id == "owner"


def test_kv_ttl_is_native(store: RedisStore) -> None:
    store.kv_set("ns", "k", {"a": 1}, ttl=30)
    pttl = store._r.pttl(f"{store.key_prefix}mastra_kv:ns/k")
    assert 0 < pttl <= 30_000
    store.kv_set("ns", "k", 2)
    assert store._r.pttl(f"{store.key_prefix}mastra_kv:ns/k") == -1


# -- many processes --------------------------------------------------------------------------


def _writer(url: str, writer: int, start: Any, out: Any) -> None:
    try:
        with open_storage(url) as store:
            start.wait(60)
            i = 0
            last = now_utc()
            while i < PER_WRITER:
                size = 1 if (i // 4) % 2 == 0 else 4
                batch = []
                for j in range(i, min(i + size, PER_WRITER)):
                    last = max(now_utc(), last + timedelta(milliseconds=1))
                    batch.append(Message.user(f"w{writer} m{j}", "shared", id=f"w{writer}-{j:04d}", created_at=last))
                store.save_messages(batch)
                i += len(batch)
            # and some appends without explicit times (placed after the thread's newest)
            store.save_messages([Message.user(f"w{writer} auto", "shared", id=f"w{writer}-auto")])
        out.put(("ok", writer))
    except BaseException as exc:
        out.put(("error", f"writer {writer}: {type(exc).__name__}: {exc}"))


def _incrementer(url: str, start: Any, out: Any) -> None:
    try:
        with open_storage(url) as store:
            start.wait(60)
            for _ in range(INCREMENTS):
                store.kv_increment("ctr", "hits")
        out.put(("ok", None))
    except BaseException as exc:
        out.put(("error", f"{type(exc).__name__}: {exc}"))


def _run(target: Any, url: str, n: int, numbered: bool) -> list[tuple[str, Any]]:
    """Run ``target(url, [worker number,] barrier, queue)`` in ``n`` processes; their reports."""
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(n)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, w, start, out) if numbered else (url, start, out)) for w in range(n)]
    for p in procs:
        p.start()
    results = []
    try:
        for _ in procs:
            results.append(out.get(timeout=240))
    except queue.Empty:
        pytest.fail(f"workers did not finish: {results}")
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return results


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_eight_processes_fifty_messages_one_thread(url: str) -> None:
    store_url, _ = _prefixed(url)
    store = open_storage(store_url)
    try:
        store.create_thread(Thread(id="shared", resource_id="res"))
        results = _run(_writer, store_url, WRITERS, numbered=True)
        assert [r for r in results if r[0] != "ok"] == []
        page = store.list_messages("shared", per_page=False)
        ids = [m.id for m in page.messages]
        assert page.total == len(ids) == len(set(ids)) == WRITERS * (PER_WRITER + 1)
        for w in range(WRITERS):
            mine = [i for i in ids if i.startswith(f"w{w}-")]
            assert mine == [f"w{w}-{j:04d}" for j in range(PER_WRITER)] + [f"w{w}-auto"], f"writer {w}"
        times = [m.created_at for m in page.messages]
        assert times == sorted(times)
        assert store.list_messages_by_resource_id("res", per_page=False).total == len(ids)
    finally:
        store.drop_keys()  # type: ignore[attr-defined]
        store.close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_eight_processes_hundred_increments_one_key(url: str) -> None:
    store_url, _ = _prefixed(url)
    store = open_storage(store_url)
    try:
        results = _run(_incrementer, store_url, WRITERS, numbered=False)
        assert [r for r in results if r[0] != "ok"] == []
        entry = store.kv_get("ctr", "hits")
        assert entry is not None and entry.value == WRITERS * INCREMENTS and type(entry.value) is int
    finally:
        store.drop_keys()  # type: ignore[attr-defined]
        store.close()


def _batch_saver(url: str, ready: Any) -> None:
    with open_storage(url) as store:
        ready.set()
        for k in range(100_000):
            store.save_messages([Message.user(f"b{k} m{j}", "crash", id=f"b{k:05d}-{j:02d}") for j in range(50)])


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_killed_writer_leaves_whole_batches(url: str) -> None:
    """SIGKILL a process that saves batches of 50 messages: every batch is there entirely or
    not at all, and the indexes agree with the records."""
    import time

    store_url, prefix = _prefixed(url)
    store = open_storage(store_url)
    try:
        store.create_thread(Thread(id="crash", resource_id="res"))
        ctx = mp.get_context("spawn")
        ready = ctx.Event()
        proc = ctx.Process(target=_batch_saver, args=(store_url, ready))
        proc.start()
        assert ready.wait(60)
        time.sleep(1.5)
        proc.kill()
        proc.join(10)
        ids = [m.id for m in store.list_messages("crash", per_page=False).messages]
        batches: dict[str, int] = {}
        for mid in ids:
            batches[mid.split("-")[0]] = batches.get(mid.split("-")[0], 0) + 1
        assert batches and set(batches.values()) == {50}, batches
        r = store._r  # type: ignore[attr-defined]
        records = list(r.scan_iter(match=f"{prefix}mastra_messages:threadId:crash:id:*", count=1000))
        assert len(records) == r.zcard(f"{prefix}thread:crash:messages") == r.hlen(f"{prefix}mastra_messages:thread_of")
        assert len(records) == len(ids) == r.zcard(f"{prefix}mastra_messages:resource:res")
    finally:
        store.drop_keys()  # type: ignore[attr-defined]
        store.close()


# -- vectors ---------------------------------------------------------------------------------


class TestRedisVector(VectorStoreConformance):
    """The vector conformance suite on Redis: exact search over the pre-filtered candidates."""

    @pytest.fixture
    def vector(self, url: str) -> Iterator[VectorStore]:
        prefix = f"mmvec_{uuid.uuid4().hex[:10]}:"
        store = RedisVector(url, key_prefix=prefix)
        yield store
        keys = list(store._r.scan_iter(match=prefix + "*"))
        if keys:
            store._r.delete(*keys)
        store.close()

    def test_search_is_exact_without_modules(self, vector: VectorStore, index: str) -> None:
        assert vector.search_mode.startswith("exact")  # type: ignore[attr-defined]


# -- TLS (rediss://, as Upstash) ---------------------------------------------------------------


@pytest.fixture
def tls_redis(tmp_path: Any) -> Iterator[tuple[int, str]]:
    """A redis-server of our own with TLS only, on a free loopback port, with a self-signed
    certificate for 127.0.0.1; yields ``(port, CA file)``."""
    import shutil
    import socket
    import subprocess
    import time

    import redis

    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("redis-server or openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        client = redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(cert))
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if proc.poll() is not None:
                    pytest.skip(f"redis-server without TLS support: {proc.stderr.read().decode()[:200]}")  # type: ignore[union-attr]
                time.sleep(0.05)
        client.close()
        yield port, str(cert)
    finally:
        proc.terminate()
        proc.wait(10)


def test_rediss_url_over_tls(tls_redis: tuple[int, str]) -> None:
    from mastra_memory.errors import StorageError

    port, ca = tls_redis
    with open_storage(f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={ca}") as store:
        store.create_thread(Thread(id="t", resource_id="r"))
        store.save_messages([Message.user("over TLS", "t", id="m")])
        store.kv_set("ns", "k", 1, ttl=60)
        assert [m.text for m in store.list_messages("t").messages] == ["over TLS"]
        assert store.kv_increment("ns", "k") == 2
    with pytest.raises(StorageError, match="could not reach Redis"):  # plain text to a TLS port
        open_storage(f"redis://127.0.0.1:{port}/0", create=False, connect_timeout=2)
