"""Read queries of the report and the viewer: a run with everything hung off it, and pages of the log.

Nothing here writes. Lists are fetched a page at a time (LIMIT, keyset on ids); the only
queries without a LIMIT are those keyed by a primary key or by the ids of a page already
fetched. Judge verdicts (``generations.role = 'judge'``) are not answers: they show as checks.
"""
from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from typing import Iterable

from sqlalchemy import Connection, Engine, and_, exists, func, not_, or_, select

from hanprompt.errors import NotFoundError
from hanprompt.limits import valid_id
from hanprompt.store.db import reading, row_dict
from hanprompt.store.results import (
    add_origins,
    answers,
    attach,
    figure_rows,
    figures,
    in_file_order,
    run_counts,
)
from hanprompt.store.runs import live_status
from hanprompt.store.schema import (
    analyses,
    bench_results,
    checks,
    generations,
    runs,
    translation_scores,
    translations,
)

#: most ids sent in one IN (...) list
_CHUNK = 500
#: generations per page in the viewer, and the most one report section holds per run
PAGE = 50


def _answers(query):
    """Only answers of the model under test: judge verdicts (role 'judge') are shown as checks."""
    return query.where(generations.c.role.is_(None))


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


# --- which runs ------------------------------------------------------------------------------


def resolve_run_ids(engine: Engine, run_ids: list[int] | None) -> list[int]:
    """The runs asked for, checked to exist; none asked: the newest run.

    Raises NotFoundError naming the fix for an unknown id or an empty log.
    """
    with reading(engine) as conn:
        if not run_ids:
            newest = conn.execute(select(func.max(runs.c.id))).scalar()
            if newest is None:
                raise NotFoundError(
                    "the log holds no runs yet; make one with `hanprompt run FILE` or `hanprompt ask TEXT`"
                )
            return [newest]
        ids = list(dict.fromkeys(run_ids))
        found = set(conn.execute(select(runs.c.id).where(runs.c.id.in_(ids))).scalars())
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(
            f"no run with id {', '.join(map(str, missing))}; list them with `hanprompt runs`"
        )
    return ids


# --- one run, whole (the report) ------------------------------------------------------------


@dataclass
class RunBundle:
    """One run and what it holds: answers, translations of other texts, scores, analyses, bench rows."""

    run: dict
    results: list[dict] = field(default_factory=list)
    segments: list[dict] = field(default_factory=list)  # translations of texts that are not generations
    scores: list[dict] = field(default_factory=list)  # translation scores of this run, per translator
    analyses: list[dict] = field(default_factory=list)  # word analyses of this run's texts, newest first
    analysis: dict | None = None  # for a run of kind words: its own analysis
    bench: list[dict] = field(default_factory=list)


def load_run(engine: Engine, run_id: int) -> RunBundle:
    """Everything the report shows about one run. Raises NotFoundError for an unknown id."""
    with reading(engine) as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise NotFoundError(f"no run with id {run_id}; list them with `hanprompt runs`")
        bundle = RunBundle(run=live_status([row_dict(row)], conn)[0])
        bundle.results = answers(conn, run_id, bundle.run.get("spec"))
        bundle.segments = [row_dict(r) for r in conn.execute(
            select(translations)
            .where(translations.c.run_id == run_id, translations.c.generation_id.is_(None))
            .order_by(translations.c.id)
        ).mappings()]
        bundle.scores = [row_dict(r) for r in conn.execute(
            select(translation_scores).where(translation_scores.c.run_id == run_id).order_by(translation_scores.c.id)
        ).mappings()]
        bundle.analyses = _analyses_of(conn, run_id)
        own = conn.execute(
            select(analyses).where(analyses.c.run_id == run_id).order_by(analyses.c.id.desc()).limit(1)
        ).mappings().first()
        bundle.analysis = row_dict(own) if own else None
        bundle.bench = _bench_of(conn, run_id)
    return bundle


def _analyses_of(conn: Connection, run_id: int, limit: int = 20) -> list[dict]:
    """The newest analysis of each kind (field, grouping, parts of speech) made of this run's texts."""
    rows = conn.execute(
        select(analyses).where(analyses.c.source_run_id == run_id).order_by(analyses.c.id.desc()).limit(limit)
    ).mappings()
    newest: dict[str, dict] = {}
    for r in rows:
        params = r["params"] or {}
        key = json.dumps([params.get("field"), params.get("by"), params.get("pos")])
        newest.setdefault(key, row_dict(r))
    return list(newest.values())


def _bench_of(conn: Connection, run_id: int, limit: int | None = None) -> list[dict]:
    """A run's benchmark rows (one per configuration) in the order they were measured."""
    query = select(bench_results).where(bench_results.c.run_id == run_id).order_by(bench_results.c.id)
    if limit is not None:
        query = query.limit(limit)
    return [row_dict(r) for r in conn.execute(query).mappings()]


# --- pages (the viewer) ---------------------------------------------------------------------


def runs_page(engine: Engine, *, limit: int = PAGE, before: int | None = None, kind: str | None = None) -> dict:
    """A page of runs, newest first, each with its counts and its ``totals`` (``store.results.counts``
    of all its answers: the numbers its own page shows); ``next`` is the ``before`` of the next page."""
    query = select(runs).order_by(runs.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(runs.c.id < before)
    if kind:
        query = query.where(runs.c.kind == kind)
    with reading(engine) as conn:
        rows = [row_dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = live_status(rows[:limit], conn)
        ids = [r["id"] for r in rows]
        counts = _counts(conn, ids)
        totals = run_counts(conn, ids)
    for r in rows:
        r.update(counts.get(r["id"], {}), totals=totals[r["id"]])
    return {"runs": rows, "next": rows[-1]["id"] if more else None}


def _counts(conn: Connection, run_ids: list[int]) -> dict[int, dict]:
    """Answers and translations of the given runs only (their run_id index). Pass counts and rates
    come from ``store.results.figures``, never from here."""
    out: dict[int, dict] = {i: {"generations": 0, "translations": 0} for i in run_ids}
    if not run_ids:
        return out
    for run_id, n in conn.execute(
        _answers(select(generations.c.run_id, func.count()).where(generations.c.run_id.in_(run_ids)))
        .group_by(generations.c.run_id)
    ):
        out[run_id]["generations"] = n
    for run_id, n in conn.execute(
        select(translations.c.run_id, func.count()).where(translations.c.run_id.in_(run_ids))
        .group_by(translations.c.run_id)
    ):
        out[run_id]["translations"] = n
    return out


@dataclass(frozen=True)
class Filters:
    """What the generations list is narrowed to; every field optional, all combined with AND."""

    q: str | None = None  # text in the prompt or the response (NFC and NFD alike)
    model: str | None = None  # part of the model spec
    variant: str | None = None  # the variant id, exactly
    check: str | None = None  # "passed" | "failed" | "unchecked"
    run: int | None = None

    CHECKS = ("passed", "failed", "unchecked")

    def as_query(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


def _text_forms(text: str) -> list[str]:
    # Korean typed on macOS often arrives decomposed (NFD); stored text may be either form.
    return list(dict.fromkeys(unicodedata.normalize(form, text) for form in ("NFC", "NFD")))


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _filtered(query, filters: Filters):
    if filters.run is not None:
        query = query.where(generations.c.run_id == filters.run)
    if filters.model:
        query = query.where(generations.c.model.ilike(_like(filters.model), escape="\\"))
    if filters.variant:
        query = query.where(generations.c.variant == filters.variant)
    if filters.q:
        query = query.where(or_(*(
            col.ilike(_like(form), escape="\\")
            for form in _text_forms(filters.q) for col in (generations.c.prompt, generations.c.response)
        )))
    if filters.check:
        mine = checks.c.generation_id == generations.c.id
        any_check = exists().where(mine)
        failing = exists().where(and_(mine, checks.c.passed.is_(False)))
        query = query.where({
            "passed": and_(any_check, not_(failing)),
            "failed": failing,
            "unchecked": not_(any_check),
        }[filters.check])
    return query


#: the columns of a generation shown in lists (not the templated prompt or the placement)
LIST_COLUMNS = [
    "id", "run_id", "model", "variant", "vars", "repeat_index", "response", "input_tokens", "output_tokens",
    "ttft_s", "total_s", "tokens_per_s", "finish_reason", "error", "cached", "cached_from_id", "cost",
    "created_at",
]


def generations_page(
    engine: Engine, filters: Filters = Filters(), *, limit: int = PAGE, before: int | None = None
) -> dict:
    """A page of generations, newest first, narrowed by ``filters``; keyset paging on the id."""
    query = _filtered(_answers(select(*(generations.c[n] for n in LIST_COLUMNS))), filters).order_by(generations.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(generations.c.id < before)
    with reading(engine) as conn:
        rows = [row_dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = attach(conn, rows[:limit])
    return {"generations": rows, "next": rows[-1]["id"] if more else None}


def run_page(
    engine: Engine, run_id: int, *, limit: int = 2 * PAGE, after: int | None = None, variant: str | None = None
) -> dict:
    """A run and one page of its generations in storage order (keyset on the id), with checks and translations."""
    query = _answers(select(generations).where(generations.c.run_id == run_id))
    if variant:
        query = query.where(generations.c.variant == variant)
    if after is not None:
        query = query.where(generations.c.id > after)
    query = query.order_by(generations.c.id).limit(limit + 1)
    with reading(engine) as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first() if valid_id(run_id) else None
        if row is None:
            raise NotFoundError(f"no run with id {run_id}")
        run_row = live_status([row_dict(row)], conn)[0]
        rows = [row_dict(r) for r in conn.execute(query).mappings()]
        more = len(rows) > limit
        rows = add_origins(conn, attach(conn, rows[:limit]))
        counts = _counts(conn, [run_id])[run_id]
        found = _analyses_of(conn, run_id)
        own = conn.execute(
            select(analyses).where(analyses.c.run_id == run_id).order_by(analyses.c.id.desc()).limit(1)
        ).mappings().first()
        bench = _bench_of(conn, run_id, limit=500)
    return {
        "run": dict(run_row, **counts), "results": rows, "next": rows[-1]["id"] if more else None,
        "analyses": found, "analysis": row_dict(own) if own else None,
        "bench": bench,
    }


def run_info(engine: Engine, run_id: int) -> dict:
    """One run with its counts. Raises NotFoundError for an unknown id."""
    with reading(engine) as conn:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first() if valid_id(run_id) else None
        if row is None:
            raise NotFoundError(f"no run with id {run_id}")
        return dict(live_status([row_dict(row)], conn)[0], **_counts(conn, [run_id])[run_id])


def generation_detail(engine: Engine, gen_id: int) -> dict:
    """One generation with every stored field, its checks and its translations (with scores)."""
    with reading(engine) as conn:
        row = (conn.execute(select(generations).where(generations.c.id == gen_id)).mappings().first()
               if valid_id(gen_id) else None)
        if row is None:
            raise NotFoundError(f"no generation with id {gen_id}")
        out = attach(conn, [row_dict(row)])[0]
        run = conn.execute(select(runs.c.id, runs.c.name, runs.c.kind).where(runs.c.id == out["run_id"])).mappings().first()
        out["run"] = row_dict(run) if run else None
    return out


#: the most answers of one run whose figures the viewer computes (a run holds fewer: cells x repeats)
SUMMARY_ROWS = 200_000


def run_summary(engine: Engine, run_id: int, *, limit: int = 500) -> dict:
    """Per (variant, model) figures of a whole run, as ``store.results.figures`` defines them.

    Returns ``{"variants", "models", "stats": {(variant, model): figures}, "speeds": {model: tok/s},
    "by_variant": {variant: figures}, "total": figures}``, variants in the file's order; speeds
    count only answers generated in the run (no cache hits, no errors). The answers are read
    without their prompts (their responses only as lengths), at most ``SUMMARY_ROWS`` of them;
    at most ``limit`` (variant, model) groups.
    """
    with reading(engine) as conn:
        spec = conn.execute(select(runs.c.spec).where(runs.c.id == run_id)).scalar()
        rows = figure_rows(conn, [run_id], limit=SUMMARY_ROWS)[run_id]
    rows = in_file_order(spec, rows)
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["variant"], r["model"])
        if key in groups or len(groups) < limit:
            groups.setdefault(key, []).append(r)
    out = {key: figures(group) for key, group in groups.items()}
    variants = list(dict.fromkeys(v for v, _ in out))
    models = list(dict.fromkeys(m for _, m in out))
    speeds = {}
    for m in models:
        speed = figures([r for r in rows if r["model"] == m])["tokens_per_s"]
        if speed is not None:
            speeds[m] = speed
    by_variant = {v: figures([r for r in rows if r["variant"] == v]) for v in variants}
    return {"variants": variants, "models": models, "stats": out, "speeds": speeds, "by_variant": by_variant,
            "total": figures(rows)}
