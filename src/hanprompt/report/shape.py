"""Stored rows shaped for the pages: side-by-side grids, run summaries, comparisons, redaction.

Pure functions over the dicts that ``report.data`` returns; no database, no HTML.
"""
from __future__ import annotations

import json
import re

from hanprompt.hangul import hangul_share
from hanprompt.store.results import figures
from hanprompt.store.results import settings as run_settings

#: keys whose values are never shown (an API key in a model's options, a password in a URL)
_SECRET_KEY = re.compile(
    r"(^|[_-])(api[_-]?key|apikey|secret|password|passwd|authorization|auth|bearer|access[_-]?token|"
    r"auth[_-]?token|refresh[_-]?token|credentials?)($|[_-])",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.IGNORECASE)
HIDDEN = "(hidden)"


def redact(value):
    """A copy of ``value`` with secret-named keys hidden and passwords cut out of URLs."""
    if isinstance(value, dict):
        return {k: HIDDEN if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:***@", value)
    return value


def vars_label(values: dict | None) -> str:
    if not values:
        return ""
    return ", ".join(f"{k}={v}" for k, v in values.items())


def stats(rows: list[dict]) -> dict:
    """The figures of a group of results: ``store.results.figures`` (defined there once)."""
    return figures(rows)


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def grid(results: list[dict]) -> dict:
    """Variants x vars as rows, models as columns, repeats of a cell together.

    Returns ``{"models": [...], "rows": [{"variant", "style", "vars", "cells": {model: [results]}}],
    "stats": {(variant, model): stats}}``.
    """
    models = _ordered(r["model"] for r in results)
    rows: dict[tuple, dict] = {}
    for r in results:
        key = (r.get("variant"), json.dumps(r.get("vars") or {}, sort_keys=True, ensure_ascii=False))
        row = rows.setdefault(key, {
            "variant": r.get("variant"), "style": r.get("style"), "vars": r.get("vars") or {},
            "label": vars_label(r.get("vars")), "cells": {},
            "messages": r.get("messages") or [], "prompt": r.get("prompt"),
        })
        row["cells"].setdefault(r["model"], []).append(r)
    for row in rows.values():
        for cell in row["cells"].values():
            cell.sort(key=lambda r: (r.get("repeat_index") or 0, r["id"]))
        row["stats"] = {m: stats(cell) for m, cell in row["cells"].items()}
    per_variant_model = {}
    for v in _ordered(r.get("variant") for r in results):
        for m in models:
            group = [r for r in results if r.get("variant") == v and r["model"] == m]
            if group:
                per_variant_model[(v, m)] = stats(group)
    return {"models": models, "rows": list(rows.values()), "stats": per_variant_model,
            "variants": _ordered(r.get("variant") for r in results)}


def models_used(results: list[dict]) -> list[dict]:
    """Each model of a run once: backend, placement, precision and parameters of its first answer;
    a model served by several servers (``openai:MODEL@URL1,URL2``) has as placement the answers
    each server gave (``{"servers": {url: answers}}``)."""
    seen: dict[str, dict] = {}
    servers: dict[str, dict[str, int]] = {}
    for r in results:
        if r["model"] not in seen:
            seen[r["model"]] = {k: r.get(k) for k in ("model", "backend", "device", "dtype", "placement", "params")}
            seen[r["model"]]["params"] = redact(r.get("params"))
        placement = r.get("placement")
        if isinstance(placement, dict) and isinstance(placement.get("server"), str):
            count = servers.setdefault(r["model"], {})
            count[placement["server"]] = count.get(placement["server"], 0) + 1
    for model, count in servers.items():
        if len(count) > 1:
            seen[model]["placement"] = {"servers": count}
    return list(seen.values())


def run_meta(run: dict, results: list[dict]) -> dict:
    """What a run was: experiment file, description, parameters, models with their placement."""
    spec = redact(run.get("spec") or {})
    experiment = spec.get("spec") if isinstance(spec.get("spec"), dict) else {}
    ran = run_settings(spec)
    return {
        "id": run["id"], "name": run["name"], "kind": run["kind"], "status": run["status"],
        "created_at": run.get("created_at"), "finished_at": run.get("finished_at"), "error": run.get("error"),
        "file": spec.get("file"), "description": experiment.get("description"),
        "params": experiment.get("params"), "repeat": ran["repeat"] if experiment else None,
        "overrides": run_overrides(spec),
        "spec": spec, "models": models_used(results), "totals": stats(results),
    }


def run_overrides(spec: dict) -> dict:
    """What the command line replaced in the file for this run (repeat, generation parameters,
    threads, truncation; models are shown with the answers), as stored with the run."""
    return run_settings(spec)["overrides"]


def translation_line(t: dict) -> dict:
    """A translation with the figures shown beneath its response."""
    return dict(t, hangul_share=hangul_share(t.get("translation") or ""))


def comparable(bundles: list) -> list:
    """The runs that hold answers to compare (experiments and asks, not translate or words runs)."""
    return [b for b in bundles if b.run["kind"] in ("experiment", "ask") and b.results]


def by_variant(results: list[dict]) -> dict:
    """Stats of a run's answers per variant, in the order the variants first appear."""
    variants = _ordered(r.get("variant") for r in results)
    return {v: stats([r for r in results if r.get("variant") == v]) for v in variants}


def model_speeds(results: list[dict]) -> dict[str, float]:
    """Mean decode tokens/s per model over the answers measured in the run (cache hits left out)."""
    out = {}
    for model in _ordered(r["model"] for r in results):
        mean = stats([r for r in results if r["model"] == model])["tokens_per_s"]
        if mean is not None:
            out[model] = mean
    return out


def compare(runs: list[dict], per_run: list[dict], models: list[list[str]]) -> dict:
    """Several runs variant by variant: each run's stats, and each later run minus the first.

    ``per_run[i]`` maps variant -> ``stats`` of run i; ``models[i]`` lists the models run i asked.
    """
    variants = _ordered(v for stats_of in per_run for v in stats_of)
    empty = stats([])
    table = []
    for v in variants:
        cells = [stats_of.get(v, empty) for stats_of in per_run]
        base = cells[0]
        deltas = [
            {k: (c[k] - base[k]) if c[k] is not None and base[k] is not None and c["n"] and base["n"] else None
             for k in ("pass_rate", "output_tokens", "tokens_per_s")}
            for c in cells
        ]
        table.append({"variant": v, "cells": cells, "deltas": deltas})
    names = [r["name"] for r in runs]
    warnings = []
    if len({tuple(sorted(m)) for m in models}) > 1:
        warnings.append("the runs asked different models; differences may come from the models, not the prompts")
    if len(set(names)) > 1:
        warnings.append("the runs come from different experiments: " + ", ".join(dict.fromkeys(names)))
    return {"runs": runs, "variants": table, "warnings": warnings}


def _summary_mean(entry) -> float | None:
    """A figure stored either as a number or as a summary ``{"mean", "stdev", "p50", ...}``."""
    return entry.get("mean") if isinstance(entry, dict) else entry


def bench_rows(rows: list[dict]) -> list[dict]:
    """Benchmark rows (``hanprompt bench``) with their headline figures picked out of ``metrics``.

    Adds ``label``; ``decode``/``prefill`` (mean tokens/s), ``ttft`` (mean seconds), ``ceiling``
    (decode roofline, tokens/s), ``mbu`` (percent of that ceiling), ``cost`` (per million output
    tokens at batch 1), ``batch_decode`` (aggregate tokens/s at ``--batch N``); None where a row
    lacks one (skipped, out of memory, failed). ``flags`` lists the figures that cannot be true
    (``bench.service.check_physics``), ``decode_untimed`` says why a server's decode has no figure
    and ``mbu_unreliable`` marks an MBU over a bandwidth found unreliable.
    """
    out = []
    for r in rows:
        m = r.get("metrics") or {}
        roof = m.get("roofline") or {}
        mbu = roof.get("mbu")
        row = dict(r, config=redact(r.get("config") or {}), metrics=redact(m))
        row.update(
            label=bench_label(row),
            decode=_summary_mean(m.get("decode_tok_s")), prefill=_summary_mean(m.get("prefill_tok_s")),
            ttft=_summary_mean(m.get("ttft_s")),
            ceiling=roof.get("ceiling_tok_s"), mbu=mbu * 100 if mbu is not None else None,
            cost=(m.get("cost") or {}).get("per_million_output"),
            batch_decode=(m.get("batch") or {}).get("decode_tok_s"),
            flags=m.get("flags") or [], decode_untimed=m.get("decode_untimed"),
            mbu_unreliable=bool(roof.get("bandwidth_unreliable")),
        )
        out.append(row)
    return out


def bench_korean(rows: list[dict]) -> list[dict]:
    """The Korean token-efficiency table of a benchmark's rows (one per model, as the CLI shows it)."""
    from hanprompt.bench.tokens import efficiency_rows

    korean: dict = {}
    for r in rows:
        k = (r.get("metrics") or {}).get("korean")
        if k is not None:
            korean.setdefault(str(r.get("model")), k)
    return efficiency_rows(korean)


def bench_label(row: dict) -> str:
    """A configuration in a few words: model, then device, precision and GPU layers (``ngl``)."""
    c = row.get("config") or {}
    parts = [str(row.get("model") or "?")] + [str(c[k]) for k in ("device", "dtype") if c.get(k) not in (None, "")]
    if c.get("gpu_layers") is not None:
        parts.append(f"ngl {c['gpu_layers']}")
    return " · ".join(parts)
