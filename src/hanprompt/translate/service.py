"""Translating texts, files and runs' responses, scoring against references, storing the results.

Everything that can be checked (languages, translators, references, the database) is checked
before anything is written, so a bad input stores nothing. A job's run is held while it
translates (store.runs.RunLife); its translations and scores are written with its ``done`` in
one transaction, so a run that says ``done`` holds them all.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from sqlalchemy import Engine

from hanprompt.errors import InputError, UsageError, arg
from hanprompt.translate import base
from hanprompt.translate.languages import SOURCE, TARGET, Language, language


def languages(source_lang: str, target_lang: str) -> tuple[Language, Language]:
    """The source and target languages, checked: known codes, and not the same one."""
    source, target = language(source_lang, SOURCE), language(target_lang, TARGET)
    if source == target:
        raise UsageError(f"{SOURCE} and {TARGET} are both {source.code}; pass the language to translate into with {TARGET}")
    return source, target


def load_translators(specs: list[str], source: Language, target: Language, options: dict | None = None,
                     on_warning: Callable[[str], None] | None = None):
    """Each translator loaded (once per process) and checked for this language pair; ``on_warning``
    receives each one's warnings (``Translator.warnings``: a model without a chat template, ...)."""
    translators = [base.load(spec, **(options or {})) for spec in dict.fromkeys(specs or [base.DEFAULT_TRANSLATOR])]
    for t in translators:
        t.check(source, target)
    if on_warning is not None:
        for t in translators:
            for warning in t.warnings:
                on_warning(warning)
    return translators


def read_lines(path: str | Path, what: str = arg("path", flag="file"), encoding: str | None = None) -> list[str]:
    """The lines of a text file (``'-'`` for stdin), one segment each, through hanprompt's one reader.

    UTF-8 (a byte-order mark is dropped), UTF-16 with a byte-order mark, or ``encoding``; lines end
    at ``\\n`` or ``\\r\\n`` only, and a final line end adds no line, so an empty last line is a segment
    like an empty first one. InputError when the file is unreadable or holds no text.
    """
    from hanprompt import textio

    lines = textio.split_lines(textio.read_text(path, encoding=encoding, what=what, flag=what))
    if not any(line.strip() for line in lines):
        raise InputError(f"{what} {path} is empty; give a text file with one segment per line")
    return lines


def translate_texts(texts: list[str], *, translator: str, source_lang: str = "en", target_lang: str = "ko",
                    options: dict | None = None, progress: base.Progress | None = None) -> list[dict]:
    """Translate ``texts`` with one translator; nothing is stored. One dict per text.

    ``progress(segments done, segments in all, translator spec)`` is called after each batch.
    """
    source, target = languages(source_lang, target_lang)
    (t,) = load_translators([translator], source, target, options)
    return _rows(t, texts, source, target, progress)


def _rows(t: base.Translator, texts: list[str], source: Language, target: Language,
          progress: base.Progress | None = None, references: list[str] | None = None) -> list[dict]:
    """One row per text: the translation, its seconds and segments, its ``hangul_share`` (0..1) and its
    ``flag`` (``translate.flags.flag``: why it is not taken for a translation; None when it is)."""
    from hanprompt.hangul import hangul_share
    from hanprompt.translate.flags import flag

    instruction = t.instruction(source, target)
    refs = references if references is not None else [None] * len(texts)
    return [
        {"translator": t.spec, "source_lang": source.code, "target_lang": target.code,
         "source": r.source, "translation": r.translation, "seconds": r.seconds, "segments": r.segments,
         "hangul_share": hangul_share(r.translation),
         "flag": flag(r.translation, r.source, target.code, instruction=instruction, reference=ref)}
        for r, ref in zip(t.translate(texts, source, target, progress), refs)
    ]


def check_references(texts: list[str], references: list[str] | None) -> None:
    """InputError unless there is one reference per text (or no references)."""
    if references is not None and len(references) != len(texts):
        raise InputError(
            f"{arg('references')} has {len(references)} lines but the source has {len(texts)}; "
            "give one reference line per source line"
        )


def score(translations: list[str], references: list[str], *, target_lang: str = "ko",
          seconds: float | None = None) -> dict:
    """chrF++, BLEU (with signatures), Hangul share and segments per second of one translator."""
    from hanprompt.translate.metrics import score as metrics_score

    out = metrics_score(translations, references, language(target_lang).code).as_dict()
    out["segments_per_s"] = len(translations) / seconds if seconds else None
    return out


def segment_scores(rows: list[dict], references: list[str]) -> list[float]:
    """Sentence-level chrF++ (0-100) of each row's ``translation`` against its reference, in order.

    The same metric as the corpus score (sacrebleu ``CHRF(word_order=2)``), per segment.
    """
    from hanprompt.translate.metrics import sentence_chrf

    return [sentence_chrf(r["translation"], ref) for r, ref in zip(rows, references)]


def translate_job(texts: list[str], *, translators: list[str], source_lang: str = "en",
                  target_lang: str = "ko", references: list[str] | None = None, engine: Engine,
                  name: str, spec: dict | None = None, options: dict | None = None,
                  progress: base.Progress | None = None, on_warning: Callable[[str], None] | None = None) -> dict:
    """Translate texts with each translator, score them when references are given, store a run.

    Returns ``{"run_id", "translations": [...], "scores": [...]}``; each translation row holds its
    ``hangul_share`` and ``flag`` (see ``_rows``), with references also its ``reference`` and
    sentence-level ``chrf`` (chrF++, 0-100). A translator's scores are over all its segments,
    flagged ones included (an echo scores what it is worth), and count them apart in ``flagged``.
    ``on_warning`` receives the translators' warnings once they load (see ``load_translators``).
    ``progress(segments done, segments in all, translator spec)`` is called after each batch.
    """
    from hanprompt.store.db import ensure_writable
    from hanprompt.store.runs import RunLife
    from hanprompt.store.translations import add_scores, add_translations

    check_references(texts, references)
    source, target = languages(source_lang, target_lang)
    loaded = load_translators(translators, source, target, options, on_warning)
    ensure_writable(engine)  # a read-only log is found before the work, not after
    run_spec = dict(spec or {}, translators=[t.spec for t in loaded], source_lang=source.code,
                    target_lang=target.code, segments=len(texts))
    rows, scores = [], []
    # held while translating; ends done (with its rows), interrupted or failed (store.runs.end_state)
    with RunLife(engine, name=name[:200], kind="translate", spec=run_spec) as life:
        run_id = life.run_id
        for t in loaded:
            life.check()
            done = _rows(t, texts, source, target, progress, references)
            rows.extend(done)
            if references is not None:
                for row, ref, segment_chrf in zip(done, references, segment_scores(done, references)):
                    row.update(reference=ref, chrf=segment_chrf)
                seconds = sum(r["seconds"] for r in done)
                scores.append(dict(score([r["translation"] for r in done], references,
                                         target_lang=target.code, seconds=seconds), translator=t.spec,
                                   flagged=sum(r["flag"] is not None for r in done)))
        with engine.begin() as conn:  # the translations, the scores and the run's end together
            add_translations(conn, run_id, rows)
            add_scores(conn, run_id, scores)
            life.finish(conn)
    return {"run_id": run_id, "translations": rows, "scores": scores}


def translate_missing(engine: Engine, t: base.Translator, run_id: int, source: Language,
                      target: Language, progress: base.Progress | None = None) -> list[dict]:
    """Translate, with a loaded translator, the generations of a run it has not translated yet;
    store them in one transaction and return the new rows (none when nothing is missing)."""
    from hanprompt.store.translations import untranslated

    missing = untranslated(engine, run_id, t.spec, source.code, target.code)
    return _store_generations(engine, t, run_id, missing, source, target, progress) if missing else []


def _store_generations(engine: Engine, t: base.Translator, run_id: int, generations: list[dict],
                       source: Language, target: Language, progress: base.Progress | None = None, *,
                       replace: bool = False) -> list[dict]:
    from hanprompt.store.translations import add_translations, delete_translations

    rows = _rows(t, [g.get("response") or "" for g in generations], source, target, progress)
    for row, g in zip(rows, generations):
        row["generation_id"] = g["id"]
        row.update({k: g.get(k) for k in ("variant", "model", "vars", "repeat_index") if k in g})
    with engine.begin() as conn:  # with replace, the old rows go and the new come in one transaction
        if replace:
            delete_translations(conn, run_id, t.spec, source.code, target.code)
        add_translations(conn, run_id, rows)
    return rows


def translate_run(engine: Engine, run_id: int, *, translators: list[str], source_lang: str = "en",
                  target_lang: str = "ko", options: dict | None = None, force: bool = False,
                  progress: base.Progress | None = None, on_warning: Callable[[str], None] | None = None) -> dict:
    """Translate the responses of a stored run that each translator has not translated yet.

    A rerun completes only what is missing (nothing, for a complete translator); ``force``
    replaces a translator's translations of the run in one transaction. The run is held (see
    store.leases) while translating: a run another process is working on raises RunBusy.
    Each row carries the ``generation_id`` and the generation's ``variant``, ``model``, ``vars``
    and ``repeat_index``. ``progress(segments done, segments in all, translator spec)`` is called
    after each batch, ``on_warning`` with the translators' warnings once they load. Returns
    ``{"translations": [new rows], "complete": {translator: rows there}}``.
    """
    from hanprompt.store.db import ensure_writable
    from hanprompt.store.runs import RunLife, get_run, list_generations

    get_run(engine, run_id)  # NotFoundError names the fix
    # The answers only: a judge's verdicts (role "judge") are not translated.
    generations = [g for g in reversed(list_generations(engine, run_id=run_id, limit=None)) if g.get("role") is None]
    if not generations:
        raise InputError(f"run {run_id} has no generations to translate; pick another with `hanprompt runs`")
    source, target = languages(source_lang, target_lang)
    loaded = load_translators(translators, source, target, options, on_warning)  # all checked before any is stored
    ensure_writable(engine)
    rows: list[dict] = []
    complete: dict[str, int] = {}
    # held (not owned: its status stays) while translating; RunBusy while another process holds it
    with RunLife(engine, run_id, owns=False) as life:
        for t in loaded:
            life.check()
            if force:
                rows.extend(_store_generations(engine, t, run_id, generations, source, target, progress,
                                               replace=True))
                continue
            added = translate_missing(engine, t, run_id, source, target, progress)
            if not added:
                complete[t.spec] = len(generations)
            rows.extend(added)
    return {"translations": rows, "complete": complete}
