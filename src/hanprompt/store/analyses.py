"""Word analyses in the log: where their documents come from, and storing and reusing results.

Documents are streamed with ``yield_per`` (a server-side cursor on PostgreSQL), so counting
over any number of stored responses holds one batch in memory at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from sqlalchemy import Engine, func, insert, null, or_, select

from hanprompt.errors import NotFoundError, UsageError, arg
from hanprompt.store.db import now, reading, row_dict
from hanprompt.store.schema import analyses, generations, runs, translations

FIELDS = ("response", "translation")
GROUPS = ("model", "variant")


@dataclass(frozen=True)
class Source:
    """Which stored texts an analysis reads: one run, an experiment's latest run, or everything."""

    run_id: int | None  # None: every stored generation
    field: str = "response"
    label: str = "all stored responses"


def resolve_source(
    engine: Engine, *, run_id: int | None = None, experiment: str | None = None, field: str = "response"
) -> Source:
    """Check that the run or experiment exists; neither given means all stored texts."""
    if field not in FIELDS:
        raise UsageError(f"unknown {arg('field', repr(field))}; choose one of {', '.join(FIELDS)}")
    with reading(engine) as conn:
        if run_id is not None:
            if conn.execute(select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                raise NotFoundError(f"no run with id {run_id}; list them with `hanprompt runs`")
            return Source(run_id, field, f"run {run_id}")
        if experiment is not None:
            found = conn.execute(
                select(func.max(runs.c.id)).where(runs.c.kind == "experiment", runs.c.name == experiment)
            ).scalar()
            if found is None:
                raise NotFoundError(
                    f"no experiment named {experiment!r}; list them with `hanprompt runs --kind experiment`"
                )
            return Source(found, field, f"experiment {experiment} (run {found})")
    return Source(None, field, f"all stored {field}s")


def _text_query(source: Source, by: str | None):
    """(id, group, text) rows of the source, oldest first."""
    if by is not None and by not in GROUPS:
        raise UsageError(f"unknown {arg('by', repr(by))}; choose one of {', '.join(GROUPS)}")
    group = generations.c[by] if by else null()
    if source.field == "response":
        text = generations.c.response
        query = select(generations.c.id, group, text).where(
            text.is_not(None), generations.c.error.is_(None),
            generations.c.role.is_(None),  # a judge's verdicts are not the words of the model under test
        )
        if source.run_id is not None:
            query = query.where(generations.c.run_id == source.run_id)
        return query.order_by(generations.c.id)
    # Translations belong to a translate run and point at the generation they translate:
    # --run accepts either the translate run or the run whose responses were translated.
    text = translations.c.translation
    query = select(translations.c.id, group, text).select_from(
        translations.outerjoin(generations, generations.c.id == translations.c.generation_id)
    )
    query = query.where(generations.c.role.is_(None))  # no translated verdicts (NULL for plain texts)
    if source.run_id is not None:
        query = query.where(
            or_(translations.c.run_id == source.run_id, generations.c.run_id == source.run_id)
        )
    return query.order_by(translations.c.id)


def fingerprint(engine: Engine, source: Source) -> dict:
    """How many texts the source holds and its newest id: new data gives a new fingerprint."""
    q = _text_query(source, None).order_by(None).subquery()
    with reading(engine) as conn:
        count, newest = conn.execute(select(func.count(), func.max(q.c.id))).one()
    return {"run_id": source.run_id, "field": source.field, "count": count, "max_id": newest}


def iter_texts(
    engine: Engine, source: Source, by: str | None = None, batch: int = 2000
) -> Iterator[tuple[str | None, str]]:
    """(group, text) for every text of the source, fetched ``batch`` rows at a time."""
    with reading(engine) as conn:
        result = conn.execution_options(yield_per=batch).execute(_text_query(source, by))
        if by:
            for _id, group, text in result:
                yield (group if group is not None else "(none)"), text
        else:
            for _id, _group, text in result:
                yield None, text


def find_analysis(engine: Engine, params_hash: str) -> dict | None:
    """The newest stored analysis with these parameters over the same data, if any."""
    with reading(engine) as conn:
        row = conn.execute(
            select(analyses).where(analyses.c.params_hash == params_hash).order_by(analyses.c.id.desc()).limit(1)
        ).mappings().first()
    return row_dict(row) if row else None


def add_analysis(conn, run_id: int, *, params: dict, params_hash: str, source_run_id: int | None,
                 result: dict) -> int:
    """Store an analysis as run ``run_id``'s (a run of kind ``words``, see store.runs.RunLife),
    inside the caller's transaction; returns the analysis id."""
    return conn.execute(
        insert(analyses).values(
            run_id=run_id, source_run_id=source_run_id, params_hash=params_hash, params=params,
            documents=result["documents"], total_tokens=result["total_tokens"], result=result,
            created_at=now(),
        )
    ).inserted_primary_key[0]


def analyses_for_run(engine: Engine, source_run_id: int) -> list[dict]:
    """Every analysis stored for a run, newest first (for the report and the viewer)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(analyses).where(analyses.c.source_run_id == source_run_id).order_by(analyses.c.id.desc())
        ).mappings()
        return [row_dict(r) for r in rows]
