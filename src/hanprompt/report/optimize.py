"""The report's view of an optimization (a run of kind ``optimize``): the search and its proof."""
from __future__ import annotations

import difflib


def _lines(messages: list[dict] | None) -> list[str]:
    out = []
    for m in messages or []:
        content = m["content"].splitlines() or [""]
        out += [f"{m['role']}: {content[0]}", *(f"    {line}" for line in content[1:])]
    return out


def view(run: dict) -> dict | None:
    """What the page shows of an optimization run, from its stored spec; None for other runs.

    ``rounds``: per round its experiment run and candidates (passed/checked on the search rows,
    ``rate`` as a share, ``best``: the best so far after that round); ``diff``: the winner's messages
    against the original's, unified diff lines; ``held_out``, ``outcome`` and what was spent as stored.
    """
    if run.get("kind") != "optimize":
        return None
    state = run.get("spec") or {}
    rounds, best_rate = [], None
    for rnd in state.get("rounds") or []:
        rows = []
        for c in rnd["candidates"]:
            rate = c["passed"] / c["checked"] if c["checked"] else None
            rows.append(dict(c, rate=rate))
            if rate is not None and (best_rate is None or rate > best_rate):
                best_rate = rate
        rounds.append({"round": rnd["round"], "run_id": rnd["run_id"], "candidates": rows, "best": best_rate})
    winner = state.get("winner")
    diff = list(difflib.unified_diff(_lines(state.get("original_messages")), _lines((winner or {}).get("messages")),
                                     "original", (winner or {}).get("id", "winner"), lineterm="", n=3)) if winner else []
    return {"variant": state.get("variant"), "split": state.get("split") or {}, "rounds": rounds,
            "winner": winner, "diff": diff, "held_out": state.get("held_out"), "outcome": state.get("outcome"),
            "budget": state.get("budget"), "spent": state.get("spent"), "generated": state.get("generated"),
            "cached": state.get("cached"), "proposer_calls": state.get("proposer_calls"),
            "cost": state.get("cost"), "proposer": state.get("proposer"), "output": state.get("output")}
