"""Splitting texts into sentences for a translation model, and joining the results back.

MT models are trained on sentences and cut their input at a maximum length, so a long answer is
split into sentences, line breaks are kept, and each text is rebuilt from its translated pieces
in the original layout (indentation, spaces and blank lines as they were).

Sentence ends come from maintained splitters, not a list of our own: Kiwi's
``split_into_sents`` for Korean sources (it reads Korean endings and quotations such as
“좋아요.”라고), and sentencex (Wikimedia's rule-based segmenter with per-language abbreviation
lists, about 300 languages) for every other source. On the hand-written boundary cases in
tests/translate/test_translate_segment.py both do at least as well as the abbreviation list
they replaced (English 19 of 21 against 17, Korean 14 of 15 against 13).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

_CLAUSE = re.compile(r"(?<=[,;:，、])\s+")


@dataclass
class Layout:
    """How a text was cut: literal separators and segment positions, in order."""

    parts: list[str | int] = field(default_factory=list)

    def join(self, translations: list[str]) -> str:
        """The text rebuilt with ``translations`` in place of its segments."""
        return "".join(translations[p] if isinstance(p, int) else p for p in self.parts)


def _ends_sentencex(line: str, lang: str) -> list[int]:
    from sentencex import segment

    ends, pos = [], 0
    for sentence in segment(lang, line):
        found = line.find(sentence, pos)
        if found < 0:  # the splitter changed the text: keep what is left as one piece
            break
        pos = found + len(sentence)
        ends.append(pos)
    return ends


def _ends_kiwi(line: str) -> list[int]:
    from hanprompt.analysis.morphology import get_kiwi

    return [s.end for s in get_kiwi().split_into_sents(line)]


def split_sentences(line: str, lang: str = "en") -> list[tuple[str, str]]:
    """``line`` (one line, no line break) as (sentence, following whitespace) pairs.

    The pairs rejoin to ``line`` without its leading whitespace. ``lang`` is the source
    language's code: ``ko`` uses Kiwi, anything else sentencex.
    """
    ends = _ends_kiwi(line) if lang == "ko" else _ends_sentencex(line, lang)
    cuts = sorted({e for e in ends if 0 < e < len(line)}) + [len(line)]
    out: list[tuple[str, str]] = []
    start = len(line) - len(line.lstrip())
    for cut in cuts:
        piece = line[start:cut]
        if piece.strip():
            lead = piece[: len(piece) - len(piece.lstrip())]
            if lead and out:  # whitespace a splitter put at the start of a sentence
                out[-1] = (out[-1][0], out[-1][1] + lead)
            body = piece.strip()
            out.append((body, piece[len(piece.rstrip()):]))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + piece)
        start = cut
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


def split_text(text: str, too_long: Callable[[str], bool] | None = None,
               lang: str = "en") -> tuple[list[str], Layout]:
    """The sentences of ``text`` (in language ``lang``) and the layout that rebuilds it from them."""
    segments: list[str] = []
    layout = Layout()
    for line in re.split(r"(\r?\n)", text):
        if line in ("\n", "\r\n") or not line.strip():
            layout.parts.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        if lead:
            layout.parts.append(lead)  # keep indentation and list markers' spacing
        for sentence, space in split_sentences(line.strip(), lang):
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
