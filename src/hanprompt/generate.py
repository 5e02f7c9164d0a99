"""Asking a model one question, and the record every generation leaves in the log."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from hanprompt.errors import HanpromptError, UsageError
from hanprompt.textio import nfc
from hanprompt.backends.base import Backend, Completion, GenParams, Messages, OnText, validate_messages


def messages_for(prompt: str, system: str | None = None) -> Messages:
    """The chat messages of one question, in Unicode NFC (composed Hangul, as tokenizers were trained)."""
    messages = [{"role": "system", "content": nfc(system)}] if system else []
    return validate_messages(messages + [{"role": "user", "content": nfc(prompt)}])


def generation_record(
    backend: Backend, messages: Messages, params: GenParams, completion: Completion
) -> dict:
    """The columns of one generation row (see store.schema.generations)."""
    return {
        "model": backend.spec,
        "backend": backend.name,
        "device": backend.info.device,
        "placement": completion.placement or backend.info.placement,
        "dtype": backend.info.dtype,
        "params": params.model_dump(),
        "messages": messages,
        "prompt": completion.prompt,
        "response": completion.text,
        "input_tokens": completion.input_tokens,
        "output_tokens": completion.output_tokens,
        "load_s": backend.info.load_s,
        "ttft_s": completion.ttft_s,
        "total_s": completion.total_s,
        "tokens_per_s": completion.tokens_per_s,
        "finish_reason": completion.finish_reason,
        "error": completion.error,
        "usage_source": completion.usage_source,
        "cost": completion.cost,
        "timings": completion.timings or None,  # queue_s, prefill_s, decode_s of this generation
    }


@dataclass
class Answer:
    """An answer with its log ids (None when not logged) and where its seconds went.

    ``phases``: import_s, load_s (both 0 when the model was already loaded), prefill_s,
    decode_s, store_s (see :mod:`hanprompt.timing`). ``notices``: one-line warnings the
    backend raised while answering (a server that answers as another model).
    """

    record: dict
    id: int | None = None
    run_id: int | None = None
    phases: dict = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        out = {"id": self.id, "run_id": self.run_id}
        out.update(self.record)
        return out


def ask(
    prompt: str,
    *,
    model: str,
    system: str | None = None,
    params: GenParams | None = None,
    load_options: dict | None = None,
    db: str | None = None,
    log: bool = True,
    on_text: OnText | None = None,
    on_loaded=None,
    truncate: str | None = None,
) -> Answer:
    """Generate one answer with ``model`` and log it as a run of kind ``ask``.

    Inputs, the database and the model are all checked before anything is written; a prompt
    that does not fit the model's context with ``params.max_new_tokens`` raises UsageError, or
    with ``truncate`` ("left" or "right") is cut to fit (see ``backends.context.fit``).
    """
    from hanprompt import settings
    from hanprompt.backends import registry
    from hanprompt.backends.context import fit

    messages = messages_for(prompt, system)
    params = params or GenParams()
    spec = registry.parse_spec(model)
    fresh = not registry.is_loaded(spec, **(load_options or {}))
    engine = None
    opening = None
    # A new GGUF model: the log is opened on a thread while llama.cpp evaluates the prompt (below);
    # any other model: now, so that a log that cannot be written is found before loading.
    overlap = log and fresh and spec.backend == "gguf"
    url = settings.db_url(db) if log else None
    if log and not overlap:
        engine = _open_log(url)
    backend = registry.load(spec, **(load_options or {}))
    phases = {"import_s": backend.info.import_s, "load_s": backend.info.load_s} if fresh else {}
    if on_loaded is not None:
        on_loaded(backend)
    messages = fit(backend, messages, params, truncate)
    run = {
        "name": prompt.strip().splitlines()[0][:80],
        "kind": "ask",
        "spec": {"model": str(spec), "system": system, "params": params.model_dump(), "load": load_options or {},
                 **({"truncate": truncate} if truncate else {})},
    }
    if overlap:
        opening = _OpeningLog(url)
        on_text = _after(opening, on_text)
    try:
        completion = backend.generate(messages, params, on_text=on_text)
    except HanpromptError as e:  # a failure while generating (out of memory, say) is logged too
        if opening is not None:
            engine = opening.result()
        if engine is not None and not isinstance(e, UsageError):  # bad input (a prompt too long) is not
            failed = Completion("", backend.render(messages), 0, 0, 0.0, 0.0, "error", error=str(e))
            _store(engine, run, generation_record(backend, messages, params, failed))
        raise
    if opening is not None:
        engine = opening.result()
    record = generation_record(backend, messages, params, completion)
    phases.update(prefill_s=completion.timings.get("prefill_s"), decode_s=completion.timings.get("decode_s"))
    if engine is None:
        return Answer(record, phases=phases, notices=completion.notices)
    t0 = time.perf_counter()
    run_id, gen_id = _store(engine, run, record)
    phases["store_s"] = time.perf_counter() - t0
    return Answer(record, gen_id, run_id, phases=phases, notices=completion.notices)


def _open_log(url: str):
    from hanprompt.store import open_engine
    from hanprompt.store.db import ensure_writable

    engine = open_engine(url)
    ensure_writable(engine)  # a read-only log is found before the answer, not after
    return engine


class _OpeningLog:
    """The log opened on a thread while llama.cpp evaluates the first prompt of a GGUF model.

    Importing SQLAlchemy and opening (or creating) the database is about 0.13 s of Python (CPU time,
    2-core CPU); llama.cpp evaluates a prompt in one call that holds no GIL, so the two overlap.
    Loading the model does not overlap it as well: llama.cpp calls back into Python for each of its
    two thousand log lines, and each call waits for the thread to hand over the GIL.
    :meth:`result` waits for the thread and raises what opening raised (StoreError for a log that
    cannot be written); :func:`_after` makes the answer's first piece wait for it, so that such a
    log stops the answer before any of it shows.
    """

    def __init__(self, url: str):
        import threading

        self._engine = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(url,), name="hanprompt-open-log", daemon=True)
        self._thread.start()

    def _open(self, url: str) -> None:
        try:
            self._engine = _open_log(url)
        except BaseException as e:  # handed to the caller's thread by result()
            self._error = e

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._engine


def _after(opening: _OpeningLog, on_text: OnText | None) -> OnText:
    """``on_text`` that first waits for ``opening`` (and raises its error) before the first piece."""
    waiting = [True]

    def first_waits(piece: str) -> None:
        if waiting[0]:
            opening.result()
            waiting[0] = False
        if on_text is not None:
            on_text(piece)

    return first_waits


def _store(engine, run: dict, record: dict) -> tuple[int, int]:
    from hanprompt.store.runs import record_single

    return record_single(engine, record=record, **run)
