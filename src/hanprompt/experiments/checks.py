"""Checks on a response (promptfoo's useful core): each gives passed, a reason and maybe a score."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from hanprompt.errors import HanpromptError, ModelNotFound, one_line, unrendered
from hanprompt.experiments.spec import Check, LoadedSpec, Loc
from hanprompt.hangul import hangul_share
from hanprompt.textio import nfc


@dataclass(frozen=True)
class CheckResult:
    name: str
    spec: dict
    passed: bool | None  # None: not judged (an llm-rubric check without a judge)
    reason: str
    score: float | None = None  # 0..1 where the check measures a degree (speech-level share, ...)
    #: the judge calls behind an llm-rubric verdict, stored as generations of their own
    judge_attempts: tuple = field(default=(), compare=False, repr=False)

    def as_dict(self) -> dict:
        return {"name": self.name, "spec": self.spec, "passed": self.passed, "reason": self.reason,
                "score": self.score}


def _json_text(text: str) -> str:
    # Models often wrap JSON in a ```json fence; the payload inside is what a caller parses.
    fenced = re.fullmatch(r"\s*```(?:json)?\s*\n(.*?)\n?```\s*", text, re.S)
    return fenced.group(1) if fenced else text


def _is_json(text: str, expected: bool = True) -> tuple[bool, str]:
    try:
        json.loads(_json_text(text))
        parsed, reason = True, "parses as JSON"
    except ValueError as e:
        parsed, reason = False, f"not JSON: {one_line(e)}"
    return parsed == expected, reason


def _contains(needle: str, text: str, *, fold: bool = False, negate: bool = False) -> tuple[bool, str]:
    needle = nfc(needle)
    found = needle.casefold() in text.casefold() if fold else needle in text
    return found != negate, f"{'contains' if found else 'lacks'} {needle!r}{' (any case)' if fold else ''}"


def _regex(pattern: str, text: str) -> tuple[bool, str]:
    pattern = nfc(pattern)
    found = re.search(pattern, text) is not None
    return found, f"{'matches' if found else 'does not match'} /{pattern}/"


def _language(check: Check, text: str) -> tuple[bool, str]:
    share = hangul_share(text)
    return share >= check.min_share, f"Hangul share {share:.0%} (needs {check.min_share:.0%})"


def _count(value: int, limit: int, what: str, most: bool) -> tuple[bool, str]:
    ok = value <= limit if most else value >= limit
    return ok, f"{value} {what} ({'at most' if most else 'at least'} {limit})"


def _speech(check: Check, record: dict) -> tuple[bool, str, float | None]:
    from hanprompt.analysis import speech_level

    if "sentences" not in record:  # analysed once per response, whichever speech checks it has
        record["sentences"] = speech_level.analyse([record["response"]])[0]
    if check.speech_level is not None:
        verdict = speech_level.judge_level(record["sentences"], check.speech_level)
    else:
        verdict = speech_level.judge_consistency(record["sentences"])
    return verdict.passed, verdict.reason, verdict.score


Rule = Callable[[Check, dict], "tuple[bool, str] | tuple[bool, str, float | None]"]

_RULES: dict[str, Rule] = {
    "contains": lambda c, r: _contains(c.contains, r["response"]),
    "icontains": lambda c, r: _contains(c.icontains, r["response"], fold=True),
    "not-contains": lambda c, r: _contains(c.not_contains, r["response"], negate=True),
    "regex": lambda c, r: _regex(c.regex, r["response"]),
    "min-words": lambda c, r: _count(len(r["response"].split()), c.min_words, "words", most=False),
    "max-words": lambda c, r: _count(len(r["response"].split()), c.max_words, "words", most=True),
    "max-tokens": lambda c, r: _count(r["output_tokens"] or 0, c.max_tokens, "tokens", most=True),
    "is-json": lambda c, r: _is_json(r["response"], expected=c.is_json),
    "language": lambda c, r: _language(c, r["response"]),
    "max-latency-ms": lambda c, r: _latency(c, r),
    "speech-level": _speech,
    "consistent-speech-level": _speech,
}


def _latency(check: Check, record: dict) -> tuple[bool, str]:
    # A reused answer was not timed now: judge the original measurement and say where it was made.
    ms = (record["total_s"] or 0) * 1000
    text = f"{ms:.0f} ms"
    if record.get("cached"):
        run = record.get("cached_run_id")
        text = f"cached: {text} measured in {f'run {run}' if run is not None else 'a deleted run'}"
    return ms <= check.max_latency_ms, f"{text} (at most {check.max_latency_ms:g} ms)"


class CheckEnv:
    """What checks need beyond the response: the user's functions, embedders, loaded once.

    ``base_dir`` is where ``python:`` files are looked up (the experiment file's folder).
    """

    def __init__(self, base_dir: str | Path | None = None, embedder: str | None = None, judge: str | None = None,
                 lookup=None, threads: int | None = None):
        from hanprompt.experiments.similarity import DEFAULT_EMBEDDER

        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        self.default_embedder = embedder or DEFAULT_EMBEDDER
        self.notes: list[str] = []  # one line each, for the user: a default model that is not here
        self.default_judge = judge
        self.lookup = lookup  # cache keys -> completions stored before (the run's result cache)
        self.threads = threads  # llama.cpp's CPU threads for a gguf: judge (None: its default)
        self._functions: dict[str, Callable] = {}
        self.verdicts: dict[tuple, object] = {}  # (judge, rubric, question, answer) -> judge.Outcome

    def function(self, ref: str) -> Callable:
        """The user's function for ``file://checks.py:fn`` (InputError when it cannot be had)."""
        if ref not in self._functions:
            from hanprompt.experiments.user_checks import load_function

            self._functions[ref] = load_function(ref, self.base_dir)
        return self._functions[ref]

    def embedder(self, check: Check):
        """The loaded embedder of a ``similar`` check; None when it is the default embedder and cannot be
        had here (no hub): such checks are not judged. ModelNotFound / BackendError for an embedder the
        user named (the file's ``embedder:``, the check's, or ``--embedder``) that cannot be had."""
        from hanprompt.experiments.similarity import DEFAULT_EMBEDDER, load_embedder, missing_default_note

        name = check.embedder or self.default_embedder
        try:
            return load_embedder(name)
        except ModelNotFound:
            if name != DEFAULT_EMBEDDER or check.embedder is not None:
                raise
            note = missing_default_note()
            if note not in self.notes:
                self.notes.append(note)
            return None

    def judge_of(self, check: Check):
        """The loaded judge backend of an llm-rubric check, or None when no judge is set."""
        spec = check.judge or self.default_judge
        if spec is None:
            return None
        from hanprompt.backends import registry

        return registry.load(spec, **registry.with_threads(spec, {}, self.threads))  # loaded once per process

    def judge_pending(self, items: Iterable[tuple[Iterable[Check], dict]]) -> None:
        """Judge, in one batch per judge, every (rubric, answer) of these records not judged yet."""
        from hanprompt.experiments.judge import run_judge

        todo: dict[str, tuple[object, list[tuple]]] = {}
        for checks, record in items:
            for check in checks:
                if check.llm_rubric is None:
                    continue
                judge = self.judge_of(check)
                key = _verdict_key(judge, check, record) if judge is not None else None
                if key is not None and key not in self.verdicts:
                    keys = todo.setdefault(judge.spec, (judge, []))[1]
                    if key not in keys:
                        keys.append(key)
        for judge, keys in todo.values():
            for key, outcome in zip(keys, run_judge(judge, [k[1:] for k in keys], self.lookup)):
                self.verdicts[key] = outcome

    def warm(self, items: Iterable[tuple[Iterable[Check], str]]) -> None:
        """Embed, in one batch per embedder, every text the ``similar`` checks of these responses compare."""
        texts: dict[str, list[str]] = {}
        embedders = {}
        for checks, response in items:
            for check in checks:
                if check.similar is not None:
                    embedder = self.embedder(check)
                    if embedder is None:
                        continue
                    embedders[embedder.name] = embedder
                    texts.setdefault(embedder.name, []).extend([nfc(check.similar), nfc(response or "")])
        for name, batch in texts.items():
            embedders[name].embed(batch)


def _question(record: dict) -> str:
    users = [m.get("content") or "" for m in record.get("messages") or [] if m.get("role") == "user"]
    return nfc(users[-1]) if users else ""


def _verdict_key(judge, check: Check, record: dict) -> tuple:
    return (judge.spec, nfc(check.llm_rubric), _question(record), nfc(record.get("response") or ""))


def all_checks(loaded: LoadedSpec) -> Iterable[tuple[Loc, Check]]:
    """Every check of an experiment file with its location (file level first, then each variant's)."""
    for j, check in enumerate(loaded.spec.checks):
        yield ("checks", j), check
    for i, variant in enumerate(loaded.spec.variants):
        for j, check in enumerate(variant.checks):
            yield ("variants", i, "checks", j), check


def prepare(loaded: LoadedSpec, threads: int | None = None) -> CheckEnv:
    """Load what the file's checks need (functions, embedders, judges) before anything is written.

    Raises SpecError (file:line: key: problem; fix) for a missing file or function, an
    embedder that is absent or not a sentence-transformers model, or a judge that cannot load.
    """
    env = CheckEnv(loaded.path.parent, loaded.spec.embedder, loaded.spec.judge, threads=threads)
    for loc, check in all_checks(loaded):
        if check.llm_rubric is not None and check.judge is None and loaded.spec.judge is not None:
            loc = ("judge",)  # the file's judge: its error belongs to its own line
        try:
            if check.python is not None:
                env.function(check.python)
            elif check.similar is not None:
                env.embedder(check)
            elif check.llm_rubric is not None:
                env.judge_of(check)
        except HanpromptError as e:
            raise loaded.error(loc, unrendered(e)) from None
    return env


def _python(check: Check, record: dict, env: CheckEnv) -> tuple[bool, str, float | None]:
    from hanprompt.experiments.user_checks import call

    try:
        func = env.function(check.python)
    except HanpromptError as e:
        return False, str(e), None
    context = {k: record.get(k) for k in ("prompt", "messages", "vars", "variant", "model", "output_tokens")}
    context["threshold"] = check.threshold
    return call(func, record["response"], context, check.threshold)


def _similar(check: Check, record: dict, env: CheckEnv) -> tuple[bool, str, float | None]:
    embedder = env.embedder(check)
    if embedder is None:  # the default embedder is not here: not judged, with how to get it
        from hanprompt.experiments.similarity import missing_default_note

        return None, missing_default_note(), None
    cosine = embedder.cosine(nfc(check.similar), record["response"])
    limit = 0.75 if check.threshold is None else check.threshold  # promptfoo's default
    return cosine >= limit, f"cosine similarity {cosine:.3f} (at least {limit:.2f}; {embedder.name})", max(0.0, cosine)


NOT_JUDGED = "not judged: set judge: (a model spec) in the experiment file or on this check, or give the run a judge"


def _rubric(check: Check, record: dict, env: CheckEnv) -> tuple:
    judge = env.judge_of(check)
    if judge is None:
        return None, NOT_JUDGED, None
    key = _verdict_key(judge, check, record)
    if key not in env.verdicts:
        env.judge_pending([((check,), record)])
    outcome = env.verdicts[key]
    attempts = tuple(outcome.attempts)
    if outcome.verdict is None and not outcome.attempts:
        return False, f"no verdict from {judge.spec}: {outcome.error}", None, attempts
    if outcome.verdict is None:
        said = " ".join(outcome.attempts[-1].completion.text.split())[:80]
        tries = "after one retry " if len(outcome.attempts) > 1 else ""
        return False, f"no valid verdict from {judge.spec} {tries}({outcome.error}); it said: {said!r}", \
            None, attempts
    v = outcome.verdict
    passed = v.passed and (check.threshold is None or v.score >= check.threshold)
    below = f", below the threshold {check.threshold:.2f}" if v.passed and not passed else ""
    return passed, f"{v.reason} ({judge.spec}: {'pass' if v.passed else 'fail'}, score {v.score:.2f}{below})", \
        v.score, attempts


def stored_verdict(passed: bool | None, reason: str | None, judge_spec: str) -> str:
    """What a stored llm-rubric result holds, read from the reason ``_rubric`` wrote:
    ``missing`` (not judged), ``unparsed`` (no valid verdict, from any judge), ``other`` (a verdict
    of another judge than ``judge_spec``) or ``current`` (a verdict of ``judge_spec``)."""
    reason = reason or ""
    if passed is None:
        return "missing"
    if reason.startswith(("no valid verdict from ", "no verdict from ")):
        return "unparsed"
    if f"({judge_spec}: pass, score " in reason or f"({judge_spec}: fail, score " in reason:
        return "current"
    return "other"


_ENV_RULES: dict[str, Callable[[Check, dict, CheckEnv], tuple]] = {
    "python": _python,
    "similar": _similar,
    "llm-rubric": _rubric,
}


def run_checks(checks: tuple[Check, ...] | list[Check], record: dict, env: CheckEnv | None = None) -> list[CheckResult]:
    """Apply ``checks`` to a generation record (response, output_tokens, total_s, ...).

    ``env`` holds what python, similar and llm-rubric checks load; without one they load on
    first use, ``python:`` files relative to the working directory. The response and the checks' texts
    are compared in Unicode NFC, so a check typed with decomposed Hangul matches a composed
    answer (the stored response is left as generated).
    """
    record = dict(record, response=nfc(record.get("response") or ""))
    out = []
    for check in checks:
        if check.name in _ENV_RULES:
            env = env or CheckEnv()
            passed, reason, *score = _ENV_RULES[check.name](check, record, env)
        else:
            passed, reason, *score = _RULES[check.name](check, record)
        out.append(CheckResult(check.name, check.as_dict(), None if passed is None else bool(passed), reason, *score))
    return out
