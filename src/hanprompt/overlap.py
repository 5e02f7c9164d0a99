"""How much of a text repeats another: the one measure of echoes (a judge's reason repeating its
instructions, a "translation" repeating its source or its instruction)."""
from __future__ import annotations

import re

_WORD = re.compile(r"\w+")
#: words per run compared; three words in the same order are rarely shared by chance
N = 3


def words(text: str) -> list[str]:
    """The text's words: ``\\w+`` runs (Hangul, Latin, digits, ...), case-folded."""
    return _WORD.findall((text or "").casefold())


def echo_share(text: str, of: str) -> float:
    """The share (0..1) of ``text``'s runs of :data:`N` words that also occur in ``of``, in the same order.

    A text of fewer than N words counts 1.0 when its words occur together, in order, in ``of``
    and 0.0 otherwise; a text without words counts 0.0.
    """
    mine, theirs = words(text), words(of)
    if not mine:
        return 0.0
    n = min(N, len(mine))
    runs = [tuple(mine[i:i + n]) for i in range(len(mine) - n + 1)]
    known = {tuple(theirs[i:i + n]) for i in range(len(theirs) - n + 1)}
    return sum(r in known for r in runs) / len(runs)
