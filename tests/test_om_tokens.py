"""Token counting: offline o200k_base, overheads, per-message cache."""

from __future__ import annotations

import math
import os

from mastra_memory import Message
from mastra_memory.tokens import TokenCounter, count_tokens, get_encoding
from mastra_memory.types import MessageContent, ToolInvocationPart


def test_o200k_loads_offline_without_leaving_env_changed() -> None:
    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    enc = get_encoding()
    assert enc is not None and enc.name == "o200k_base"
    assert os.environ.get("TIKTOKEN_CACHE_DIR") == before
    # o200k_base splits these as the official encoding does
    assert count_tokens("hello world") == 2
    assert enc.encode_ordinary("Observational memory") == enc.encode_ordinary("Observational memory")
    assert count_tokens("") == 0


def test_message_and_conversation_overheads() -> None:
    counter = TokenCounter()
    m = Message.user("My name is Ana and I live in Lisbon.", "t")
    expected = count_tokens("user") + count_tokens(m.text) + 3.8
    assert counter.count_message(m) == expected
    assert counter.count_messages([m]) == math.ceil(expected + 24)
    assert counter.count_messages([]) == 0


def test_tool_result_counts_an_extra_message_overhead() -> None:
    counter = TokenCounter()
    part = ToolInvocationPart(
        tool_call_id="c1", tool_name="weather", args={"city": "Lisbon"}, result="sunny", state="result"
    )
    m = Message(role="assistant", thread_id="t", content=MessageContent(parts=[part]))
    expected = (
        count_tokens("assistant")
        + 3.8
        + count_tokens("weather")
        + count_tokens('{"city":"Lisbon"}')
        + count_tokens("sunny")
        + 3.8
    )
    assert counter.count_message(m) == expected


def test_counts_are_cached_by_id_and_content() -> None:
    counter = TokenCounter()
    msgs = [Message.user(f"message number {i}", "t", id=f"id-{i}") for i in range(50)]
    first = counter.count_messages(msgs)
    assert counter.misses == 50
    assert counter.count_messages(msgs) == first
    assert counter.misses == 50 and counter.hits == 50
    changed = msgs[0].model_copy(
        update={
            "content": MessageContent.model_validate(
                {"parts": [{"type": "text", "text": "now much longer text than before"}]}
            )
        }
    )
    counter.count_message(changed)
    assert counter.misses == 51


def test_incremental_observation_token_count_is_exact() -> None:
    import random

    from mastra_memory.storage.om import append_observations, observation_tokens

    rng = random.Random(7)
    pieces = ["User said hi.", "🔴 (10:00) likes tea!", "-> sub item", "done ✅", "path a/b", "x\u00e9\u4e2d", "3.14"]
    text, tokens = "", 0
    for i in range(200):
        lines = [f"{'  * ' if rng.random() < 0.2 else '* '}{rng.choice(pieces)} {i}" for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.1:
            lines.insert(0, f"Date: Jan {i % 28 + 1}, 2025")
        new = append_observations(text, "\n".join(lines))
        tokens = observation_tokens(text, tokens, new)
        text = new
        assert tokens == count_tokens(text)


def test_bundled_o200k_matches_the_official_encoding_and_is_checked(tmp_path: object) -> None:
    """The BPE file shipped in mastra_memory/data builds the same encoder as tiktoken's own
    o200k_base (loaded here from the official file inside litellm, for comparison only), and a
    damaged file is refused by its sha256."""
    import gzip
    import importlib.util
    from pathlib import Path

    import pytest

    import mastra_memory.tokens as tokens_module

    spec = importlib.util.find_spec("litellm")
    folder = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers" if spec else None
    if folder is None or not folder.is_dir():
        pytest.skip("litellm's copy of the official file is not available for comparison")
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    official_file = folder / "fb374d419588a4632f3f557e76b4b70aebbca790"
    official = tiktoken.Encoding(
        name="o200k_base",
        pat_str=tokens_module._O200K_PATTERN,
        mergeable_ranks=load_tiktoken_bpe(str(official_file), tokens_module._O200K_SHA256),
        special_tokens={"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    )
    ours = tokens_module._bundled_encoding()
    text = "Ana's café — 12345 tokens!\n\n  def f(x):\treturn x**2  # 日本語のテキスト 🙂"
    assert ours.encode_ordinary(text) == official.encode_ordinary(text)
    assert ours.n_vocab == official.n_vocab == 200019
    # the split pattern is tiktoken's own o200k_base pattern
    from tiktoken_ext.openai_public import o200k_base

    source = Path(o200k_base.__code__.co_filename).read_text()
    for piece in tokens_module._O200K_PATTERN.split("|")[-4:]:
        assert piece in source
    damaged = Path(str(tmp_path)) / "o200k_base.tiktoken.gz"
    damaged.write_bytes(gzip.compress(gzip.decompress(tokens_module._BUNDLED_BPE.read_bytes())[:-10]))
    original = tokens_module._BUNDLED_BPE
    tokens_module._BUNDLED_BPE = damaged
    try:
        with pytest.raises(ValueError, match="sha256"):
            tokens_module._bundled_encoding()
    finally:
        tokens_module._BUNDLED_BPE = original
