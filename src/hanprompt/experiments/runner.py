"""Running an experiment: one model loaded at a time, its prompts batched, every cell stored as it ends.

The backend refills a batch's free slots as rows finish (``Backend.generate_many``); the cells
that end in one decoding step are stored in one transaction, so a kill -9 loses only the cells
in flight. Everything that can be checked (the file, every cell, models, the translator, the
database) is checked before anything is written. A run is held by one process at a time
(store.leases). Ctrl-C or SIGTERM marks the run ``interrupted``, any other failure ``failed``
with its error; ``resume`` completes only the cells, and the translations, that a run is
missing. A model is released once its cells are done when another model follows.

Cells are expanded lazily (``matrix.Matrix``) and worked :data:`CHUNK` at a time (cache lookup,
generation, storing; a resume asks the store which of a chunk's cells it holds), so memory does
not grow with the number of cells; the backend's window drains once per chunk.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from pydantic import ValidationError

from hanprompt import limits
from hanprompt.backends import registry
from hanprompt.backends.base import Backend, Completion, GenParams
from hanprompt.errors import BackendError, HanpromptError, Terminated, UsageError, arg, lower_first, unrendered
from hanprompt.experiments.cache import cache_key, deterministic
from hanprompt.experiments.checks import CheckEnv, all_checks, prepare, run_checks
from hanprompt.experiments.matrix import Cell, expand, matrix_hash
from hanprompt.experiments.spec import LoadedSpec, ModelEntry, load_spec
from hanprompt.generate import generation_record
from hanprompt.timing import Phases

#: (cells done, cells in all, what is running); the label is "loading SPEC" while a model loads
Progress = Callable[[int, int, str], None]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: finished results are kept and the run is marked ``interrupted``."""

    def __init__(self, summary: "RunSummary", terminated: bool = False):
        super().__init__(f"run {summary.run_id} interrupted")
        self.summary = summary
        self.terminated = terminated  # SIGTERM rather than Ctrl-C


@dataclass
class RunSummary:
    """What a run did: its id, final status and how its cells were filled.

    ``generated`` counts the distinct generations measured in this run; ``cached`` the results
    that reuse a generation instead (``copies`` of them from this very run, such as greedy
    repeats, the rest served from earlier runs). ``timings`` is the run's phase split in
    seconds (import_s, load_s, prefill_s, decode_s, store_s; see :mod:`hanprompt.timing`).
    """

    run_id: int
    status: str
    total: int
    generated: int = 0
    cached: int = 0
    already_done: int = 0
    judged: int = 0  # llm-rubric checks a resume asked the judge about (missing, unparsed, another judge's)
    verdicts_kept: int = 0  # a resume's stored verdicts of the current judge, left as they were
    verdicts_replaced: int = 0  # of ``judged``: stored results (unparsed, another judge's) overwritten
    copies: int = 0
    timings: dict = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def model_entries(specs: list[str], options: dict | None = None) -> list[ModelEntry]:
    """``--model`` values (with the command line's loading options) as model entries."""
    out = []
    for spec in specs:
        registry.parse_spec(spec)  # a bad prefix is a usage error before anything runs
        try:
            out.append(ModelEntry(spec=spec, **(options or {})))
        except ValidationError as e:
            err = e.errors()[0]
            raise UsageError(f"{arg(str(err['loc'][-1]))}: {lower_first(err['msg'])} (got {err.get('input')!r})") from None
    return out


def _model_entries(models: Sequence[str | Path | ModelEntry | dict] | None) -> list[ModelEntry] | None:
    """The library's ``models=``: spec strings or paths, ``ModelEntry`` objects or their dicts, as entries.

    Raises UsageError naming ``models[i]`` for a bad prefix or a bad loading option.
    """
    if models is None:
        return None
    if isinstance(models, (str, Path, ModelEntry)):
        models = [models]
    out = []
    for i, m in enumerate(models):
        m = str(m) if isinstance(m, Path) else m
        try:
            entry = m if isinstance(m, ModelEntry) else ModelEntry.model_validate(m)
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise UsageError(f"models[{i}]{'.' + where if where else ''}: {err['msg']} (got {err.get('input')!r}); "
                             "give a spec string such as 'hf:/path/to/model' or a ModelEntry") from None
        try:
            registry.parse_spec(entry.spec)
        except HanpromptError as e:
            raise UsageError(f"models[{i}]: {unrendered(e)}") from None
        out.append(entry)
    return out


#: loading flags that a model entry under ``models:`` sets as a key of its own
_ENTRY_KEYS = {
    "--device": "device", "--dtype": "dtype", "--max-memory": "max_memory", "--offload-folder": "offload_folder",
    "--quantize": "quantize", "--gpu-layers": "gpu_layers", "--threads": "threads", "--ctx-size": "ctx_size",
    "--api-key-env": "api_key_env", "--tokenizer": "tokenizer",
}
_FLAG = re.compile(r"--[a-z][a-z-]*")


@contextlib.contextmanager
def _flags_and_keys():
    """A loading error that names a flag also names the experiment file's key for it: in a run the
    value may come from either (``--gpu-layers`` or ``gpu_layers:`` under ``models:``)."""
    try:
        yield
    except HanpromptError as e:
        from hanprompt.errors import for_cli

        keys = [_ENTRY_KEYS[f] for f in dict.fromkeys(_FLAG.findall(for_cli(e))) if f in _ENTRY_KEYS]
        if keys and len(e.args) == 1 and isinstance(e.args[0], str):
            e.args = (f"{e.args[0]} ({', '.join(k + ':' for k in keys)} under models: in the file)",)
        raise


class _Run:
    """One execution of a run's missing cells."""

    def __init__(self, engine, run_id: int, loaded: LoadedSpec, use_cache: bool, max_concurrency: int | None,
                 progress: Progress | None, total: int, done: int,
                 on_notice: Callable[[str], None] | None = None, translator=None, threads: int | None = None):
        self.engine, self.run_id, self.loaded = engine, run_id, loaded
        self.use_cache, self.max_concurrency = use_cache, max_concurrency
        self.progress = progress or (lambda *_: None)
        self.check_env = CheckEnv(loaded.path.parent, loaded.spec.embedder, loaded.spec.judge,
                                  lookup=self._cached if use_cache else None, threads=threads)
        self.on_notice = on_notice
        self.summary = RunSummary(run_id, "running", total, already_done=done)
        self._rate: tuple[float, int] | None = None  # (when the current model began, output tokens since)
        self.phases = Phases()
        self.translator = translator  # (loaded translator, source, target) of a translate: section
        self.lease = None

    @property
    def done(self) -> int:
        s = self.summary
        return s.already_done + s.generated + s.cached

    def notice(self, text: str) -> None:
        self.summary.notices.append(text)
        if self.on_notice is not None:
            self.on_notice(text)

    def model(self, backend: Backend, chunks: Iterable[list[Cell]], fit: Callable[[list[Cell]], list[Cell]]) -> None:
        """Every pending cell of one model, a chunk at a time: nothing is held per cell beyond a chunk.

        Each chunk (see :data:`CHUNK`) is fitted to the context, looked up in the cache, and the
        rest generated in one ``generate_many`` call; a request that fails leaves its cell for a
        resume, and BackendError is raised once the model's other cells are done (at once after
        :data:`limits.FAILURES_IN_A_ROW` failures in a row).
        """
        self._rate = None  # cells served from the cache first: no speed to show yet
        failed: list = [0, None]  # failed requests, the first error
        streak = [0]  # failures in a row, in the order requests ended
        for chunk in chunks:
            self._chunk(backend, fit(chunk), failed, streak)
        if failed[0]:
            more = f" ({failed[0] - 1} more requests failed too)" if failed[0] > 1 else ""
            raise BackendError(f"{failed[1]}{more}")

    def _chunk(self, backend: Backend, cells: list[Cell], failed: list, streak: list[int]) -> None:
        # Unseeded sampling has no cache key: it is never served from the cache, nor serves.
        keys = {c.key: cache_key(backend, c.messages, c.params) if deterministic(c.params) else None
                for c in cells}
        hits: dict[str, dict] = {}
        if self.use_cache:
            from hanprompt.store.experiments import cached_generations

            wanted = sorted({k for k in keys.values() if k})
            with self.engine.connect() as conn:
                for i in range(0, len(wanted), 500):
                    hits.update(cached_generations(conn, wanted[i:i + 500]))
        served = [c for c in cells if keys[c.key] in hits]
        for i in range(0, len(served), 64):
            self._store(backend, [_Result(c, keys[c.key], _completion(hits[keys[c.key]]), hits[keys[c.key]])
                                  for c in served[i:i + 64]])
        groups: dict[str, list[Cell]] = {}
        for c in cells:
            if keys[c.key] in hits:
                continue
            # Identical deterministic requests (greedy repeats) are generated once, then copied;
            # a chunk never splits a cell's repeats.
            share = self.use_cache and keys[c.key] is not None
            groups.setdefault(keys[c.key] if share else c.key, []).append(c)
        todo = list(groups.values())
        del groups, hits, served
        if not todo:
            return
        if self._rate is None:
            self.progress(self.done, self.summary.total, backend.spec)

        def on_done(items: list[tuple[int, Completion]]) -> None:
            results = []
            stop = None  # the error that made FAILURES_IN_A_ROW failures in a row
            for i, completion in items:
                if completion.error is None:
                    results += [_Result(c, keys[c.key], completion, None, copy=j > 0) for j, c in enumerate(todo[i])]
                    streak[0] = 0
                else:  # the others are kept; a resume asks again for the failed ones only
                    failed[0] += 1
                    failed[1] = failed[1] or completion.error
                    streak[0] += 1
                    if streak[0] == limits.FAILURES_IN_A_ROW:
                        stop = completion.error
            if results:
                self._store(backend, results)
            if stop is not None:
                raise BackendError(f"{limits.FAILURES_IN_A_ROW} requests in a row failed, the last: {stop}; the run "
                                   "stops (finished cells are kept: fix the cause, then resume it with "
                                   f"{arg('resume', self.run_id)})")

        start, spent = time.perf_counter(), self.phases.seconds.copy()
        if self._rate is None:
            self._rate = (start, 0)
        backend.generate_many([(g[0].messages, g[0].params) for g in todo],
                              max_batch=self.max_concurrency or backend.default_concurrency,
                              on_done=on_done, on_notice=self.notice, phases=self.phases)
        split = ("prefill", "decode", "generate")
        if sum(self.phases.seconds.get(p, 0.0) for p in split) == sum(spent.get(p, 0.0) for p in split):
            # a backend that does not split its time: the call's wall time, less storing
            stored = self.phases.seconds.get("store", 0.0) - spent.get("store", 0.0)
            self.phases.add("generate", time.perf_counter() - start - stored)

    def complete_verdicts(self, cells: Iterable[Cell]) -> None:
        """Ask the judge again for every llm-rubric check of the run whose stored verdict is missing (no
        judge then), unparsed, or from another judge than the check's judge now; keep the others.

        Sets the summary's ``judged`` (checks asked), ``verdicts_kept`` and ``verdicts_replaced``
        (stored results overwritten: unparsed, or another judge's).
        """
        from hanprompt.experiments.checks import stored_verdict
        from hanprompt.store.experiments import rubric_checks, set_check_result

        if not any(c.llm_rubric is not None for _, c in all_checks(self.loaded)):
            return
        rows = rubric_checks(self.engine, self.run_id)
        wanted = {row["cell_key"] for row in rows}
        by_cell = {cell.key: cell for cell in cells if cell.key in wanted}  # only the cells with a verdict
        items, replaced, kept = [], 0, 0
        for row in rows:
            cell = by_cell.get(row["cell_key"])
            rubric = (row["spec"] or {}).get("llm-rubric")
            check = next((c for c in cell.checks if c.llm_rubric == rubric), None) if cell else None
            judge = self.check_env.judge_of(check) if check is not None else None
            if judge is None:
                continue
            state = stored_verdict(row["passed"], row["reason"], judge.spec)
            if state == "current":
                kept += 1
                continue
            replaced += state != "missing"
            items.append((row, check))
        self.summary.verdicts_kept, self.summary.verdicts_replaced = kept, replaced
        if not items:
            return
        self.progress(self.done, self.summary.total, f"judging {len(items)} answers")
        self.check_env.judge_pending(((check,), row) for row, check in items)
        if self.lease is not None:
            self.lease.check()
        with self.engine.begin() as conn:
            for row, check in items:
                (result,) = run_checks([check], row, self.check_env)
                set_check_result(conn, row["check_id"], result.as_dict())
                store_verdicts(conn, self.run_id, row["generation_id"], [result])
        self.summary.judged = len(items)

    def _cached(self, keys: list[str]) -> dict[str, Completion]:
        from hanprompt.store.experiments import cached_generations

        with self.engine.connect() as conn:
            return {k: _completion(row) for k, row in cached_generations(conn, keys).items()}

    def _store(self, backend: Backend, results: list["_Result"]) -> None:
        from hanprompt.store.experiments import add_checks
        from hanprompt.store.runs import add_generation

        records, check_inputs = [], []
        for r in results:
            cell, completion = r.cell, r.completion
            record = generation_record(backend, cell.messages, cell.params, completion)
            measured = r.origin is None and not r.copy
            record.update(
                variant=cell.variant.id, style=cell.variant.style, vars=cell.vars,
                repeat_index=cell.repeat_index, cell_key=cell.key, cache_key=r.key, cached=not measured,
                cached_from_id=r.origin["origin_id"] if r.origin else None,
                timings=(completion.timings or None) if measured else None,
            )
            if not measured:  # a reused answer cost nothing now
                record["cost"] = None
            records.append(record)
            # a latency check on a reused answer is judged on the original measurement, and says so
            origin_run = r.origin["origin_run_id"] if r.origin else self.run_id
            check_inputs.append(dict(record, cached_run_id=None if measured else origin_run))
        # Embeddings and verdicts in batches, before the transaction: it holds the write lock.
        with self.phases.measure("checks"):
            self.check_env.warm((r.cell.checks, r.completion.text) for r in results)
            self.check_env.judge_pending((r.cell.checks, c) for r, c in zip(results, check_inputs))
        if self.lease is not None:
            self.lease.check()  # never write to a run another process has taken over
        with self.phases.measure("store"), self.engine.begin() as conn:  # all of them or none
            first_ids: dict[int, int] = {}  # id(completion) -> the generation that measured it
            for r, record, check_input in zip(results, records, check_inputs):
                if r.copy:  # a greedy repeat: a copy of the row that measured it, stored just before
                    record["cached_from_id"] = check_input["cached_from_id"] = first_ids.get(id(r.completion))
                gen_id = add_generation(conn, self.run_id, record)
                if not record["cached"]:
                    first_ids[id(r.completion)] = gen_id
                checked = run_checks(r.cell.checks, check_input, self.check_env)
                add_checks(conn, gen_id, [c.as_dict() for c in checked])
                store_verdicts(conn, self.run_id, gen_id, checked)
        for r in results:
            if r.origin is None and not r.copy:
                self.summary.generated += 1
            else:
                self.summary.cached += 1
                self.summary.copies += r.copy
        with self.phases.measure("translate"):
            self.translate()
        self.progress(self.done, self.summary.total, self._label(backend, results))

    def _label(self, backend: Backend, results: list["_Result"]) -> str:
        """The model's spec, and while it generates, output tokens per second of wall time since it began."""
        if self._rate is None:
            return backend.spec
        began, tokens = self._rate
        tokens += sum(r.completion.output_tokens for r in results if r.origin is None and not r.copy)
        self._rate = (began, tokens)
        elapsed = time.perf_counter() - began
        return f"{backend.spec} · {tokens / elapsed:,.0f} tok/s" if elapsed > 0 else backend.spec

    def translate(self) -> None:
        """Translate every generation of the run the translate: section's translator lacks.

        After each chunk that is the chunk just stored; on a resume it also fills what a crash
        between a chunk and its translations left out.
        """
        if self.translator is None:
            return
        from hanprompt.translate.service import translate_missing

        if self.lease is not None:
            self.lease.check()
        t, source, target = self.translator
        translate_missing(self.engine, t, self.run_id, source, target)


def store_verdicts(conn, run_id: int, generation_id: int, results) -> None:
    """Store the judge calls behind llm-rubric results as generations (role ``judge``) linked to the answer."""
    from hanprompt.store.runs import add_generation

    for result in results:
        for a in result.judge_attempts:
            record = generation_record(a.judge, a.messages, a.params, a.completion)
            record.update(role="judge", judged_generation_id=generation_id, cache_key=a.cache_key,
                          cached=a.cached or a.stored_id is not None, cached_from_id=a.stored_id)
            stored = add_generation(conn, run_id, record)
            if a.stored_id is None:  # later answers with the same verdict store copies of this one
                a.stored_id = stored


@dataclass
class _Result:
    """A cell and its answer: measured now, a copy of one measured now, or served from ``origin``."""

    cell: Cell
    key: str | None
    completion: Completion
    origin: dict | None  # the cache hit (origin_id, origin_run_id, ...) when served from the cache
    copy: bool = False


def _completion(row: dict) -> Completion:
    return Completion(
        text=row["response"], prompt=row["prompt"], input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"], ttft_s=row["ttft_s"] or 0.0, total_s=row["total_s"] or 0.0,
        finish_reason=row["finish_reason"], usage_source=row.get("usage_source") or "tokenizer",
        cost=row.get("cost"),
    )


def _run_spec(loaded: LoadedSpec, models: list[ModelEntry] | None, repeat: int | None,
              truncate: str | None = None, params: dict | None = None, threads: int | None = None,
              use_cache: bool = True) -> dict:
    return {
        "file": str(loaded.path),
        "spec": loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        "overrides": {
            "models": [m.model_dump(exclude_none=True) for m in models] if models else None,
            "repeat": repeat,
            **({"truncate": truncate} if truncate else {}),
            **({"params": params} if params else {}),
            **({"threads": threads} if threads is not None else {}),
            **({} if use_cache else {"no_cache": True}),
        },
    }


PARAM_KEYS = ("max_new_tokens", "temperature", "top_p", "seed")


def _param_overrides(params: dict | None) -> dict | None:
    """The generation parameters that replace the file's, checked; None when there are none."""
    if not params:
        return None
    unknown = sorted(set(params) - set(PARAM_KEYS))
    if unknown:
        raise UsageError(f"params: unknown key {unknown[0]!r}; give any of {', '.join(PARAM_KEYS)}")
    GenParams.build(**params)  # each value within its range (UsageError naming it otherwise)
    return {k: params[k] for k in PARAM_KEYS if params.get(k) is not None} or None


def _uses_gguf(loaded: LoadedSpec, models: list[ModelEntry]) -> bool:
    """Whether a gguf: model takes part in the run: a model of its cells, a judge, or the translator."""
    specs = {m.spec for m in models} | {loaded.spec.judge} | {
        check.judge for _, check in all_checks(loaded) if check.llm_rubric is not None}
    section = loaded.spec.translate
    if section is not None and section.translator.startswith("llm:"):
        specs.add(section.translator.removeprefix("llm:"))
    return any(spec and registry.parse_spec(spec).backend == "gguf" for spec in specs)


def _translator_options(spec: str, threads: int | None) -> dict:
    """Loading options of the translate: section's translator: ``threads`` for an llm:gguf: one."""
    if threads is None or not spec.startswith("llm:"):
        return {}
    return registry.with_threads(spec.removeprefix("llm:"), {}, threads)


#: cells looked up in the cache, generated and stored together: what a run holds at a time, and
#: where the backend's window drains once (its slowest request of the chunk ends alone)
CHUNK = 2048


def _chunks(cells: Iterable[Cell], size: int | None = None) -> Iterator[list[Cell]]:
    """``cells`` in lists of about ``size`` (default :data:`CHUNK`), never splitting a cell's repeats
    (adjacent in a matrix): identical greedy repeats are generated once, then copied."""
    size = size or CHUNK
    chunk: list[Cell] = []
    for c in cells:
        if len(chunk) >= size and c.repeat_index == 0:
            yield chunk
            chunk = []
        chunk.append(c)
    if chunk:
        yield chunk


class _Fitter:
    """Cells with messages that fit the model's context; UsageError (both numbers) for one that does not.

    See ``backends.context.fit``. Repeats and models share prompts: each is counted once while
    it recurs (the memory of counted prompts is bounded).
    """

    KEEP = 64  # prompts remembered (a cell's repeats are adjacent)

    def __init__(self, truncate: str | None):
        self.truncate = truncate  # the backend is not kept: a model released must be freed
        self.seen: dict[str, list[dict]] = {}

    def __call__(self, backend: Backend, cells: Iterable[Cell]) -> list[Cell]:
        from hanprompt.backends.context import fit

        out = []
        for c in cells:
            key = json.dumps([c.messages, c.params.max_new_tokens], ensure_ascii=False)
            if key not in self.seen:
                if len(self.seen) >= self.KEEP:
                    self.seen.clear()
                try:
                    self.seen[key] = fit(backend, c.messages, c.params, self.truncate)
                except UsageError as e:
                    if arg("max_new_tokens") not in unrendered(e):
                        raise
                    # in a run the budget may come from the file as well as from the option
                    raise UsageError(f"{unrendered(e)} (max_new_tokens: in the file's params, "
                                     f"or {arg('params', flag='max-new-tokens')})") from None
            fitted = self.seen[key]
            out.append(c if fitted is c.messages else dataclasses.replace(c, messages=fitted))
        return out


def _resume_target(engine, run_id: int) -> dict:
    from hanprompt.store.runs import get_run

    run = get_run(engine, run_id)
    if run["kind"] != "experiment":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not an experiment; pass an experiment's run id")
    return run


def _translator(loaded: LoadedSpec, threads: int | None = None):
    """The translate: section's translator, loaded and checked for its languages (None without one)."""
    section = loaded.spec.translate
    if section is None:
        return None
    from hanprompt.translate.service import languages, load_translators

    try:
        source, target = languages(section.from_, section.to)
        (t,) = load_translators([section.translator], source, target,
                                _translator_options(section.translator, threads))
    except HanpromptError as e:
        raise loaded.error(("translate",), unrendered(e)) from None
    return t, source, target


def run_experiment(
    path: str | Path,
    *,
    models: Sequence[str | Path | ModelEntry | dict] | None = None,
    repeat: int | None = None,
    embedder: str | None = None,
    judge: str | None = None,
    max_concurrency: int | None = None,
    use_cache: bool = True,
    resume: int | None = None,
    db: str | None = None,
    progress: Progress | None = None,
    on_loaded: Callable[[Backend], None] | None = None,
    encoding: str | None = None,
    truncate: str | None = None,
    on_notice: Callable[[str], None] | None = None,
    params: dict | None = None,
    threads: int | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run (or with ``resume``, complete) the experiment in ``path`` and store it as one run.

    ``encoding`` reads a file saved without a byte-order mark in something other than UTF-8;
    ``embedder`` and ``judge`` replace the file's ``embedder:`` (the model of ``similar`` checks)
    and ``judge:`` (the model spec that grades ``llm-rubric`` checks).
    A prompt too long for a model's context is refused (UsageError, with both numbers) or, with
    ``truncate`` ("left" or "right"), cut to fit; see ``backends.context.fit``.
    ``max_concurrency``: the most rows generating at once (hf: a batch whose free slots are
    refilled), requests in flight (openai); None takes each backend's default. ``on_notice``
    receives one-line notes for the user (a batch halved after running out of memory, say);
    ``on_warning`` the judges' warnings (``judge.judge_warnings``: a judge without a chat template),
    once per judge, before anything runs.
    ``params`` (any of ``max_new_tokens``, ``temperature``, ``top_p``, ``seed``) replace the
    file's and every variant's generation parameters (a ``seed`` stays out of greedy cells, and
    ``on_notice`` says so when every cell is greedy). ``threads`` is llama.cpp's CPU threads for
    every gguf: model of the run, judge and translator included (UsageError when none is gguf:).
    Both are stored with the run's overrides, like ``models``, ``repeat`` and ``use_cache=False``
    (``no_cache``), and a resume reuses them unless given again (a run made without the cache
    resumes without it).

    Raises HanpromptError for any input that fails its checks, before anything is written;
    RunBusy when another live process holds the run to resume; RunInterrupted on Ctrl-C or
    SIGTERM (the run is then ``interrupted``). Any other exception marks the run ``failed`` with
    its one-line error and propagates.
    """
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.db import ensure_writable
    from hanprompt.store.runs import RunLife

    if max_concurrency is not None:
        limits.check_range("max_concurrency", max_concurrency, 1, limits.MAX_CONCURRENCY)
    if threads is not None:
        limits.check_range("threads", threads, 1, limits.MAX_THREADS)
    params = _param_overrides(params)
    models = _model_entries(models)
    loaded = load_spec(path, encoding)
    engine = open_engine(settings.db_url(db))  # reachable, and not newer than this hanprompt
    if resume is not None:
        target = _resume_target(engine, resume)
        overrides = (target["spec"] or {}).get("overrides") or {}
        # A resume reuses the run's own --model / --repeat unless told otherwise.
        if models is None and overrides.get("models"):
            models = [ModelEntry(**m) for m in overrides["models"]]
        repeat = overrides.get("repeat") if repeat is None else repeat
        truncate = overrides.get("truncate") if truncate is None else truncate
        params = overrides.get("params") if params is None else params
        threads = overrides.get("threads") if threads is None else threads
        use_cache = use_cache and not overrides.get("no_cache")  # a --no-cache run resumes without the cache
        stored = (target["spec"] or {}).get("spec") or {}
        embedder, judge = embedder or stored.get("embedder"), judge or stored.get("judge")
    # --embedder and --judge replace the file's embedder: and judge: (and are stored with the run's spec)
    if embedder or judge:
        loaded.spec = loaded.spec.model_copy(update={k: v for k, v in (("embedder", embedder), ("judge", judge)) if v})
    cells = expand(loaded, models, repeat, params)  # lazily: no cell twice, decided on the file
    if threads is not None and not _uses_gguf(loaded, cells.models):
        raise UsageError(
            f"{arg('threads', threads)} sets llama.cpp's CPU threads, and no model of this run (models, "
            f"judge, translator) is a gguf: model; drop {arg('threads')}"
        )
    digest = matrix_hash(cells)  # one pass over the cells: every cell rendered and checked
    if resume is not None and target["spec_hash"] != digest:
        raise UsageError(
            f"{loaded.path} (with these models, repeat and generation parameters) does not expand to the "
            f"matrix of run {resume}; resume with the file and options that run used, or start a new run"
        )
    if params and "seed" in params and cells.all_greedy():
        notice = (f"seed {params['seed']} has no effect: every cell decodes greedily (temperature 0), "
                  "and a greedy answer does not depend on a seed")
        if on_notice is not None:
            on_notice(notice)

    def options(entry: ModelEntry) -> dict:  # an entry's loading options, with the run's threads
        return registry.with_threads(entry.spec, entry.options, threads)

    for entry in cells.models:
        with _flags_and_keys():
            registry.check(entry.spec, **options(entry))
    translator = _translator(loaded, threads)
    ensure_writable(engine)
    first = cells.models[0]
    if progress is not None:
        progress(0, len(cells), f"loading {first.spec}")
    fresh = not registry.is_loaded(first.spec, **options(first))
    with _flags_and_keys():
        backend = registry.load(first.spec, **options(first))  # a bad model fails before anything is written
    if judge:  # --judge: a bad spec fails on its own, before anything is written
        registry.load(judge, **registry.with_threads(judge, {}, threads))
    # so does a missing python: function, an embedder or a judge that cannot be had; a default model
    # that is not here (the similar checks' embedder, offline) leaves its checks not judged, said once
    for note in prepare(loaded, threads).notes:
        if on_notice is not None:
            on_notice(note)
    if on_warning is not None:
        _warn_judges(loaded, on_warning, threads)
    # every prompt of the first model checked against its context (the others' when they load)
    first_fit = _Fitter(truncate)  # one model's prompts, counted for its context
    for chunk in _chunks(cells.of(first)):
        first_fit(backend, chunk)
    first_info = backend.info
    del backend  # the registry holds it; releasing it there must free it
    life = RunLife(engine, resume, reopen=True, name=loaded.name, kind="experiment",
                   spec=_run_spec(loaded, models, repeat, truncate, params, threads, use_cache), spec_hash=digest)
    run_id = life.start()  # RunBusy, on a resume, while another process works on the run
    already = 0
    if resume is not None:
        from hanprompt.store.experiments import count_done_cells

        already = count_done_cells(engine, resume)
    run = _Run(engine, run_id, loaded, use_cache, max_concurrency, progress, len(cells), already, on_notice,
               translator, threads)
    if fresh:
        _add_load_time(run.phases, first_info)

    def pending(entry: ModelEntry) -> Iterator[list[Cell]]:
        """The model's cells the run lacks, a chunk at a time (a resume asks the store per chunk)."""
        from hanprompt.store.experiments import done_cells

        for chunk in _chunks(cells.of(entry)):
            if resume is not None:
                done = done_cells(engine, run_id, (c.key for c in chunk))
                chunk = [c for c in chunk if c.key not in done]
            if chunk:
                yield chunk

    try:  # the run ends done, interrupted or failed as store.runs.end_state says
        with life as run.lease:
            todo = []  # (model, its pending chunks) of the models with a cell left
            for entry in cells.models:
                chunks = pending(entry)
                head = next(chunks, None)
                if head is not None:
                    todo.append((entry, itertools.chain([head], chunks)))
            if todo and todo[0][0] != first:
                registry.release(first.spec, **options(first))
            for n, (entry, chunks) in enumerate(todo):
                loaded_before = registry.is_loaded(entry.spec, **options(entry))
                run.progress(run.done, run.summary.total, f"loading {entry.spec}")
                with _flags_and_keys():
                    backend = registry.load(entry.spec, **options(entry))  # cached by the registry
                if not loaded_before:
                    _add_load_time(run.phases, backend.info)
                if on_loaded is not None:
                    on_loaded(backend)
                fitter = first_fit if entry == first else _Fitter(truncate)
                run.model(backend, chunks, functools.partial(fitter, backend))
                if n + 1 < len(todo):  # one model in memory at a time: the next one needs the room
                    del backend
                    registry.release(entry.spec, **options(entry))
            if resume is not None:
                if judge and judge != stored.get("judge"):  # later resumes ask this judge too
                    from hanprompt.store.experiments import set_run_judge

                    with engine.begin() as conn:
                        set_run_judge(conn, run_id, judge)
                run.complete_verdicts(cells)
            run.translate()  # what an earlier, killed run stored but did not translate
    except KeyboardInterrupt as e:
        run.summary.timings = run.phases.as_dict()
        run.summary.status = "interrupted"
        raise RunInterrupted(run.summary, isinstance(e, Terminated)) from None
    run.summary.status = "done"
    run.summary.timings = run.phases.as_dict()
    return run.summary


def _warn_judges(loaded: LoadedSpec, on_warning: Callable[[str], None], threads: int | None) -> None:
    """Each judge's warnings (loaded already by ``prepare``), once per judge."""
    from hanprompt.experiments.checks import all_checks
    from hanprompt.experiments.judge import judge_warnings

    specs = dict.fromkeys(c.judge or loaded.spec.judge for _, c in all_checks(loaded) if c.llm_rubric is not None)
    for spec in specs:
        if spec:
            for warning in judge_warnings(registry.load(spec, **registry.with_threads(spec, {}, threads))):
                on_warning(warning)


def _add_load_time(phases: Phases, info) -> None:
    phases.add("import", info.import_s)
    phases.add("load", info.load_s)
