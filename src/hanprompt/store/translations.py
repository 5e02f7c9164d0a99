"""Translations and their scores: writing them and reading them back."""
from __future__ import annotations

from sqlalchemy import Connection, Engine, and_, delete, insert, select

from hanprompt.store.db import now, reading, row_dict
from hanprompt.store.schema import generations, translation_scores, translations
from hanprompt.store.storable import storable

TRANSLATION_FIELDS = {c.name for c in translations.columns} - {"id", "run_id", "created_at"}
SCORE_FIELDS = {c.name for c in translation_scores.columns} - {"id", "run_id", "created_at"}


def _values(run_id: int, row: dict, fields: set[str]) -> dict:
    values, _ = storable({k: v for k, v in row.items() if k in fields})
    return dict(values, run_id=run_id, created_at=now())


def add_translations(conn: Connection, run_id: int, rows: list[dict]) -> list[int]:
    """Insert translation rows inside an open transaction; keys beyond the columns are ignored."""
    return [
        conn.execute(insert(translations).values(**_values(run_id, r, TRANSLATION_FIELDS))).inserted_primary_key[0]
        for r in rows
    ]


def untranslated(engine: Engine, run_id: int, translator: str, source_lang: str, target_lang: str) -> list[dict]:
    """The generations of a run (id, response, variant, model, vars, repeat_index), in storage
    order, that lack a translation by ``translator`` from ``source_lang`` into ``target_lang``;
    judge verdicts are not translated."""
    done = select(translations.c.id).where(
        translations.c.generation_id == generations.c.id, translations.c.translator == translator,
        translations.c.source_lang == source_lang, translations.c.target_lang == target_lang,
    )
    query = (
        select(generations.c.id, generations.c.response, generations.c.variant, generations.c.model,
               generations.c.vars, generations.c.repeat_index)
        .where(generations.c.run_id == run_id, generations.c.role.is_(None), ~done.exists())
        .order_by(generations.c.id)
    )
    with reading(engine) as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def delete_translations(conn: Connection, run_id: int, translator: str, source_lang: str, target_lang: str) -> int:
    """Delete one translator's translations of a run's generations (inside an open transaction)."""
    of_run = select(generations.c.id).where(generations.c.run_id == run_id)
    return conn.execute(delete(translations).where(and_(
        translations.c.generation_id.in_(of_run), translations.c.translator == translator,
        translations.c.source_lang == source_lang, translations.c.target_lang == target_lang,
    ))).rowcount


def add_scores(conn: Connection, run_id: int, rows: list[dict]) -> list[int]:
    """Insert one score row per translator inside an open transaction."""
    return [
        conn.execute(insert(translation_scores).values(**_values(run_id, r, SCORE_FIELDS))).inserted_primary_key[0]
        for r in rows
    ]


def list_translations(engine: Engine, *, run_id: int | None = None, generation_id: int | None = None,
                      translator: str | None = None) -> list[dict]:
    """Stored translations in insertion order, filtered by run, generation or translator."""
    query = select(translations).order_by(translations.c.id)
    if run_id is not None:
        query = query.where(translations.c.run_id == run_id)
    if generation_id is not None:
        query = query.where(translations.c.generation_id == generation_id)
    if translator is not None:
        query = query.where(translations.c.translator == translator)
    with reading(engine) as conn:
        return [row_dict(r) for r in conn.execute(query).mappings()]


def list_scores(engine: Engine, *, run_id: int | None = None) -> list[dict]:
    """Stored translation scores in insertion order, optionally of one run."""
    query = select(translation_scores).order_by(translation_scores.c.id)
    if run_id is not None:
        query = query.where(translation_scores.c.run_id == run_id)
    with reading(engine) as conn:
        return [row_dict(r) for r in conn.execute(query).mappings()]


def by_generation(conn: Connection, generation_ids: list[int]) -> dict[int, list[dict]]:
    """Each generation's translations (translator, languages, text, seconds, Hangul share, flag), oldest first.

    The Hangul share (0..1, ``hanprompt.hangul.hangul_share``) is the one score a translation of a
    response has without a reference; generations without a translation are absent.
    """
    from hanprompt.hangul import hangul_share

    out: dict[int, list[dict]] = {}
    ids = sorted(set(generation_ids))
    for i in range(0, len(ids), 500):
        query = (select(translations.c.id, translations.c.generation_id, translations.c.run_id,
                        translations.c.translator, translations.c.source_lang, translations.c.target_lang,
                        translations.c.translation, translations.c.seconds, translations.c.flag)
                 .where(translations.c.generation_id.in_(ids[i:i + 500])).order_by(translations.c.id))
        for r in conn.execute(query).mappings():
            row = {k: r[k] for k in ("id", "run_id", "translator", "source_lang", "target_lang", "translation",
                                     "seconds", "flag")}
            row["hangul_share"] = hangul_share([r["translation"]])
            out.setdefault(r["generation_id"], []).append(row)
    return out
