"""Word analysis entry points: files and stdin, or stored responses and translations.

Markdown and HTML markup is blanked before Kiwi reads a text (``hanprompt.markup``): markup
characters become spaces, so ``**한국의**`` counts 한국, and code blocks and code spans are not
counted. Analyses of stored texts are saved with a fingerprint of their parameters and of the data
(count and newest id), so asking the same question again returns the stored answer.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Callable, Iterable

from hanprompt.analysis import frequency, inputs, morphology, stopwords
from hanprompt.errors import Note, UsageError, arg, note
from hanprompt.markup import plain_lines, plain_text

#: bump when the counting itself changes, so stored analyses are not reused across versions
ANALYSIS_VERSION = 3  # 2: judge verdicts are no longer counted as answers; 3: markup and code left out


@dataclass(frozen=True)
class WordOptions:
    """What to count and how much to show."""

    pos: str = "nouns"
    top: int = 20
    min_length: int = 1
    stopwords: str | None = None  # the user's stopword file, added to the shipped list
    default_stopwords: bool = True
    user_dict: str | None = None
    foreign: bool = False  # count SL (words in Latin script)
    roots: bool = False  # count XR (roots such as 깨끗 in 깨끗하다)
    naive: bool = False  # also count the whitespace-split way
    by: str | None = None  # "model" | "variant": one result per group
    workers: int | None = None

    def check(self) -> None:
        if self.top < 1:
            raise UsageError(f"{arg('top')} must be 1 or more, not {self.top}")
        if self.min_length < 1:
            raise UsageError(f"{arg('min_length')} must be 1 or more, not {self.min_length}")
        if self.workers is not None and self.workers < 1:
            raise UsageError(f"workers must be 1 or more, not {self.workers}")
        morphology.pos_tags(self.pos)


@dataclass
class WordsReport:
    """An analysis result, with the log ids when it was stored or reused."""

    result: dict
    note: str | None = None
    reused: bool = False
    analysis_id: int | None = None
    run_id: int | None = None
    source_run_id: int | None = None

    def as_dict(self) -> dict:
        out = dict(self.result)
        if self.analysis_id is not None:
            out.update(analysis_id=self.analysis_id, run_id=self.run_id,
                       source_run_id=self.source_run_id, reused=self.reused)
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class _Setup:
    options: WordOptions
    stopwords: frozenset[str]
    user_words: tuple

    def analyzer(self) -> morphology.Analyzer:
        """The configured Kiwi; built (about a second) only when there is something to count."""
        o = self.options
        kiwi = morphology.get_kiwi(self.user_words, o.workers)
        return morphology.Analyzer(kiwi, morphology.pos_tags(o.pos, foreign=o.foreign, roots=o.roots), o.pos)


def _setup(options: WordOptions) -> _Setup:
    """Check the options and read the word lists before any text is read or anything stored."""
    options.check()
    words = morphology.read_user_dictionary(options.user_dict) if options.user_dict else ()
    stops = stopwords.load_stopwords(options.stopwords, defaults=options.default_stopwords)
    return _Setup(options, stops, words)


def _counter(setup: _Setup) -> frequency.WordCounter:
    return frequency.WordCounter(setup.analyzer(), naive=setup.options.naive)


def _summarise(counter: frequency.WordCounter, setup: _Setup, documents: int) -> dict:
    """The result dict of a finished count, with naive and per-group results when asked."""
    options = setup.options
    filters = {"stopwords": setup.stopwords, "min_length": options.min_length}
    name = counter.analyzer.name

    def one(pairs, docs: int) -> dict:
        counts, tags = frequency.word_counts(pairs, **filters)
        return frequency.top_result(counts, analyzer=name, documents=docs, top=options.top, tags=tags)

    result = one(counter.total(), documents)
    if counter.naive is not None:
        naive = frequency.naive_counts(counter.total(counter.naive), **filters)
        result["naive"] = frequency.top_result(
            naive, analyzer="whitespace split", documents=documents, top=options.top
        )
    if options.by:
        result["by"] = options.by
        result["groups"] = {g: one(counter.counts[g], counter.documents[g]) for g in counter.groups()}
    return result


def _note(result: dict) -> Note | None:
    if result["documents"] == 0:
        return "nothing to count: the input holds no text"
    if result["total_tokens"] == 0:
        documents = result["documents"]
        return note(f"no words counted in {documents} document{'' if documents == 1 else 's'}: every word was "
                    f"a stopword, shorter than {arg('min_length')} or outside {arg('pos')}")
    return None


def analyse_texts(texts: Iterable[str], options: WordOptions | None = None) -> WordsReport:
    """Count words over texts in memory or streamed; each text is one document."""
    options = options or WordOptions()
    if options.by:
        raise UsageError(f"{arg('by')} needs stored texts; pass {arg('run_id', flag='run')}, {arg('experiment')} or {arg('all')}")
    setup = _setup(options)
    counter = _counter(setup)
    counter.feed(plain_text(text) for text in texts)
    result = _summarise(counter, setup, sum(counter.documents.values()))
    return WordsReport(result, _note(result))


def analyse_files(paths: list[str], options: WordOptions | None = None, encoding: str | None = None) -> WordsReport:
    """Count words over files ('-' for stdin); each file is one document, read line by line."""
    options = options or WordOptions()
    if options.by:
        raise UsageError(f"{arg('by')} needs stored texts; pass {arg('run_id', flag='run')}, {arg('experiment')} or {arg('all')} instead of files")
    inputs.check_encoding(encoding)
    inputs.check_readable(paths)
    setup = _setup(options)
    counter = _counter(setup)
    for name in paths:
        # Lines, not whole files, go to Kiwi: its workers share them and memory stays flat;
        # the markup is read a block of lines at a time, never cut inside a code block.
        counter.feed(line for line in plain_lines(inputs.iter_lines(name, encoding, blank=True)) if line.strip())
    documents = len(paths) if sum(counter.documents.values()) else 0
    result = _summarise(counter, setup, documents)
    return WordsReport(result, _note(result))


def analyse_store(
    options: WordOptions | None = None,
    *,
    db: str | None = None,
    run_id: int | None = None,
    experiment: str | None = None,
    field: str = "response",
    reuse: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> WordsReport:
    """Count words over stored texts (one run, an experiment, or all), storing the analysis.

    The same analysis over the same data is returned from the log instead of recounted.
    Answers of the model under test only: judge verdicts are not counted. ``progress(documents
    done, documents in all, source label)`` is called as Kiwi counts (every 100 documents and at
    the end), the same callback shape as ``run_experiment`` and the translators take.
    """
    from hanprompt import settings
    from hanprompt.store import analyses, open_engine
    from hanprompt.store.runs import RunLife

    options = options or WordOptions()
    if run_id is not None and experiment is not None:
        raise UsageError(f"pass either {arg('run_id', flag='run')} or {arg('experiment')}, not both")
    setup = _setup(options)
    engine = open_engine(settings.db_url(db))
    source = analyses.resolve_source(engine, run_id=run_id, experiment=experiment, field=field)
    params = _params(options, setup, source, analyses.fingerprint(engine, source))
    digest = _hash(params["fingerprint"])
    if reuse and (stored := analyses.find_analysis(engine, digest)) is not None:
        return WordsReport(stored["result"], _note(stored["result"]), True, stored["id"], stored["run_id"],
                           stored["source_run_id"])
    counter = _counter(setup)
    total = params["fingerprint"]["data"]["count"]
    name = f"words: {source.label} ({options.pos}, top {options.top})"
    # held while counting; ends done (with its analysis), interrupted or failed (store.runs.end_state)
    with RunLife(engine, name=name[:200], kind="words", spec=params, spec_hash=digest) as life:
        if progress is not None:
            progress(0, total, source.label)
        counter.feed_grouped(((group, plain_text(text)) for group, text in analyses.iter_texts(engine, source, options.by)),
                             None if progress is None else (lambda done: progress(done, total, source.label)))
        result = _summarise(counter, setup, sum(counter.documents.values()))
        note = _note(result)
        if result["documents"] == 0:  # nothing worth keeping; say what was read and what would fill it
            life.discard()
            return WordsReport(result, _empty_store_note(engine, source), source_run_id=source.run_id)
        life.check()
        with engine.begin() as conn:  # the analysis and the run's end together
            analysis_id = analyses.add_analysis(conn, life.run_id, params=params, params_hash=digest,
                                                source_run_id=source.run_id, result=result)
            life.finish(conn)
    return WordsReport(result, note, False, analysis_id, life.run_id, source.run_id)


def _empty_store_note(engine, source) -> Note:
    """Why a stored source gave nothing to count, naming it and the command that would fill it."""
    from hanprompt.store import analyses

    if source.field == "translation":
        answers = analyses.fingerprint(engine, analyses.Source(source.run_id, "response", source.label))["count"]
        if answers:
            run = source.run_id if source.run_id is not None else "RUN_ID"
            return note(f"nothing to count: {source.label} has {answers} answer(s) but no translations yet; "
                        f"add them with `hanprompt translate --run {run} --to ko`, or count the answers "
                        f"with {arg('field', 'response')}")
        return f"nothing to count: {source.label} holds no answers and no translations"
    return f"nothing to count: {source.label} holds no answers"


def _params(options: WordOptions, setup: _Setup, source, data: dict) -> dict:
    """The stored parameters: readable settings, plus what the reuse hash is computed over."""
    import kiwipiepy

    shown = {
        "pos": options.pos, "top": options.top, "min_length": options.min_length,
        "foreign": options.foreign, "roots": options.roots, "naive": options.naive, "by": options.by,
        "field": source.field,
    }
    fingerprint = dict(
        shown,
        version=ANALYSIS_VERSION,
        kiwipiepy=kiwipiepy.__version__,
        # The words themselves, not file paths: an edited list is a different analysis.
        stopwords=_hash(sorted(setup.stopwords)),
        user_words=_hash([(w.form, w.tag, w.score) for w in setup.user_words]),
        data=data,
    )
    return dict(shown, source=source.label, stopwords_file=options.stopwords, user_dict=options.user_dict,
                fingerprint=fingerprint)


def _hash(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).hexdigest()
