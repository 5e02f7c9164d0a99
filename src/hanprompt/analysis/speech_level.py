"""Korean speech levels (존댓말/반말) sentence by sentence, from Kiwi's sentence-final endings.

A sentence's level is read from its final ending: the last morpheme before closing punctuation,
symbols and foreign words, which Kiwi tags EF (or EC where a connective ends the sentence,
as in 먹었니?), or the polite particle 요 (JX) of 왜요? and 먹고요. The four levels of standard
Korean grammar (국립국어원, 표준국어대사전's 상대 높임법):

- ``formal``  합쇼체: -습니다/-ㅂ니다, -습니까/-ㅂ니까, -(으)십시오, -(으)ㅂ시다
- ``polite``  해요체: -아요/-어요/-에요/-예요, -죠/-지요, -세요, -네요, -군요 ... (any -요)
- ``casual``  해체 (반말): -아/-어, -야, -지, -네, -군, -ㄹ게, -ㄹ까, -는데, -거든, -잖아
- ``plain``   해라체, the neutral written style: -다/-는다/-ㄴ다, -냐/-느냐, -니, -자, -아라/-어라,
  -구나, -는가/-ㄴ가

Sentences with no final ending (bullets, headings, noun phrases), with a nominal ending
(-음/-ㅁ/-기, as notes are written) or with an ending outside these lists (하오체 -오/-소) have
no level: they are skipped and counted. Markdown and HTML markup is read through
``hanprompt.markup.plain_text``, which leaves code blocks and code spans out.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from hanprompt.markup import plain_text, source_text

LEVELS = {"formal": "합쇼체", "polite": "해요체", "casual": "해체", "plain": "해라체"}

# Kiwi writes a final consonant that belongs to the ending as a conjoining jamo: ᆸ니다, ᆯ게, ᆫ가.
_FORMAL = ("습니다", "ᆸ니다", "습니까", "ᆸ니까", "십시오", "ᆸ시오", "ᆸ시다", "읍시다")
_POLITE = ("요", "죠")
_PLAIN = ("다", "냐", "니", "자", "라", "구나", "는가", "은가", "ᆫ가", "던가", "마")
_CASUAL = ("어", "아", "여", "야", "지", "게", "래", "대", "네", "군", "걸", "까", "거든", "데")
_NOMINAL = ("음", "ᆷ", "기")
# Punctuation, symbols, numbers, foreign words, emoji, URLs: what may follow the final ending.
_TRAILING = ("S", "W_")

NO_ENDING, NOMINAL, UNKNOWN = "no final ending", "nominal ending", "unrecognised ending"


def level_of_ending(form: str) -> str | None:
    """The level of a final ending as Kiwi writes it (``ᆸ니다`` -> formal); None if unknown."""
    if form.endswith(_FORMAL):
        return "formal"
    if form.endswith(_POLITE):
        return "polite"
    if form.endswith(_PLAIN):
        return "plain"
    if form.endswith(_CASUAL):
        return "casual"
    return None


@dataclass(frozen=True)
class Sentence:
    """One sentence: its text, final ending and level; ``skipped`` says why a level is missing."""

    text: str
    ending: str | None
    level: str | None
    skipped: str | None = None


def _final_ending(tokens) -> tuple[str | None, str | None]:
    """(ending form, reason for skipping) from a sentence's tokens."""
    for i in range(len(tokens) - 1, -1, -1):
        tag, form = tokens[i].tag, tokens[i].form
        if tag.startswith(_TRAILING):
            continue
        if tag == "JX" and form == "요":
            return "요", None
        if tag == "ETN" or (tag == "EF" and form in _NOMINAL):
            return form, NOMINAL
        if tag in ("EF", "EC"):
            return form, None if level_of_ending(form) else UNKNOWN
        return None, NO_ENDING
    return None, NO_ENDING


def _lines(text: str) -> list[tuple[str, str, str, int]]:
    """(plain line, the same with code kept, original line, where the stripped plain line starts)
    of each line with text outside code.

    Lines first: Kiwi joins list items and headings that end without punctuation. The plain text
    keeps every character's position, so a sentence Kiwi finds is cut from the original line.
    """
    lines = zip(plain_text(text).split("\n"), plain_text(text, code=True).split("\n"),
                source_text(text).split("\n"))
    return [(p, c, o, len(p) - len(p.lstrip())) for p, c, o in lines if p.strip()]


def _as_written(with_code: str, original: str, start: int, end: int) -> str:
    """The sentence at [start:end] as the answer wrote it: with the markup around it (a list or
    heading mark before it when only markup comes first, closing ** or tags after it), no code."""
    def blanked(i: int) -> bool:  # markup, not code and not a space of the text
        return with_code[i] == " " and not original[i].isspace()

    head = start
    while head > 0 and (blanked(head - 1) or original[head - 1].isspace()):
        head -= 1
    if head == 0:
        start = head
    while end < len(original) and blanked(end):
        end += 1
    return original[start:end].strip()


def analyse(texts: Iterable[str]) -> list[list[Sentence]]:
    """Sentences with their levels, for each text (Kiwi's workers share the lines of all texts)."""
    from hanprompt.analysis.morphology import get_kiwi

    per_text = [_lines(t) for t in texts]
    flat = [plain.strip() for lines in per_text for plain, _, _, _ in lines]
    results = iter(get_kiwi().split_into_sents(flat, return_tokens=True)) if flat else iter(())
    out = []
    for lines in per_text:
        sentences = []
        for _, with_code, original, lead in lines:
            for s in next(results):
                ending, skipped = _final_ending(s.tokens)
                level = level_of_ending(ending) if ending and not skipped else None
                text = _as_written(with_code, original, lead + s.start, lead + s.end)
                sentences.append(Sentence(text, ending, level, skipped))
        out.append(sentences)
    return out


def _quote(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _runs(levels: list[str]) -> str:
    # formal, formal, formal, polite -> "formal×3, polite": every sentence, in order, briefly.
    out = []
    for level in levels:
        if out and out[-1][0] == level:
            out[-1][1] += 1
        else:
            out.append([level, 1])
    return ", ".join(f"{lv}×{n}" if n > 1 else lv for lv, n in out)


def _skipped(sentences: list[Sentence]) -> str:
    counts = Counter(s.skipped for s in sentences if s.skipped)
    if not counts:
        return ""
    return "; skipped " + ", ".join(f"{n} ({why})" for why, n in counts.items())


def _offending(off: list[Sentence], limit: int = 3) -> str:
    shown = ", ".join(f"{_quote(s.text)} ({s.level})" for s in off[:limit])
    more = f" and {len(off) - limit} more" if len(off) > limit else ""
    return f"; off-level: {shown}{more}"


@dataclass(frozen=True)
class Verdict:
    """passed, a score in 0..1 (None when no sentence had a level) and the reason."""

    passed: bool
    score: float | None
    reason: str


def _nothing(sentences: list[Sentence]) -> Verdict:
    return Verdict(False, None, f"no sentence with a final ending to judge{_skipped(sentences)}")


def judge_level(sentences: list[Sentence], wanted: str) -> Verdict:
    """Every sentence with a level at ``wanted``; score = the share that is."""
    judged = [s for s in sentences if s.level]
    if not judged:
        return _nothing(sentences)
    off = [s for s in judged if s.level != wanted]
    head = f"{wanted} ({LEVELS[wanted]}) in {len(judged) - len(off)} of {len(judged)} sentences"
    detail = f"; by sentence: {_runs([s.level for s in judged])}{_offending(off)}" if off else ""
    return Verdict(not off, (len(judged) - len(off)) / len(judged), head + detail + _skipped(sentences))


def judge_consistency(sentences: list[Sentence]) -> Verdict:
    """Every sentence with a level at the same one; score = the share of the commonest level."""
    judged = [s for s in sentences if s.level]
    if not judged:
        return _nothing(sentences)
    counts = Counter(s.level for s in judged)
    main = max(counts, key=lambda lv: (counts[lv], -[s.level for s in judged].index(lv)))
    off = [s for s in judged if s.level != main]
    if not off:
        head = f"all {len(judged)} sentences {main} ({LEVELS[main]})"
        return Verdict(True, 1.0, head + _skipped(sentences))
    mix = ", ".join(f"{n} {lv} ({LEVELS[lv]})" for lv, n in counts.most_common())
    head = f"mixed: {mix}; by sentence: {_runs([s.level for s in judged])}{_offending(off)}"
    return Verdict(False, counts[main] / len(judged), head + _skipped(sentences))
