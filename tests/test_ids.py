"""New ids: RFC 4122 version-4 UUID strings, unique across threads and across a fork (the random
bytes come from a per-process buffer, see ``mastra_memory._fast.new_id``)."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from mastra_memory._fast import new_id, new_ids


def test_new_ids_are_uuid4_strings() -> None:
    for value in [new_id() for _ in range(600)] + new_ids(50):  # crosses buffer refills
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_threads_never_share_an_id() -> None:
    found: list[list[str]] = [[] for _ in range(8)]

    def work(out: list[str]) -> None:
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in found]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [value for out in found for value in out]
    assert len(set(every)) == len(every) == 40_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_the_parents_buffer() -> None:
    new_id()  # the buffer now holds unused bytes, which the child must not reuse
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.write(write, ",".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = set(os.read(read, 10_000).decode().split(","))
    os.close(read)
    parent = {new_id() for _ in range(10)}
    assert len(child) == 10
    assert not child & parent
