"""The read model of an experiment run: its settings, its answers in the file's order, and the
figures of any group of its answers, each figure defined here once.

``run``, ``compare``, ``report`` and ``view`` show what these functions give; none computes a
figure of its own. The figures of a group of answers (a cell, a variant x model, a variant, the
whole run), as :func:`figures` computes them:

==================  ===========================================================================
figure              definition
==================  ===========================================================================
``n``               answers stored (copies included)
``cached``          answers served from the cache: copies of an answer generated in an earlier run
``errors``          answers whose generation failed
``independent``     distinct answers: the copies of one generation (cache hits, repeats of a
                    greedy or seeded prompt) count once (``experiments.stats.independent``)
``checked``         independent answers with at least one judged check (a check without a
                    verdict, such as an llm-rubric without a judge, counts nowhere)
``passed``          checked answers whose judged checks all passed
``pass_rate``       ``passed / checked`` (None when nothing was checked)
``checks_judged``   judged checks of the independent answers
``checks_passed``   those of them that passed
``mean_score``      mean, over independent answers with a scored check, of each answer's mean
                    score (0..1)
``output_tokens``   mean output tokens of the answers
``chars``           mean characters of the answers
``tokens_per_s``    mean decode speed (tokens/s) of the answers generated in this run (no cache
                    hit, no error): a copy's timing belongs to the run that generated it
``ttft_s``          mean TTFT (seconds) of the same answers
``measured``        how many answers those means are over
``cost``            money spent in this run: the sum of the cost of the answers generated in it;
                    a cached answer costs nothing here (``paid_in``: the runs that paid for them)
==================  ===========================================================================

The run's ``repeat`` is the number of repeats it asked for: the ``--repeat`` override when one
was given, else the file's ``repeat:``.
"""
from __future__ import annotations

import json
from statistics import fmean

from sqlalchemy import Connection, select

from hanprompt.experiments.stats import Sample, independent
from hanprompt.experiments.stats import passed as all_passed
from hanprompt.hangul import hangul_share
from hanprompt.store.db import row_dict
from hanprompt.store.experiments import CHECK_FIELDS
from hanprompt.store.schema import checks, generations, translation_scores, translations


def is_cached(row: dict) -> bool:
    """Whether an answer was served from the cache rather than generated (and measured) here."""
    return bool(row.get("cached")) or row.get("cached_from_id") is not None


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return fmean(values) if values else None


def counts(rows: list[dict]) -> dict:
    """``n``, ``cached``, ``errors``, ``independent``, ``checked``, ``passed`` and ``pass_rate`` of a
    group of answers, as the module docstring defines them (the part of :func:`figures` that
    needs no interval: what a list of runs shows)."""
    ind = independent(rows)
    passes = [p for p in map(all_passed, ind) if p is not None]
    k, checked = sum(passes), len(passes)
    return {
        "n": len(rows),
        "cached": sum(is_cached(r) for r in rows),
        "errors": sum(bool(r.get("error")) for r in rows),
        "independent": len(ind),
        "checked": checked,
        "passed": k,
        "pass_rate": k / checked if checked else None,
    }


def figures(rows: list[dict]) -> dict:
    """The figures of a group of answers (each with its ``checks``), as the module docstring defines them.

    An answer read without its text may give its length as ``chars`` instead of its ``response``.

    Also ``pass_rate_ci`` and ``mean_score_ci`` (``experiments.stats`` intervals, with method and n).
    """
    measured = [r for r in rows if not is_cached(r) and not r.get("error")]
    ind = independent(rows)
    judged = [c for r in ind for c in r.get("checks") or [] if c.get("passed") is not None]
    spent = [r.get("cost") for r in rows if not is_cached(r) and r.get("cost") is not None]
    sample = Sample.of(rows).summary()
    return {
        **counts(rows),
        "pass_rate_ci": sample["pass_rate_ci"],
        "checks_judged": len(judged),
        "checks_passed": sum(bool(c["passed"]) for c in judged),
        "scored": sample["scored"],
        "mean_score": sample["mean_score"],
        "mean_score_ci": sample["mean_score_ci"],
        "output_tokens": _mean(r.get("output_tokens") for r in rows),
        "chars": _mean(r["chars"] if "chars" in r else len(r.get("response") or "") for r in rows),
        "measured": len(measured),
        "tokens_per_s": _mean(r.get("tokens_per_s") for r in measured),
        "ttft_s": _mean(r.get("ttft_s") for r in measured),
        "cost": sum(spent) if spent else None,
        "paid_in": sorted({r["origin_run_id"] for r in rows if is_cached(r) and r.get("origin_run_id") is not None}),
    }


# --- the one reader of a run's answers ------------------------------------------------------

_CHUNK = 500


def _chunks(ids: list[int]):
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _checks_of(conn: Connection, gen_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {g: [] for g in gen_ids}
    for chunk in _chunks(gen_ids):
        for row in conn.execute(
            select(checks.c.generation_id, *(checks.c[k] for k in CHECK_FIELDS))
            .where(checks.c.generation_id.in_(chunk)).order_by(checks.c.id)
        ).mappings():
            out[row["generation_id"]].append({k: row[k] for k in CHECK_FIELDS})
    return out


def _translations_of(conn: Connection, gen_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {g: [] for g in gen_ids}
    scores: dict[tuple[int, str], dict] = {}
    for chunk in _chunks(gen_ids):
        rows = [row_dict(r) for r in conn.execute(
            select(translations).where(translations.c.generation_id.in_(chunk)).order_by(translations.c.id)
        ).mappings()]
        wanted = {(r["run_id"], r["translator"]) for r in rows} - set(scores)
        if wanted:
            run_ids = sorted({run_id for run_id, _ in wanted})
            for s in conn.execute(
                select(translation_scores).where(translation_scores.c.run_id.in_(run_ids))
            ).mappings():
                scores[(s["run_id"], s["translator"])] = row_dict(s)
        for r in rows:
            r["scores"] = scores.get((r["run_id"], r["translator"]))
            r["hangul_share"] = hangul_share(r.get("translation") or "")
            out[r["generation_id"]].append(r)
    return out


def attach(conn: Connection, rows: list[dict]) -> list[dict]:
    """Give each generation row its ``checks`` (name, spec, passed, reason, score) and ``translations`` (every
    stored column, its ``hangul_share`` 0..1 and ``scores``: its translator's chrF++/BLEU in that
    translate run, or None), two queries per 500 rows."""
    ids = [r["id"] for r in rows]
    by_check, by_translation = _checks_of(conn, ids), _translations_of(conn, ids)
    for r in rows:
        r["checks"] = by_check[r["id"]]
        r["translations"] = by_translation[r["id"]]
    return rows


def answers(conn: Connection, run_id: int, spec: dict | None) -> list[dict]:
    """Every answer of run ``run_id`` (judge verdicts left out: they show as checks) in the file's
    variant order (``spec``: the run's stored spec; see ``in_file_order``), each with its checks and
    translations (``attach``) and, when cached, the ``origin_run_id`` that paid for it."""
    rows = [row_dict(r) for r in conn.execute(
        select(generations).where(generations.c.run_id == run_id, generations.c.role.is_(None))
        .order_by(generations.c.id)
    ).mappings()]
    return in_file_order(spec, add_origins(conn, attach(conn, rows)))


def add_origins(conn, rows: list[dict]) -> list[dict]:
    """Give each cached answer its ``origin_run_id`` (the run that generated, and paid for, the
    answer it copies; None when that generation was deleted): one query per 500 copies."""
    wanted = sorted({r["cached_from_id"] for r in rows if r.get("cached_from_id") is not None})
    found: dict[int, int] = {}
    for i in range(0, len(wanted), 500):
        found.update(conn.execute(select(generations.c.id, generations.c.run_id)
                                  .where(generations.c.id.in_(wanted[i:i + 500]))).all())
    for r in rows:
        if r.get("cached_from_id") is not None:
            r["origin_run_id"] = found.get(r["cached_from_id"])
    return rows


#: the columns the figures of a run are computed from (no prompt, no messages)
FIGURE_COLUMNS = ["id", "run_id", "variant", "model", "vars", "repeat_index", "cache_key", "cached", "cached_from_id",
                  "params", "error", "output_tokens", "tokens_per_s", "ttft_s", "cost"]


#: the columns :func:`counts` reads
COUNT_COLUMNS = ["id", "run_id", "cache_key", "cached", "cached_from_id", "params", "error"]


def figure_rows(conn: Connection, run_ids: list[int], *, limit: int | None = None,
                full: bool = True) -> dict[int, list[dict]]:
    """The answers of each run in ``run_ids`` as :func:`figures` needs them, in storage order: the
    :data:`FIGURE_COLUMNS`, ``chars`` (the response's length, not its text), ``checks`` (passed,
    score) and, when cached, ``origin_run_id``; with ``full=False`` only what :func:`counts` needs
    (:data:`COUNT_COLUMNS` and the checks' ``passed``). Judge verdicts are left out (they are
    checks). At most ``limit`` answers per query of up to 500 runs when given."""
    from sqlalchemy import func
    from sqlalchemy import null as sa_null

    g = generations.c
    columns = [g[c] for c in (FIGURE_COLUMNS if full else COUNT_COLUMNS)]
    if full:
        columns.append(func.length(g.response).label("chars"))
    out: dict[int, list[dict]] = {run_id: [] for run_id in run_ids}
    for chunk in _chunks(list(run_ids)):
        query = select(*columns).where(g.run_id.in_(chunk), g.role.is_(None)).order_by(g.id)
        if limit is not None:
            query = query.limit(limit)
        names = [c.name for c in columns]
        rows = [dict(zip(names, r)) for r in conn.execute(query)]  # no datetime among these columns
        by_id: dict[int, list[dict]] = {r["id"]: [] for r in rows}
        score = checks.c.score if full else sa_null().label("score")
        for ids in _chunks(list(by_id)):
            for gen_id, ok, value in conn.execute(select(checks.c.generation_id, checks.c.passed, score)
                                                  .where(checks.c.generation_id.in_(ids)).order_by(checks.c.id)):
                by_id[gen_id].append({"passed": ok, "score": value})
        if full:
            add_origins(conn, rows)
        for r in rows:
            r["checks"] = by_id[r["id"]]
            if full:
                r["chars"] = r["chars"] or 0
            out[r["run_id"]].append(r)
    return out


def run_counts(conn: Connection, run_ids: list[int]) -> dict[int, dict]:
    """The :func:`counts` of every answer of each run: the same numbers as its page's total."""
    return {run_id: counts(rows) for run_id, rows in figure_rows(conn, run_ids, full=False).items()}


def check_summary(rows: list[dict]) -> list[dict]:
    """Each check of a cell over its independent answers: name, spec, ``passed`` of ``judged``
    (a check without a verdict counts in neither), ``mean_score`` (0..1) and a reason (the first
    failing answer's, else the first answer's)."""

    out: dict[str, dict] = {}
    for r in independent(rows):
        for c in r["checks"]:
            s = out.setdefault(json.dumps([c["name"], c["spec"]], sort_keys=True, ensure_ascii=False), {
                "name": c["name"], "spec": c["spec"], "passed": 0, "judged": 0, "scores": [], "reason": c["reason"],
                "failed": False})
            if c["passed"] is None:  # not judged: neither a pass nor a failure
                continue
            s["judged"] += 1
            s["passed"] += bool(c["passed"])
            if c.get("score") is not None:
                s["scores"].append(c["score"])
            if not c["passed"] and not s["failed"]:
                s["reason"], s["failed"] = c["reason"], True
    return [{"name": s["name"], "spec": s["spec"], "passed": s["passed"], "judged": s["judged"],
             "mean_score": _mean(s["scores"]), "reason": s["reason"]} for s in out.values()]


def result_passed(row: dict) -> bool | None:
    """Whether one answer's judged checks all passed (None: none was judged)."""
    return all_passed(row)


# --- settings and order ---------------------------------------------------------------------


def settings(spec: dict | None) -> dict:
    """A run's settings as it ran: the file's, with the command line's overrides applied.

    ``repeat``, ``models`` (specs), ``params`` (the file's generation parameters with any
    ``max_new_tokens``/``temperature``/``top_p``/``seed`` override), ``threads``, ``truncate``,
    ``no_cache`` (the run was made with ``--no-cache``), ``variants`` (ids, the file's order) and
    ``overrides`` (only what the command line replaced, as stored).
    """
    spec = spec if isinstance(spec, dict) else {}
    experiment = spec.get("spec") if isinstance(spec.get("spec"), dict) else {}
    overrides = spec.get("overrides") if isinstance(spec.get("overrides"), dict) else {}
    models = overrides.get("models") or experiment.get("models") or []
    return {
        "repeat": overrides.get("repeat") or experiment.get("repeat") or 1,
        "models": [m.get("spec") if isinstance(m, dict) else m for m in models],
        "params": dict(experiment.get("params") or {}, **(overrides.get("params") or {})),
        "threads": overrides.get("threads"),
        "truncate": overrides.get("truncate"),
        "no_cache": bool(overrides.get("no_cache")),
        "variants": variant_order(spec),
        "overrides": {k: v for k, v in overrides.items() if v is not None and k != "models"},
    }


def variant_order(spec: dict | None) -> list[str]:
    """The variant ids of a run's experiment, in the file's order."""
    experiment = (spec or {}).get("spec") if isinstance((spec or {}).get("spec"), dict) else {}
    return [v.get("id") for v in experiment.get("variants") or [] if isinstance(v, dict)]


def in_file_order(spec: dict | None, rows: list[dict]) -> list[dict]:
    """``rows`` (answers of one run) sorted by their variant's place in the file, then as stored
    (models, vars and repeats keep the order they ran in); a variant the file no longer names
    goes last."""
    place = {v: i for i, v in enumerate(variant_order(spec))}
    first = {}
    for r in rows:
        first.setdefault(r.get("variant"), len(first))
    return sorted(rows, key=lambda r: (place.get(r.get("variant"), len(place)), first[r.get("variant")]))


def cells(rows: list[dict]) -> list[tuple[tuple, list[dict]]]:
    """The answers grouped by cell (variant, vars, model), in the rows' order, repeats sorted."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r.get("variant"), json.dumps(r.get("vars") or {}, sort_keys=True, ensure_ascii=False), r["model"])
        groups.setdefault(key, []).append(r)
    return [(k, sorted(g, key=lambda r: (r.get("repeat_index") or 0, r["id"]))) for k, g in groups.items()]
