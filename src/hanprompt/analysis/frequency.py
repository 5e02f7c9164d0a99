"""Counting words: Kiwi's multi-threaded batch tokenizer over a stream, and the naive split."""
from __future__ import annotations

import collections
import heapq
import string
from collections import Counter
from typing import Callable, Iterable, Iterator

from hanprompt.analysis.morphology import Analyzer, lemma
from hanprompt.textio import nfc

Group = str | None
# Stripped from both ends of a whitespace token, so "서울." and "서울" count alike in the naive way.
_PUNCT = string.punctuation + "“”‘’「」『』《》〈〉…·、。！？，：；（）［］"


class WordCounter:
    """Counts (form, tag) pairs per group over any number of ``feed`` calls, in one pass.

    Only the distinct pairs are later lemmatised and filtered (stopwords, minimum length), so
    the per-token work is one tag lookup; Kiwi's own analysis dominates the time.
    """

    def __init__(self, analyzer: Analyzer, *, naive: bool = False) -> None:
        self.analyzer = analyzer
        self.counts: dict[Group, Counter] = collections.defaultdict(Counter)
        self.naive: dict[Group, Counter] | None = collections.defaultdict(Counter) if naive else None
        self.documents: Counter = Counter()

    def feed(self, texts: Iterable[str], group: Group = None) -> None:
        """Count every text of ``texts`` into ``group``."""
        self.feed_grouped((group, text) for text in texts)

    def feed_grouped(self, items: Iterable[tuple[Group, str]],
                     progress: Callable[[int], None] | None = None, every: int = 100) -> None:
        """Count (group, text) pairs; Kiwi analyses the texts on all its workers, in order.

        ``progress(documents counted by this call)`` is called every ``every`` documents and at the end.
        """
        pending: collections.deque[Group] = collections.deque()
        tags = self.analyzer.tags
        counts = self.counts
        done = 0
        for tokens in self.analyzer.kiwi.tokenize(self._texts(items, pending)):
            # Kiwi returns results in input order, so the oldest pending group is this one's.
            counts[pending.popleft()].update([(t.form, t.tag) for t in tokens if t.tag in tags])
            done += 1
            if progress is not None and done % every == 0:
                progress(done)
        if progress is not None and done % every:
            progress(done)

    def _texts(self, items: Iterable[tuple[Group, str]], pending: collections.deque) -> Iterator[str]:
        naive = self.naive
        for group, text in items:
            text = nfc(text)  # decomposed Hangul (NFD) would split into jamo and particles stay on
            pending.append(group)
            self.documents[group] += 1
            if naive is not None:
                naive[group].update(naive_words(text))
            yield text

    def groups(self) -> list[Group]:
        """The groups seen, in the order they first came."""
        return list(self.documents)

    def total(self, groups: dict[Group, Counter] | None = None) -> Counter:
        """All groups' counts together."""
        merged: Counter = Counter()
        for counter in (self.counts if groups is None else groups).values():
            merged.update(counter)
        return merged


def naive_words(text: str) -> Iterator[str]:
    """The old way: split on whitespace, trim punctuation, keep whatever is left."""
    for piece in text.split():
        word = piece.strip(_PUNCT)
        if word:
            yield word


def word_counts(
    pairs: Counter, *, stopwords: frozenset[str] = frozenset(), min_length: int = 1
) -> tuple[Counter, dict[str, str]]:
    """Merge (form, tag) counts into words (verbs as stem + 다), dropping stopwords and short words.

    Returns the counts per word and each word's most frequent tag.
    """
    counts: Counter = Counter()
    tag_counts: dict[str, Counter] = collections.defaultdict(Counter)
    for (form, tag), n in pairs.items():
        word, shown = lemma(form, tag)
        if len(word) < min_length or word in stopwords:
            continue
        counts[word] += n
        tag_counts[word][shown] += n
    return counts, {w: c.most_common(1)[0][0] for w, c in tag_counts.items()}


def naive_counts(words: Counter, *, stopwords: frozenset[str] = frozenset(), min_length: int = 1) -> Counter:
    """The naive counts with the same stopwords and minimum length as the morphological ones."""
    return Counter({w: n for w, n in words.items() if len(w) >= min_length and w not in stopwords})


def top_result(
    counts: Counter, *, analyzer: str, documents: int, top: int, tags: dict[str, str] | None = None
) -> dict:
    """The result dict: analyzer, documents, total_tokens and the top ``top`` words with shares."""
    total = sum(counts.values())
    # Ties in count go alphabetically, so the same input always prints the same list.
    ranked = heapq.nsmallest(top, counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "analyzer": analyzer,
        "documents": documents,
        "total_tokens": total,
        "top": [
            {"word": w, "tag": (tags or {}).get(w), "count": n, "share": round(n / total, 6) if total else 0.0}
            for w, n in ranked
        ],
    }
