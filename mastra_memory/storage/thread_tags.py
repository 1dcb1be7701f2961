"""``<thread id="...">`` attribution tags in resource-scope observation text.

In resource scope the original's Observer groups observations per thread inside
``<thread id="...">`` blocks, and the id written there is not the raw thread id but its
*obscured* form: the 32-bit xxHash (XXH32, seed 0) of the id's UTF-8 bytes as 8 lowercase hex
digits (``xxhash-wasm``'s ``h32ToString``). This package's Observer does not write these tags,
but records shared with Mastra's TypeScript packages (or written by a model that chose to
attribute threads by their raw id) contain them, so cloning a thread rewrites both forms
(:func:`rewrite_thread_tags`).

XXH32 is implemented here (a few lines of integer arithmetic) to avoid a dependency.
"""

from __future__ import annotations

import re

__all__ = ["rewrite_thread_tags", "thread_tag_id", "xxh32"]

_MASK = 0xFFFFFFFF
_P1, _P2, _P3, _P4, _P5 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1

_TAG = re.compile(r"""(<thread\s+id\s*=\s*)(["'])([^"'<>]*)\2""")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _MASK


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _MASK, 13) * _P1) & _MASK


def xxh32(data: bytes, seed: int = 0) -> int:
    """The XXH32 hash of ``data`` (the reference algorithm, little-endian lanes).

    Args:
        data: Bytes to hash.
        seed: 32-bit seed (0 in the original's thread tags).

    Returns:
        The unsigned 32-bit hash.
    """
    n = len(data)
    i = 0
    if n >= 16:
        v1 = (seed + _P1 + _P2) & _MASK
        v2 = (seed + _P2) & _MASK
        v3 = seed & _MASK
        v4 = (seed - _P1) & _MASK
        while i + 16 <= n:
            v1 = _round(v1, int.from_bytes(data[i : i + 4], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 4 : i + 8], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 8 : i + 12], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 12 : i + 16], "little"))
            i += 16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _MASK
    else:
        h = (seed + _P5) & _MASK
    h = (h + n) & _MASK
    while i + 4 <= n:
        h = (h + int.from_bytes(data[i : i + 4], "little") * _P3) & _MASK
        h = (_rotl(h, 17) * _P4) & _MASK
        i += 4
    while i < n:
        h = (h + data[i] * _P5) & _MASK
        h = (_rotl(h, 11) * _P1) & _MASK
        i += 1
    h ^= h >> 15
    h = (h * _P2) & _MASK
    h ^= h >> 13
    h = (h * _P3) & _MASK
    h ^= h >> 16
    return h


def thread_tag_id(thread_id: str) -> str:
    """The obscured thread id the original writes in ``<thread id="...">`` tags (8 hex digits)."""
    return f"{xxh32(thread_id.encode('utf-8')):08x}"


def rewrite_thread_tags(text: str, source_thread_id: str, new_thread_id: str) -> str:
    """Point ``<thread id="...">`` tags of ``source_thread_id`` at ``new_thread_id``.

    A tag holding the source's obscured id (:func:`thread_tag_id`, padded or not) gets the new
    thread's obscured id; a tag holding the raw source id gets the raw new id. Tags of other
    threads, extra attributes and closing tags are left alone.

    Args:
        text: Observation text (may be empty).
        source_thread_id: The thread the tags refer to now.
        new_thread_id: The thread they should refer to.

    Returns:
        The rewritten text (``text`` itself when nothing matched).
    """
    if not text or "<thread" not in text or source_thread_id == new_thread_id:
        return text
    hashed = thread_tag_id(source_thread_id)
    hashed_forms = {hashed, hashed.lstrip("0") or "0"}
    new_hashed = thread_tag_id(new_thread_id)

    def swap(match: re.Match[str]) -> str:
        ident = match.group(3)
        if ident == source_thread_id:
            replacement = new_thread_id
        elif ident in hashed_forms:
            replacement = new_hashed
        else:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{replacement}{match.group(2)}"

    return _TAG.sub(swap, text)
