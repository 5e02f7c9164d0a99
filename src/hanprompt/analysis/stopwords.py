"""Stopwords: the list shipped with hanprompt (editable text) plus the user's own."""
from __future__ import annotations

import functools
import os
from importlib import resources
from pathlib import Path

from hanprompt.analysis.inputs import read_text
from hanprompt.errors import arg
from hanprompt.textio import nfc, split_lines

DEFAULT_FILE = "stopwords-ko.txt"


def parse_stopwords(text: str) -> frozenset[str]:
    """One word per line; blank lines and '#' comments (whole-line or trailing) are skipped."""
    words = (nfc(line.split("#", 1)[0].strip()) for line in split_lines(text))
    return frozenset(w for w in words if w)


def default_text() -> str:
    """The shipped list, as text (it also feeds the analysis fingerprint)."""
    return resources.files("hanprompt").joinpath("data", DEFAULT_FILE).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def default_stopwords() -> frozenset[str]:
    """The shipped Korean stopword list (src/hanprompt/data/stopwords-ko.txt)."""
    return parse_stopwords(default_text())


def user_stopwords(path: str | os.PathLike) -> frozenset[str]:
    """A user's stopword file, in the same format as the shipped one."""
    return parse_stopwords(read_text(Path(path), "stopword list", arg("stopwords")))


def load_stopwords(path: str | os.PathLike | None = None, *, defaults: bool = True) -> frozenset[str]:
    """The shipped list (unless ``defaults`` is False) joined with the user's file, if any."""
    words = default_stopwords() if defaults else frozenset()
    return words | user_stopwords(path) if path else words
