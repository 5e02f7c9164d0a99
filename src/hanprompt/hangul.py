"""Telling Korean script apart: the one definition checks, metrics and prompt styles share."""
from __future__ import annotations

from typing import Iterable


def is_hangul(ch: str) -> bool:
    """Hangul syllables and jamo (compatibility and conjoining)."""
    code = ord(ch)
    return 0xAC00 <= code <= 0xD7A3 or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F


def has_hangul(text: str) -> bool:
    return any(map(is_hangul, text))


def hangul_share(texts: str | Iterable[str]) -> float:
    """Hangul letters over all letters (digits, spaces and punctuation do not count); 0 without letters."""
    if isinstance(texts, str):
        texts = [texts]
    letters = hangul = 0
    for text in texts:
        for ch in text:
            if ch.isalpha():
                letters += 1
                hangul += is_hangul(ch)
    return hangul / letters if letters else 0.0
