"""In-process BM25 keyword search over a resource's or thread's messages (hybrid recall).

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

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

__all__ = ["BM25Corpus", "KeywordIndex", "tokenize"]

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A short English stop list (articles, pronouns, auxiliaries, prepositions, conjunctions).
STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
        "s",
        "t",
        "don",
        "ll",
        "re",
        "ve",
        "m",
        "d",
    ]
)

K1 = 1.2
B = 0.75


@lru_cache(maxsize=1)
def _stemmer() -> Callable[[str], str]:
    try:
        import Stemmer  # PyStemmer

        stem = Stemmer.Stemmer("english")
        stem.maxCacheSize = 50_000
        return stem.stemWord  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - PyStemmer is a core dependency
        return lambda w: w


def tokenize(text: str) -> list[str]:
    """Lowercase words, stop words removed, Snowball-stemmed (``"hiking"`` -> ``"hike"``)."""
    stem = _stemmer()
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        word = word.split("'", 1)[0]
        if word and word not in STOP_WORDS:
            out.append(stem(word))
    return out


@dataclass
class BM25Corpus:
    """Documents (message id -> thread id, term counts) and their postings."""

    version: Any = None
    docs: dict[str, tuple[str, Counter[str], int]] = field(default_factory=dict)
    postings: dict[str, dict[str, int]] = field(default_factory=dict)
    total_len: int = 0

    def add(self, doc_id: str, thread_id: str, text: str) -> None:
        self.remove(doc_id)
        terms = Counter(tokenize(text))
        length = sum(terms.values())
        self.docs[doc_id] = (thread_id, terms, length)
        self.total_len += length
        for term, tf in terms.items():
            self.postings.setdefault(term, {})[doc_id] = tf

    def remove(self, doc_id: str) -> None:
        old = self.docs.pop(doc_id, None)
        if old is None:
            return
        self.total_len -= old[2]
        for term in old[1]:
            bucket = self.postings.get(term)
            if bucket is not None:
                bucket.pop(doc_id, None)
                if not bucket:
                    del self.postings[term]

    def search(self, query: str, limit: int) -> list[tuple[str, str, float]]:
        """Return up to ``limit`` ``(doc_id, thread_id, score)`` with score > 0, best first."""
        n = len(self.docs)
        if n == 0:
            return []
        avgdl = self.total_len / n or 1.0
        scores: dict[str, float] = {}
        for term in set(tokenize(query)):
            bucket = self.postings.get(term)
            if not bucket:
                continue
            idf = math.log(1.0 + (n - len(bucket) + 0.5) / (len(bucket) + 0.5))
            for doc_id, tf in bucket.items():
                dl = self.docs[doc_id][2]
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl))
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [(doc_id, self.docs[doc_id][0], score) for doc_id, score in best]


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
