"""Keyword search shared by every backend: tokens, stop words, the query's words and BM25.

The storage contract's keyword primitive (:meth:`MemoryStorage.search_messages`) runs inside the
database where the database has full-text search (FTS5 on libSQL/SQLite, ``tsvector`` on
PostgreSQL, a token array on MongoDB); this module holds what every backend shares:

* :func:`query_words`: the query's searchable words (lowercase, stop words removed, at most 64,
  only ``[a-z0-9]`` characters, so they can be quoted into a full-text query without escaping);
* :func:`tokenize`: words stemmed with the Snowball stemmer (PyStemmer) of a language, for the
  backends that index in Python (in-memory, MongoDB) and the fallback;
* :func:`select_terms`: the query's rarest words whose document frequencies fit a budget of
  postings (:data:`MATCH_BUDGET`), so a query's commonest words do not make the database score
  most of the index (the backends read the frequencies from the index itself: bounded FTS5
  counts, PostgreSQL's planner statistics);
* :class:`BM25Corpus`: an incremental Okapi BM25 index (``k1 = 1.2``, ``b = 0.75``, Lucene's
  non-negative idf ``ln(1 + (N - df + 0.5) / (df + 0.5))``; Robertson & Zaragoza 2009), updated
  per document, never rebuilt per save.

Stop words are English only (the list below); with another language nothing is removed and the
stemmer is that language's Snowball stemmer (any name ``Stemmer.algorithms()`` lists).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = [
    "CONTEXT_WEIGHT",
    "DEFAULT_LANGUAGE",
    "MATCH_BUDGET",
    "STOP_WORDS",
    "BM25Corpus",
    "bm25_idf",
    "bm25_rank",
    "query_words",
    "select_terms",
    "stop_words",
    "tokenize",
]

DEFAULT_LANGUAGE = "english"
CONTEXT_WEIGHT = 0.5
"""Weight of a context word (the previous message's) against a word of the message itself."""
MAX_QUERY_WORDS = 64
MATCH_BUDGET = 1_000
"""Most postings (documents of the whole index holding a query word, summed over the words kept)
a keyword query ranks. Words are kept rarest first while their document frequencies fit; the
rarest is always kept. BM25 gives a word in ``df`` of ``N`` documents the weight
``ln(1 + (N - df + 0.5) / (df + 0.5))``: at 100,000 documents a word in 1,000 of them weighs 4.6
against 11.1 for a word in one, so the words left out add least to a ranking they would make
slow (the database scores every matching document). Source: 100,000 messages on libSQL under a
load average of 12-14 (``benchmarks/keyword_latency.py``'s corpus and queries): every word kept
p50 29-41 / p95 127-220 ms; a budget of 1,000 p50 1.9 / p95 23-28 ms; 400 p50 1.4-1.6 / p95 30-35
ms (the p95 is load noise). On LoCoMo a budget of 400 lowered held-out turn recall@10 from 0.820
to 0.817 (its three conversations hold 1,451 messages, so a budget of 400 left out words in over
a quarter of them); 1,000 keeps turn recall@10 (0.812 on today's defaults) and moves one question
of 383 out of session recall@5 (benchmarks/README.md)."""

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


def stop_words(language: str = DEFAULT_LANGUAGE) -> frozenset[str]:
    """The stop words of ``language`` (English: :data:`STOP_WORDS`; others: none)."""
    return STOP_WORDS if language == DEFAULT_LANGUAGE else frozenset()


@lru_cache(maxsize=8)
def _stemmer(language: str = DEFAULT_LANGUAGE) -> Callable[[str], str]:
    try:
        import Stemmer  # PyStemmer

        stem = Stemmer.Stemmer(language)
        stem.maxCacheSize = 50_000
        return stem.stemWord  # type: ignore[no-any-return]
    except ImportError:  # pragma: no cover - PyStemmer is a core dependency
        return lambda w: w
    except KeyError:  # a language without a Snowball stemmer: words stay as they are
        return lambda w: w


def _words(text: str, language: str) -> Iterable[str]:
    stops = stop_words(language)
    for word in _WORD.findall(text.lower()):
        word = word.split("'", 1)[0]
        if word and word not in stops:
            yield word


def tokenize(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """Lowercase words, stop words removed, Snowball-stemmed (``"hiking"`` -> ``"hike"``).

    Args:
        text: Any text.
        language: A Snowball language name (``"english"`` by default).
    """
    stem = _stemmer(language)
    return [stem(w) for w in _words(text, language)]


def query_words(text: str, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The distinct searchable words of a query, unstemmed, in order (at most 64).

    Each word matches ``[a-z0-9]+``, so a backend can quote it into its full-text query
    language without escaping; stop words of ``language`` are dropped.
    """
    seen: dict[str, None] = {}
    for word in _words(text, language):
        seen.setdefault(word, None)
        if len(seen) >= MAX_QUERY_WORDS:
            break
    return list(seen)


def bm25_idf(n_docs: float, doc_freq: float) -> float:
    """BM25's word weight, Lucene's non-negative form ``ln(1 + (N - df + 0.5) / (df + 0.5))``."""
    return math.log(1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5))


def select_terms(doc_freqs: Iterable[tuple[str, int | None]], budget: int = MATCH_BUDGET) -> list[str]:
    """The words to search for: the rarest whose document frequencies fit ``budget``.

    Args:
        doc_freqs: ``(word, documents holding it)`` per query word, in query order; ``None``
            when the index does not know (counted as rare). Words of frequency 0 match nothing
            and are dropped.
        budget: Most postings kept in total (:data:`MATCH_BUDGET`); the rarest matching word is
            kept whatever its frequency.

    Returns:
        The kept words in query order (``[]`` when no word occurs in the index).
    """
    order = [(w, f) for w, f in doc_freqs if f is None or f > 0]
    kept: set[str] = set()
    spent = 0
    for word, freq in sorted(order, key=lambda wf: wf[1] or 0):
        cost = freq or 0
        if kept and spent + cost > budget:
            break
        kept.add(word)
        spent += cost
    return [w for w, _ in order if w in kept]


@dataclass
class BM25Corpus:
    """Documents (message id -> thread id, term counts) and their postings, kept incrementally.

    Attributes:
        language: The Snowball language of :func:`tokenize` (``"english"``).
        version: Free for the owner (what the corpus was built from).
    """

    language: str = DEFAULT_LANGUAGE
    version: Any = None
    docs: dict[str, tuple[str, Counter[str], float]] = field(default_factory=dict)
    postings: dict[str, dict[str, float]] = field(default_factory=dict)
    total_len: float = 0.0

    def add(self, doc_id: str, thread_id: str, text: str, context: str = "") -> None:
        """Index (or re-index) one document; ``context`` words count :data:`CONTEXT_WEIGHT` each."""
        self.remove(doc_id)
        terms: Counter[str] = Counter()
        for term in tokenize(text, self.language):
            terms[term] += 1.0  # type: ignore[assignment]
        for term in tokenize(context, self.language) if context else ():
            terms[term] += CONTEXT_WEIGHT  # type: ignore[assignment]
        length = float(sum(terms.values()))
        self.docs[doc_id] = (thread_id, terms, length)
        self.total_len += length
        for term, tf in terms.items():
            self.postings.setdefault(term, {})[doc_id] = tf

    def remove(self, doc_id: str) -> None:
        """Drop one document (no-op when absent)."""
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

    def search(
        self, query: str, limit: int, accept: Callable[[str], bool] | None = None
    ) -> list[tuple[str, str, float]]:
        """Return up to ``limit`` ``(doc_id, thread_id, score)`` with score > 0, best first.

        Args:
            query: Free text (tokenized like the documents).
            limit: Hits wanted.
            accept: Keeps only documents whose id it accepts (a scope); statistics stay global.
        """
        n = len(self.docs)
        if n == 0:
            return []
        avgdl = self.total_len / n or 1.0
        scores: dict[str, float] = {}
        for term in set(tokenize(query, self.language)):
            bucket = self.postings.get(term)
            if not bucket:
                continue
            idf = bm25_idf(n, len(bucket))
            for doc_id, tf in bucket.items():
                if accept is not None and not accept(doc_id):
                    continue
                dl = self.docs[doc_id][2]
                scores[doc_id] = scores.get(doc_id, 0.0) + idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl))
        best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [(doc_id, self.docs[doc_id][0], score) for doc_id, score in best]


def bm25_rank(
    query_terms: Iterable[str],
    docs: Iterable[tuple[str, str, Iterable[str]]],
    n_docs: int,
    avg_len: float,
    limit: int,
) -> list[tuple[str, str, float]]:
    """BM25 over candidate documents that hold every document of the scope containing a query
    term, so document frequencies are exact within the scope.

    Args:
        query_terms: Stemmed query terms (:func:`tokenize`).
        docs: ``(doc_id, thread_id, stemmed terms)`` of the candidates.
        n_docs: Documents in the scope (for idf).
        avg_len: Mean document length in terms (for length normalisation).
        limit: Hits wanted.

    Returns:
        Up to ``limit`` ``(doc_id, thread_id, score)``, best first.
    """
    wanted = set(query_terms)
    cands: list[tuple[str, str, Counter[str], int]] = []
    df: Counter[str] = Counter()
    for doc_id, thread_id, terms in docs:
        terms = list(terms)
        counts = Counter(t for t in terms if t in wanted)
        if counts:
            cands.append((doc_id, thread_id, counts, len(terms)))
            df.update(counts.keys())
    n = max(n_docs, len(cands))
    avgdl = avg_len or 1.0
    idf = {t: bm25_idf(n, f) for t, f in df.items()}
    scored = [
        (
            doc_id,
            thread_id,
            sum(idf[t] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * dl / avgdl)) for t, tf in counts.items()),
        )
        for doc_id, thread_id, counts, dl in cands
    ]
    scored.sort(key=lambda h: (-h[2], h[0]))
    return scored[:limit]
