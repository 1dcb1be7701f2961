"""In-process BM25 corpora per scope (kept for callers of the 0.x API).

Hybrid recall no longer uses this module: keyword search is the storage primitive
:meth:`mastra_memory.storage.MemoryStorage.search_messages`, which runs inside the database
(see :mod:`mastra_memory.storage.text_search` and docs/retrieval.md). The tokenizer and BM25
live in :mod:`mastra_memory.storage.text_search` and are re-exported here.

Old notes on this module follow.

Why in process: it behaves the same on every storage backend (libSQL, PostgreSQL, MongoDB,
in-memory), scores with real BM25 (PostgreSQL's ``ts_rank`` is not BM25 and MongoDB's wire
server here has no ``$text``), and a conversation's messages are small: tokenising 700 LoCoMo
turns takes ~15 ms once, a query over them ~0.5 ms.

How it stays correct across processes: each corpus (one resource or one thread) remembers the
storage *version* it was built from, ``(message count, newest (created_at, id))`` of the scope,
read with one indexed query before every search; when another process added or deleted
messages the corpus is rebuilt from storage (one query for the scope's messages). An in-place
edit of an old message by another process (same count, same newest message) is not seen until
the next rebuild; this process's own saves and deletes mark the scope stale.

Scoring: Okapi BM25 with ``k1 = 1.2``, ``b = 0.75`` and the non-negative idf
``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza 2009, "The Probabilistic
Relevance Framework: BM25 and Beyond"; the idf variant is Lucene's). Tokens are lowercase
alphanumeric words without English stop words, stemmed with the Snowball English stemmer
(PyStemmer).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from mastra_memory.storage.text_search import STOP_WORDS, BM25Corpus, tokenize

__all__ = ["STOP_WORDS", "BM25Corpus", "KeywordIndex", "tokenize"]

Loader = Callable[[], tuple[Any, Iterable[tuple[str, str, str]]]]
Versioner = Callable[[], Any]


class KeywordIndex:
    """BM25 corpora per scope (``("resource", id)`` or ``("thread", id)``), LRU-bounded.

    Args:
        max_corpora: Scopes kept in memory (64).
    """

    def __init__(self, max_corpora: int = 64) -> None:
        self.max_corpora = max_corpora
        self._corpora: OrderedDict[tuple[str, str], BM25Corpus] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0

    def search(
        self, scope: tuple[str, str], query: str, limit: int, version: Versioner, load: Loader
    ) -> list[tuple[str, str, float]]:
        """Search one scope, (re)building its corpus when storage moved on.

        Args:
            scope: ``("resource", id)`` or ``("thread", id)``.
            query: Free text.
            limit: Hits wanted.
            version: Returns the scope's current storage version (cheap).
            load: Returns ``(version, [(message_id, thread_id, text), ...])`` of the whole scope.
        """
        current = version()
        with self._lock:
            corpus = self._corpora.get(scope)
            if corpus is not None:
                self._corpora.move_to_end(scope)
        if corpus is None or corpus.version != current:
            loaded_version, docs = load()
            fresh = BM25Corpus(version=loaded_version)
            for doc_id, thread_id, text in docs:
                if text:
                    fresh.add(doc_id, thread_id, text)
            with self._lock:
                self.builds += 1
                self._corpora[scope] = fresh
                self._corpora.move_to_end(scope)
                while len(self._corpora) > self.max_corpora:
                    self._corpora.popitem(last=False)
            corpus = fresh
        with self._lock:
            return corpus.search(query, limit)

    def forget(self, predicate: Callable[[tuple[str, str]], bool] | None = None) -> None:
        """Drop corpora (all, or those whose scope matches) so they rebuild on next use."""
        with self._lock:
            for key in [k for k in self._corpora if predicate is None or predicate(k)]:
                del self._corpora[key]


def version_of(total: int, newest: tuple[datetime, str] | None) -> tuple[int, Any]:
    """The version tuple of a scope: message count and newest ``(created_at, id)``."""
    return (total, newest)
