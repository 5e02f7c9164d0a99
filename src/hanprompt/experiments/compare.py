"""Comparing results: one run side by side (variants x models), and two runs variant by variant."""
from __future__ import annotations

from statistics import fmean

from sqlalchemy import Engine


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return fmean(values) if values else None


def _stats(rows: list[dict]) -> dict:
    checked = [r for r in rows if r["checks"]]
    passed = sum(all(c["passed"] for c in r["checks"]) for r in checked)
    return {
        "n": len(rows),
        "cached": sum(bool(r.get("cached")) for r in rows),
        "output_tokens": _mean([r["output_tokens"] for r in rows]),
        "tokens_per_s": _mean([r["tokens_per_s"] for r in rows]),
        "passed": passed,
        "checked": len(checked),
        "pass_rate": passed / len(checked) if checked else None,
    }


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def summarize(results: list[dict]) -> dict:
    """Variants as rows, models as columns: a response, mean tokens, mean tok/s and pass rate per cell."""
    variants = _ordered(r["variant"] for r in results)
    models = _ordered(r["model"] for r in results)
    cells = []
    for v in variants:
        for m in models:
            rows = [r for r in results if r["variant"] == v and r["model"] == m]
            if not rows:
                continue
            first = min(rows, key=lambda r: (r.get("repeat_index") or 0, r["id"]))
            cells.append(dict(
                variant=v, model=m, response=first["response"],
                checks=[c for r in rows for c in r["checks"]], **_stats(rows),
            ))
    return {"variants": variants, "models": models, "cells": cells}


def _delta(a: float | None, b: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def diff(results_a: list[dict], results_b: list[dict]) -> list[dict]:
    """Per variant: pass rate, output length and speed in A and in B, and B minus A."""
    rows = []
    for v in _ordered([r["variant"] for r in results_a] + [r["variant"] for r in results_b]):
        a = _stats([r for r in results_a if r["variant"] == v])
        b = _stats([r for r in results_b if r["variant"] == v])
        row = {"variant": v, "a": a if a["n"] else None, "b": b if b["n"] else None}
        row["delta"] = {k: _delta(a[k], b[k]) for k in ("pass_rate", "output_tokens", "tokens_per_s")}
        rows.append(row)
    return rows


def _experiment(engine: Engine, run_id: int) -> tuple[dict, list[dict]]:
    from hanprompt.errors import UsageError
    from hanprompt.store.experiments import run_results
    from hanprompt.store.runs import get_run

    run = get_run(engine, run_id)
    if run["kind"] != "experiment":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not an experiment; pass an experiment's run id")
    info = {k: run[k] for k in ("id", "name", "status", "created_at")}
    return info, run_results(engine, run_id)


def compare_run(engine: Engine, run_id: int) -> dict:
    """One run side by side, with its results."""
    info, results = _experiment(engine, run_id)
    return {"run": info, "results": results, **summarize(results)}


def compare_runs(engine: Engine, run_a: int, run_b: int) -> dict:
    """Per-variant changes between two runs."""
    info_a, results_a = _experiment(engine, run_a)
    info_b, results_b = _experiment(engine, run_b)
    return {"a": info_a, "b": info_b, "variants": diff(results_a, results_b)}
