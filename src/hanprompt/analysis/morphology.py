"""Kiwi, built once per process per configuration: part-of-speech selections and user words."""
from __future__ import annotations

import collections
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from hanprompt.analysis.inputs import read_text
from hanprompt.textio import split_lines
from hanprompt.errors import InputError, UsageError, arg

POS_CHOICES = ("nouns", "nouns+verbs", "all")

# Kiwi marks irregular (-I) and regular (-R) conjugation on verb and adjective tags.
NOUN_TAGS = frozenset({"NNG", "NNP"})
VERB_TAGS = frozenset({"VV", "VA", "VV-I", "VV-R", "VA-I", "VA-R"})
# "all content words": numerals, general adverbs, roots, foreign words and Hanja as well.
CONTENT_TAGS = NOUN_TAGS | VERB_TAGS | frozenset({"NR", "MAG", "XR", "SL", "SH"})
# Never counted, whatever the selection: bound nouns (NNB: 것, 수), particles (J*), endings (E*)
# and punctuation (S* but SL): no selection above contains them.


def pos_tags(pos: str, *, foreign: bool = False, roots: bool = False) -> frozenset[str]:
    """The Kiwi tags a --pos selection counts (SL foreign words and XR roots on request)."""
    if pos == "nouns":
        tags = NOUN_TAGS
    elif pos == "nouns+verbs":
        tags = NOUN_TAGS | VERB_TAGS
    elif pos == "all":
        tags = CONTENT_TAGS
    else:
        raise UsageError(f"unknown {arg('pos', repr(pos))}; choose one of {', '.join(POS_CHOICES)}")
    if foreign:
        tags = tags | {"SL"}
    if roots:
        tags = tags | {"XR"}
    return frozenset(tags)


def lemma(form: str, tag: str) -> tuple[str, str]:
    """The word a reader sees: verb and adjective stems as their dictionary form (stem + 다)."""
    if tag[:2] in ("VV", "VA"):
        return form + "다", tag[:2]
    return form, tag


@dataclass(frozen=True)
class UserWord:
    """One entry of a user dictionary, with where it came from for error messages."""

    form: str
    tag: str
    score: float
    path: str
    line: int


def read_user_dictionary(path: str | os.PathLike) -> tuple[UserWord, ...]:
    """Parse Kiwi's ``form<TAB>tag[<TAB>score]`` format; a bad line raises InputError naming it."""
    text = read_text(Path(path), "user dictionary", arg("user_dict"))
    words = []
    for number, raw in enumerate(split_lines(text), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in raw.rstrip("\r\n").split("\t")]
        if len(fields) not in (2, 3) or not fields[0] or not fields[1]:
            raise InputError(
                f"invalid user dictionary line {number} in {path}: {line!r}; "
                "write form<TAB>tag<TAB>score, e.g. 성산일출봉<TAB>NNP<TAB>0"
            )
        try:
            score = float(fields[2]) if len(fields) == 3 and fields[2] else 0.0
        except ValueError:
            raise InputError(
                f"invalid score {fields[2]!r} on user dictionary line {number} in {path}; "
                "the third field must be a number such as 0 or 1.5"
            ) from None
        words.append(UserWord(fields[0], fields[1], score, str(path), number))
    return tuple(words)


def default_workers() -> int:
    """Every core this process may use: Kiwi spreads the documents over them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows
        return os.cpu_count() or 1


# A Kiwi holds about half a gigabyte once warm: keep the latest few configurations only.
_MAX_KIWIS = 2
_kiwis: collections.OrderedDict[tuple, object] = collections.OrderedDict()
_lock = threading.Lock()


def get_kiwi(user_words: tuple[UserWord, ...] = (), num_workers: int | None = None):
    """The Kiwi for this configuration, built on first use and kept for the process."""
    workers = num_workers or default_workers()
    key = (workers, tuple((w.form, w.tag, w.score) for w in user_words))
    with _lock:
        if key in _kiwis:
            _kiwis.move_to_end(key)
            return _kiwis[key]
        kiwi = _build(workers, user_words)
        _kiwis[key] = kiwi
        while len(_kiwis) > _MAX_KIWIS:
            _kiwis.popitem(last=False)
        return kiwi


def _build(workers: int, user_words: tuple[UserWord, ...]):
    from kiwipiepy import Kiwi

    kiwi = Kiwi(num_workers=workers)
    for w in user_words:
        try:
            kiwi.add_user_word(w.form, w.tag, w.score)
        except ValueError as e:  # an unknown tag; Kiwi's message names it
            raise InputError(
                f"invalid user dictionary line {w.line} in {w.path}: {e}; "
                "use a Kiwi tag such as NNP, NNG, VV or VA"
            ) from None
    return kiwi


@dataclass(frozen=True)
class Analyzer:
    """A configured Kiwi plus the tags it counts."""

    kiwi: object
    tags: frozenset[str]
    pos: str

    @property
    def name(self) -> str:
        import kiwipiepy

        return f"kiwipiepy {kiwipiepy.__version__} ({self.pos})"
