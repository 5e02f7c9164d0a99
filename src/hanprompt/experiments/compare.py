"""Comparing results: one run side by side (variants x models), and two runs variant by variant."""
from __future__ import annotations

from sqlalchemy import Engine

from hanprompt.experiments.stats import METHODS, Sample, verdict
from hanprompt.store.results import cells, check_summary, figures


def _stats(rows: list[dict]) -> dict:
    """The figures of a group of results: ``store.results.figures`` (defined there once)."""
    return figures(rows)


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
                checks=[c for r in rows for c in r["checks"]], check_summary=check_summary(rows), **_stats(rows),
            ))
    return {"variants": variants, "models": models, "cells": cells, "prompts": prompt_cells(results)}


def prompt_cells(results: list[dict]) -> list[dict]:
    """Every cell of the matrix, variant x vars x model, its repeats grouped: the view that hides nothing.

    One dict per cell, in the run's order: variant, vars, model, ``ids``, ``responses`` (the
    distinct answers, most frequent first, each with its count), the first repeat's
    ``translations``, and the cell's ``store.results.figures`` (``n`` repeats stored, ``passed``
    of ``checked`` independent answers, tok/s and cost of the answers generated in the run, ...).
    """
    from collections import Counter

    out = []
    for (variant, _, model), rows in cells(results):
        counts = Counter(r["response"] for r in rows)
        out.append({
            **figures(rows),
            "variant": variant, "vars": rows[0].get("vars") or {}, "model": model,
            "ids": [r["id"] for r in rows],
            "responses": [{"response": text, "count": n} for text, n in counts.most_common()],
            "translations": rows[0].get("translations", []),
        })
    return out


def against_baseline(results: list[dict], baseline: str | None = None) -> list[dict]:
    """Each variant against ``baseline`` (default: the first variant), model by model: B is the variant."""
    from hanprompt.errors import UsageError

    variants = _ordered(r["variant"] for r in results)
    if baseline is None:
        baseline = variants[0] if variants else None
    elif baseline not in variants:
        raise UsageError(f"no variant {baseline!r} in this run; choose one of {', '.join(variants)}")
    out = []
    for m in _ordered(r["model"] for r in results):
        base = [r for r in results if r["model"] == m and r["variant"] == baseline]
        for v in variants:
            rows = [r for r in results if r["model"] == m and r["variant"] == v]
            if v != baseline and rows and base:
                out.append({"model": m, "a": baseline, "b": v, **verdict(Sample.of(base), Sample.of(rows))})
    return out


def _delta(a: float | None, b: float | None) -> float | None:
    return b - a if a is not None and b is not None else None


def diff(results_a: list[dict], results_b: list[dict]) -> list[dict]:
    """Per variant (per variant x model when both runs ran the same models): pass rate, mean score,
    output length and speed in A and in B, B minus A, and the verdict."""
    same_models = {r["model"] for r in results_a} == {r["model"] for r in results_b}
    models = _ordered(r["model"] for r in results_a + results_b) if same_models else [None]
    rows = []
    for v in _ordered([r["variant"] for r in results_a] + [r["variant"] for r in results_b]):
        for m in models:
            side_a = [r for r in results_a if r["variant"] == v and m in (None, r["model"])]
            side_b = [r for r in results_b if r["variant"] == v and m in (None, r["model"])]
            if not side_a and not side_b:
                continue
            a, b = _stats(side_a), _stats(side_b)
            row = {"variant": v, "model": m, "a": a if a["n"] else None, "b": b if b["n"] else None}
            row["delta"] = {k: _delta(a[k], b[k])
                            for k in ("pass_rate", "mean_score", "output_tokens", "tokens_per_s", "cost")}
            row["verdict"] = verdict(Sample.of(side_a), Sample.of(side_b))
            rows.append(row)
    return rows


def _experiment(engine: Engine, run_id: int) -> tuple[dict, list[dict]]:
    from hanprompt.errors import UsageError
    from hanprompt.store.experiments import run_results
    from hanprompt.store.results import settings as results_settings
    from hanprompt.store.runs import get_run

    run = get_run(engine, run_id)
    if run["kind"] != "experiment":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not an experiment; pass an experiment's run id")
    info = {k: run[k] for k in ("id", "name", "status", "created_at")}
    results = run_results(engine, run_id)
    info["file"] = ((run.get("spec") or {}).get("file"))
    info["models"] = _ordered(r["model"] for r in results)
    totals = figures(results)
    info["generated"] = totals["n"] - totals["cached"]  # generations run in it
    info["cached"] = totals["cached"]
    info["settings"] = results_settings(run.get("spec"))
    return info, results


def side_warnings(a: dict, b: dict) -> list[str]:
    """What makes two runs hard to compare: different experiments, different model sets."""
    out = []
    if a["name"] != b["name"]:
        out.append(f"run {a['id']} is experiment {a['name']!r} and run {b['id']} is {b['name']!r}: "
                   "variants are matched by id across different experiments")
    if set(a["models"]) != set(b["models"]):
        out.append(f"the runs ran different models (A: {', '.join(a['models']) or 'none'}; "
                   f"B: {', '.join(b['models']) or 'none'}): figures pool whatever models each side ran")
    for side in (a, b):
        if side["generated"] == 0 and side["cached"]:
            out.append(f"run {side['id']} generated nothing (every result came from the cache): "
                       "it has no speed of its own")
    return out


def compare_run(engine: Engine, run_id: int, baseline: str | None = None) -> dict:
    """One run side by side, with its results, and each variant against ``baseline``."""
    info, results = _experiment(engine, run_id)
    return {"run": info, "results": results, **summarize(results),
            "verdicts": against_baseline(results, baseline), "methods": METHODS}


def compare_runs(engine: Engine, run_a: int, run_b: int) -> dict:
    """Per-variant changes between two runs, with verdicts (B is the second run)."""
    info_a, results_a = _experiment(engine, run_a)
    info_b, results_b = _experiment(engine, run_b)
    return {"a": info_a, "b": info_b, "warnings": side_warnings(info_a, info_b),
            "variants": diff(results_a, results_b), "methods": METHODS}
