"""Splitting texts into sentences for a translation model, and joining the results back.

MT models are trained on sentences and cut their input at a maximum length, so a long answer is
split at sentence ends (English ``. ! ?``, Korean ``다. 요. 까?`` and full-width ``。！？``), line
breaks are kept, and each text is rebuilt from its translated pieces in the original layout.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

# Words whose period does not end a sentence.
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "no",
    "fig", "approx", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec", "u.s", "u.k",
}
# A sentence end: terminal punctuation, optional closing quotes/brackets, then whitespace.
_END = re.compile(r"([.!?…。！？]+[\"'”’)\]」』]*)(\s+)")
_CLAUSE = re.compile(r"(?<=[,;:，、])\s+")


@dataclass
class Layout:
    """How a text was cut: literal separators and segment positions, in order."""

    parts: list[str | int] = field(default_factory=list)

    def join(self, translations: list[str]) -> str:
        """The text rebuilt with ``translations`` in place of its segments."""
        return "".join(translations[p] if isinstance(p, int) else p for p in self.parts)


def _is_sentence_end(text: str, end: int, after: str) -> bool:
    """Whether the punctuation ending at ``end`` closes a sentence, given the text ``after`` it."""
    if after[:1].islower():  # "e.g. the" or "approx. five": English continues in lower case
        return False
    word = re.search(r"(\S+)$", text[:end])
    if word is None:
        return True
    token = word.group(1).rstrip(".!?…\"'”’)]").lower()
    if text[end - 1] == "." and (token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token)):
        return False  # "Dr. Kim", "J. Smith"
    return True


def split_sentences(line: str) -> list[tuple[str, str]]:
    """``line`` as (sentence, following whitespace) pairs."""
    out: list[tuple[str, str]] = []
    start = 0
    for m in _END.finditer(line):
        if not _is_sentence_end(line, m.end(1), line[m.end():]):
            continue
        out.append((line[start:m.end(1)], m.group(2)))
        start = m.end()
    if start < len(line):
        out.append((line[start:], ""))
    return out


def split_long(segment: str, too_long: Callable[[str], bool]) -> list[str]:
    """``segment`` cut at clause marks, then between words, until no piece is ``too_long``."""
    if not too_long(segment):
        return [segment]
    clauses = _CLAUSE.split(segment)
    if len(clauses) > 1:
        mid = len(clauses) // 2
        halves = [" ".join(clauses[:mid]), " ".join(clauses[mid:])]
    else:
        words = segment.split()
        if len(words) < 2:  # one enormous word: the model will truncate it, nothing else to do
            return [segment]
        mid = len(words) // 2
        halves = [" ".join(words[:mid]), " ".join(words[mid:])]
    return [piece for half in halves for piece in split_long(half, too_long)]


def split_text(text: str, too_long: Callable[[str], bool] | None = None) -> tuple[list[str], Layout]:
    """The sentences of ``text`` and the layout that puts their translations back together."""
    segments: list[str] = []
    layout = Layout()
    for line in re.split(r"(\r?\n)", text):
        if line in ("\n", "\r\n") or not line.strip():
            layout.parts.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        if lead:
            layout.parts.append(lead)  # keep indentation and list markers' spacing
        for sentence, space in split_sentences(line.strip()):
            pieces = split_long(sentence, too_long) if too_long else [sentence]
            for i, piece in enumerate(pieces):
                if i:
                    layout.parts.append(" ")
                layout.parts.append(len(segments))
                segments.append(piece)
            if space:
                layout.parts.append(space)
        trail = line[len(line.rstrip()):]
        if trail:
            layout.parts.append(trail)
    return segments, layout


def batches(items: list[str], size: int) -> list[list[int]]:
    """Indexes of ``items`` in batches of ``size``, similar lengths together (less padding)."""
    order = sorted(range(len(items)), key=lambda i: len(items[i]))
    return [order[i:i + size] for i in range(0, len(order), size)]
