"""``<thread id>`` tags: the original's obscured ids (XXH32) and their rewriting on clone."""

from __future__ import annotations

import random

import pytest

from mastra_memory.storage.thread_tags import rewrite_thread_tags, thread_tag_id, xxh32


def test_xxh32_reference_vectors() -> None:
    assert xxh32(b"") == 0x02CC5D05
    assert xxh32(b"abc") == 0x32D153FF
    assert xxh32(b"", seed=1) == 0x0B2CB792
    assert thread_tag_id("") == "02cc5d05"  # always 8 hex digits, like xxhash-wasm's h32ToString


def test_xxh32_matches_the_c_implementation_on_every_tail_length() -> None:
    xxhash = pytest.importorskip("xxhash")
    rng = random.Random(7)
    for n in range(0, 80):
        data = bytes(rng.randrange(256) for _ in range(n))
        seed = rng.randrange(2**32)
        assert xxh32(data, seed) == xxhash.xxh32_intdigest(data, seed)
    assert thread_tag_id("thread-é") == xxhash.xxh32_hexdigest("thread-é".encode())


def test_rewrite_hashed_and_raw_tags_of_the_source_only() -> None:
    src, dst = thread_tag_id("src"), thread_tag_id("dst")
    text = (
        f'<thread id="{src}">\n* a\n</thread>\n<thread id="src" title="x">\n* b\n</thread>\n'
        f"<thread id='{src}'>\n* c\n</thread>\n<thread id=\"{thread_tag_id('other')}\">\n* d\n</thread>\n"
        '* mentions src and id="src" outside a tag'
    )
    out = rewrite_thread_tags(text, "src", "dst")
    assert out.count(f'<thread id="{dst}">') == 1 and f"<thread id='{dst}'>" in out
    assert '<thread id="dst" title="x">' in out
    assert f'<thread id="{thread_tag_id("other")}">' in out
    assert out.endswith('* mentions src and id="src" outside a tag')
    assert rewrite_thread_tags(text, "src", "src") == text
    assert rewrite_thread_tags("", "src", "dst") == ""


def test_unpadded_hash_is_recognised() -> None:
    tid = next(f"t{i}" for i in range(10_000) if thread_tag_id(f"t{i}").startswith("0"))
    short = thread_tag_id(tid).lstrip("0")
    assert rewrite_thread_tags(f'<thread id="{short}">', tid, "new") == f'<thread id="{thread_tag_id("new")}">'
