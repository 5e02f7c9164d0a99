"""Telling a translation from a text that is not one: an echo of the source or of the instruction,
or too little of the target's script. Such a text is stored flagged, with the reason, and counted
apart; it is never dropped, so that scores against references still see it.

The script test is Korean's (Hangul, ``hanprompt.hangul.hangul_share``: Hangul letters over all
letters); other target languages get the echo tests only.
"""
from __future__ import annotations

from hanprompt.hangul import hangul_share
from hanprompt.overlap import echo_share, words

#: without a reference, a Korean translation with a smaller Hangul share is flagged; English
#: terms and names a translation keeps (Python, API, Seoul) rarely take more than half its letters
MIN_HANGUL = 0.3
#: with a reference, a Hangul share below this fraction of the reference's is flagged ("far below")
FAR_BELOW = 0.5
#: a translation with at least this share of its runs of three words from the source (or the
#: instruction) repeats it (``hanprompt.overlap.echo_share``)
ECHO_SHARE = 0.5


def flag(translation: str, source: str, target_lang: str, *, instruction: str | None = None,
         reference: str | None = None) -> str | None:
    """Why ``translation`` (of ``source`` into ``target_lang``) is not taken for a translation, or None.

    In order: it repeats ``instruction`` (the prompt of an ``llm:`` translator); it repeats the
    source; its Hangul share (target ``ko``) is below ``FAR_BELOW`` of ``reference``'s or, without a
    reference, below ``MIN_HANGUL``. A source without letters (numbers, symbols) is never flagged.
    """
    if not any(ch.isalpha() for ch in source or ""):
        return None
    if not words(translation):
        return "empty: no words"
    if instruction and echo_share(translation, instruction) >= ECHO_SHARE:
        return "repeats the instruction"
    if echo_share(translation, source) >= ECHO_SHARE:
        return "repeats the source"
    if target_lang == "ko":
        share = hangul_share(translation)
        if reference is not None and any(ch.isalpha() for ch in reference):
            ref = hangul_share(reference)
            if share < FAR_BELOW * ref:
                return f"Hangul {share:.0%}, far below the reference's {ref:.0%}"
        elif share < MIN_HANGUL:
            return f"Hangul {share:.0%}, below {MIN_HANGUL:.0%}"
    return None
