"""How often a judge tells a right answer from a wrong one: the figure to read before trusting it.

The pairs (``src/hanprompt/data/judge-pairs.yaml``, or a file of the same shape) each hold a
question, a rubric, a clearly right answer and a clearly wrong one. The judge grades both with
the ``llm-rubric`` prompt and parser (:mod:`hanprompt.experiments.judge`); a pair is
*separated* when the right answer passes and the wrong one fails. A judge that passes (or fails)
everything separates none, however valid its verdicts look.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from hanprompt.errors import InputError, arg

PAIRS_FILE = "judge-pairs.yaml"
_KEYS = ("id", "question", "rubric", "right", "wrong")


@dataclass(frozen=True)
class Pair:
    id: str
    question: str
    rubric: str
    right: str
    wrong: str


def load_pairs(path: str | Path | None = None) -> list[Pair]:
    """The shipped pairs, or those of ``path`` (a YAML list of mappings with the keys id, question,
    rubric, right and wrong, all text). InputError naming the file, the line and the fix when not."""
    from hanprompt import textio
    from hanprompt.experiments.yamlfile import load

    if path is None:
        where, text = PAIRS_FILE, resources.files("hanprompt").joinpath("data", PAIRS_FILE).read_text("utf-8")
    else:
        where, text = str(path), textio.read_text(path, what="pairs file", flag=arg("path", flag="pairs"))
    data, lines = load(text, where)
    if not isinstance(data, list) or not data:
        raise InputError(f"{where}: not a list of pairs; give a YAML list of mappings with the keys {', '.join(_KEYS)}")
    pairs, seen = [], set()
    for i, item in enumerate(data):
        line = lines.get((i,), "?")
        if not isinstance(item, dict):
            raise InputError(f"{where}:{line}: pair {i + 1} is not a mapping; give the keys {', '.join(_KEYS)}")
        missing = [k for k in _KEYS if not isinstance(item.get(k), str) or not item[k].strip()]
        extra = sorted(set(item) - set(_KEYS))
        if missing or extra:
            problem = f"lacks {', '.join(missing)}" if missing else f"has unknown keys {', '.join(map(str, extra))}"
            raise InputError(f"{where}:{line}: pair {i + 1} {problem}; each pair has exactly the keys "
                             f"{', '.join(_KEYS)}, all text")
        if item["id"] in seen:
            raise InputError(f"{where}:{line}: pair id {item['id']!r} appears twice; give each pair its own id")
        seen.add(item["id"])
        pairs.append(Pair(**{k: textio.nfc(item[k].strip()) for k in _KEYS}))
    return pairs


def _verdict(outcome) -> dict:
    v = outcome.verdict
    if v is None:
        return {"passed": None, "score": None, "reason": None, "error": outcome.error,
                "calls": len(outcome.attempts)}
    return {"passed": v.passed, "score": v.score, "reason": v.reason, "error": None, "calls": len(outcome.attempts)}


def calibrate(judge: str, pairs: list[Pair] | None = None, load_options: dict | None = None) -> dict:
    """Grade each pair's right and wrong answer with ``judge`` (a model spec); nothing is stored.

    Returns ``{"judge", "separated", "total", "valid", "pairs": [{"id", "right": verdict,
    "wrong": verdict, "separated"}]}``; a verdict is ``{"passed", "score", "reason", "error",
    "calls"}`` (``passed`` None when the judge gave no valid verdict, ``error`` says why).
    ``separated`` counts the pairs whose right answer passed and wrong answer failed; ``valid``
    the answers (of 2 × total) that got a valid verdict.
    """
    from hanprompt.backends import registry
    from hanprompt.experiments.judge import run_judge

    pairs = load_pairs() if pairs is None else pairs
    backend = registry.load(judge, **(load_options or {}))
    items = [(p.rubric, p.question, answer) for p in pairs for answer in (p.right, p.wrong)]
    outcomes = run_judge(backend, items)
    rows = []
    for i, p in enumerate(pairs):
        right, wrong = _verdict(outcomes[2 * i]), _verdict(outcomes[2 * i + 1])
        rows.append({"id": p.id, "right": right, "wrong": wrong,
                     "separated": right["passed"] is True and wrong["passed"] is False})
    return {
        "judge": backend.spec,
        "separated": sum(r["separated"] for r in rows),
        "total": len(rows),
        "valid": sum(o.verdict is not None for o in outcomes),
        "pairs": rows,
    }
