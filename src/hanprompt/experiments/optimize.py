"""Optimizing one variant of an experiment file, with held-out proof.

The rows of the ``vars`` matrix that the variant uses are split, by the values of one variable
(the one with the most values), into a search set and a held-out set (``random.Random(seed)``
shuffles the values; half, rounded down, are held out). Candidates are ranked on the search set
only: by checks passed over checked (independent results, see ``stats``), then mean score.
The best one that beats the original there is then run with the original on the held-out rows,
and reported with ``compare``'s interval and verdict of the difference (``stats.verdict``: B is
the winner, A the original). "no clear improvement" is an outcome, not a failure.

Proposals:

- built-in edits of the variant's messages, with no model (round 1 applies each to the
  original; each later round applies the remaining ones to the best so far, a greedy hill
  climb): zero-shot <-> few-shot (with the file's ``examples:``), chain-of-thought, brief,
  detailed (the instructions of ``prompts.styles``), a role (the file's ``persona:`` or a
  generic one), and for Korean a speech-level instruction (the level a ``speech-level`` check
  asks for, else 합쇼체);
- with ``proposer``, a model shown the task, the best prompts so far with their scores and the
  failing checks' reasons, asked for a better one: the OPRO loop (Yang et al., "Large Language
  Models as Optimizers", 2023).

Everything is a run: the optimization is a run of kind ``optimize`` (its spec holds the split,
the budget and each round); each round is an experiment run (name ``optimize N round K``, its
file under ``HOME/optimize/N/``) made by ``run_experiment``, so it is cached (no cell runs twice)
and resumable. ``budget`` bounds the cells run (generations or cache hits) plus proposer calls.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import yaml

from hanprompt.errors import HanpromptError, UsageError, arg, note
from hanprompt.experiments.runner import Progress, RunInterrupted, _model_entries, run_experiment
from hanprompt.experiments.spec import LoadedSpec, ModelEntry, Variant, load_spec

DEFAULT_BUDGET = 200
#: the most tokens of one proposer answer (one prompt between <prompt> tags)
PROPOSER_TOKENS = 160
KIND = "optimize"
#: generic personas of the role edit when the file has none
_PERSONA = {"en": "You are a precise assistant who follows every instruction exactly.",
            "ko": "당신은 모든 지시를 정확히 따르는 꼼꼼한 도우미입니다."}
#: the speech-level instruction of the Korean edit, by level (see analysis.speech_level.LEVELS)
_SPEECH = {"formal": "합쇼체(-습니다, -ㅂ니다)로 답하세요.", "polite": "해요체(-요)로 답하세요.",
           "casual": "반말(해체)로 답하세요.", "plain": "해라체(-다)로 답하세요."}
NO_IMPROVEMENT = "no clear improvement"


class OptimizeInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a round: the rounds so far are kept; ``resume`` with ``run_id``."""

    def __init__(self, run_id: int, round_run: int, terminated: bool = False):
        super().__init__(f"optimization {run_id} interrupted")
        self.run_id, self.round_run, self.terminated = run_id, round_run, terminated


@dataclass
class Candidate:
    """One wording: its variant, how it was made, and its search-set figures once run."""

    variant: Variant
    origin: str  # "original", "built-in: brief+role", "proposer"
    edits: tuple[str, ...] = ()
    passed: int = 0
    checked: int = 0
    mean_score: float | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def rank(self) -> tuple:
        rate = self.passed / self.checked if self.checked else -1.0
        return (rate, self.mean_score if self.mean_score is not None else -1.0)

    def as_dict(self) -> dict:
        return {"id": self.variant.id, "origin": self.origin, "passed": self.passed, "checked": self.checked,
                "mean_score": self.mean_score}


@dataclass
class OptimizeResult:
    """What an optimization found and what it cost.

    ``rounds``: per round its run id and candidates (id, origin, passed, checked, mean_score on
    the search rows); ``held_out``: None when no candidate beat the original on the search rows,
    else the original's and the winner's passed/checked there and ``verdict`` (``stats.verdict``,
    B the winner). ``generated``/``cached``: results made now and results reused over all rounds;
    ``proposer_calls``; ``cost`` (from the models' prices, None if none has one); ``seconds``: wall time.
    """

    run_id: int
    original: str
    split: dict
    rounds: list[dict]
    winner: dict | None
    held_out: dict | None
    outcome: str
    output: Path | None
    generated: int = 0
    cached: int = 0
    proposer_calls: int = 0
    cost: float | None = None
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)


# --- the variant as messages, and the built-in edits ----------------------------------------

def _as_messages(v: Variant) -> list[dict]:
    """The variant's messages with its templates unrendered ({{var}} kept)."""
    from hanprompt.prompts import Example, build_messages

    if v.style is None:
        if v.messages is not None:
            return [{"role": m.role, "content": m.content} for m in v.messages]
        return ([{"role": "system", "content": v.system}] if v.system else []) + [{"role": "user", "content": v.prompt}]
    return build_messages(v.style, task=v.task, examples=[Example(e.input, e.output) for e in v.examples or []],
                          persona=v.persona, tasks=v.tasks, system=v.system)


def _lang(messages: list[dict]) -> str:
    from hanprompt.hangul import has_hangul

    return "ko" if has_hangul(messages[-1]["content"]) else "en"


def _suffix(messages: list[dict], text: str) -> list[dict]:
    out = [dict(m) for m in messages]
    out[-1]["content"] = f"{out[-1]['content']}\n\n{text}"
    return out


def _edits(loaded: LoadedSpec, variant: Variant, original: list[dict]) -> dict[str, Callable]:
    """The built-in edits that apply to this variant: name -> messages -> messages."""
    from hanprompt.prompts.styles import _TEXT

    spec = loaded.spec
    lang = _lang(original)
    examples = [e for v in spec.variants for e in v.examples or []]
    personas = [v.persona for v in spec.variants if v.persona]
    edits: dict[str, Callable] = {}
    turns = any(m["role"] == "assistant" for m in original)
    if turns:  # few-shot -> zero-shot
        edits["zero-shot"] = lambda ms: [m for m in ms if m["role"] == "system"] + [ms[-1]]
    elif examples:
        def few_shot(ms):
            demo = [t for e in examples for t in ({"role": "user", "content": e.input},
                                                   {"role": "assistant", "content": e.output})]
            return [m for m in ms[:-1] if m["role"] == "system"] + demo + [ms[-1]]
        edits["few-shot"] = few_shot
    for name, key in (("chain-of-thought", "cot"), ("brief", "brief"), ("detailed", "detailed")):
        if _TEXT[lang][key] not in original[-1]["content"]:
            edits[name] = (lambda text: lambda ms: _suffix(ms, text))(_TEXT[lang][key])
    if not any(m["role"] == "system" for m in original):
        persona = personas[0] if personas else _PERSONA[lang]
        edits["role"] = lambda ms: [{"role": "system", "content": persona}] + ms
    checks = list(spec.checks) + list(variant.checks)
    level = next((c.speech_level for c in checks if c.speech_level), None)
    if lang == "ko" or level:
        edits["speech-level"] = lambda ms: _suffix(ms, _SPEECH[level or "formal"])
    return edits


#: edits that undo or contradict each other are not stacked
_CONFLICTS = {frozenset(("brief", "detailed")), frozenset(("brief", "chain-of-thought"))}


def _stackable(done: tuple[str, ...], name: str) -> bool:
    return name not in done and not any(frozenset((d, name)) in _CONFLICTS for d in done)


def _variant(vid: str, messages: list[dict], base: Variant) -> Variant:
    return Variant(id=vid, messages=messages, params=base.params, checks=base.checks)


# --- files and runs -----------------------------------------------------------------------

def _round_spec(loaded: LoadedSpec, name: str, description: str, split_var: str, values: list,
                variants: list[Variant]) -> dict:
    spec = loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    spec.update(name=name, description=description)
    spec["vars"] = dict(spec.get("vars") or {}, **{split_var: list(values)})
    spec["variants"] = [v.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True) | {"id": v.id}
                        for v in variants]
    spec.pop("translate", None)  # translations are not what is optimized
    base = loaded.path.parent.resolve()

    def absolute(checks: list[dict]) -> list[dict]:
        # python checks name a file beside the experiment file; the round file lives elsewhere
        out = []
        for c in checks:
            if "python" in c:
                ref = c["python"].removeprefix("file://")
                file, _, fn = ref.rpartition(":")
                c = dict(c, python=f"file://{(base / file).resolve()}:{fn}")
            out.append(c)
        return out

    if spec.get("embedder") and (base / spec["embedder"]).exists():  # a folder beside the file
        spec["embedder"] = str((base / spec["embedder"]).resolve())
    spec["checks"] = absolute(spec.get("checks") or [])
    for v in spec["variants"]:
        if v.get("checks"):
            v["checks"] = absolute(v["checks"])
    return spec


def _write_yaml(path: Path, data: dict, header: str = "") -> None:
    from hanprompt import outputs

    with outputs.writing(path, arg("output"), newline="\n") as f:
        f.write(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100))


def _set_spec(engine, run_id: int, spec: dict) -> None:
    from sqlalchemy import update

    from hanprompt.store.schema import runs
    from hanprompt.store.storable import storable

    (spec,), _ = storable((spec,))
    with engine.begin() as conn:
        conn.execute(update(runs).where(runs.c.id == run_id).values(spec=spec))


def _round_run(engine, name: str) -> dict | None:
    """The newest experiment run named ``name`` (a round's), or None."""
    from sqlalchemy import select

    from hanprompt.store.runs import get_run
    from hanprompt.store.schema import runs

    with engine.connect() as conn:
        found = conn.execute(select(runs.c.id).where(runs.c.name == name, runs.c.kind == "experiment")
                             .order_by(runs.c.id.desc()).limit(1)).scalar()
    return get_run(engine, found) if found is not None else None


# --- the optimization ---------------------------------------------------------------------

def _split(loaded: LoadedSpec, variant: Variant, seed: int) -> dict:
    from hanprompt.prompts import template_variables

    used = sorted(set().union(*(template_variables(t) for t in variant.texts().values())))
    lists = {n: loaded.spec.vars[n] for n in used if isinstance(loaded.spec.vars[n], list)}
    if not lists or max(len(v) for v in lists.values()) < 4:
        most = max((len(v) for v in lists.values()), default=1)
        raise UsageError(
            f"variant {variant.id!r} is asked with {most} value{'s' * (most != 1)} of its variables; optimize "
            "needs a vars list of at least 4 values to split into search and held-out rows (a score on the "
            "rows a prompt was tuned on proves nothing); add values under vars:")
    name = max(lists, key=lambda n: (len(lists[n]), n))
    values = list(lists[name])
    random.Random(seed).shuffle(values)
    n_held = len(values) // 2
    return {"var": name, "seed": seed, "search": values[n_held:], "held_out": values[:n_held]}


def _cells_per_candidate(loaded: LoadedSpec, variant: Variant, split: dict, models: list[ModelEntry] | None,
                         values: list) -> int:
    from hanprompt.experiments.matrix import _var_combos

    matrix = dict(loaded.spec.vars, **{split["var"]: values})
    n_models = len(models or loaded.spec.models) or 1
    return len(_var_combos(variant, matrix)) * loaded.spec.repeat * n_models


def _figures(results: list[dict]) -> tuple[int, int, float | None, list[str]]:
    from hanprompt.experiments.compare import check_summary
    from hanprompt.experiments.stats import Sample

    s = Sample.of(results).summary()
    reasons = [f"{c['name']}: {c['reason']}" for c in check_summary(results)
               if c["judged"] and c["passed"] < c["judged"] and c["reason"]]
    return s["passed"], s["checked"], s["mean_score"], reasons


def optimize(
    path: str | Path,
    variant: str | None = None,
    *,
    budget: int = DEFAULT_BUDGET,
    proposer: str | None = None,
    models: Sequence[str | Path | ModelEntry | dict] | None = None,
    seed: int = 0,
    output: str | Path | None = None,
    resume: int | None = None,
    db: str | None = None,
    progress: Progress | None = None,
    on_notice: Callable[[str], None] | None = None,
    encoding: str | None = None,
) -> OptimizeResult:
    """Improve ``variant`` of the experiment file ``path``; see the module docstring for the method.

    ``budget``: the most cells (generations or cache hits, over all rounds and the held-out run)
    plus proposer calls; it must hold at least one round (the original and one candidate on the
    search rows, both on the held-out rows). ``output``: where the copy of the file with the winner
    as a new variant goes (default ``FILE.optimized.yaml`` beside it; the user's file is never
    written). ``progress`` is ``run_experiment``'s callback, called by each round.

    Raises UsageError (before anything is written) for an unknown variant, a file with no checks
    for it, too few rows to split, or a budget below one round; OptimizeInterrupted on Ctrl-C
    or SIGTERM (finish with ``resume=run_id``).
    """
    from hanprompt import settings
    from hanprompt.experiments.stats import Sample, verdict
    from hanprompt.store import open_engine
    from hanprompt.store.db import ensure_writable
    from hanprompt.store.experiments import run_results
    from hanprompt.store.runs import INTERRUPTED, RunLife, best_effort, get_run

    started = time.perf_counter()
    notices: list[str] = []

    def notice(text: str) -> None:
        notices.append(text)
        if on_notice is not None:
            on_notice(text)

    loaded = load_spec(path, encoding)
    engine = open_engine(settings.db_url(db))
    state: dict | None = None
    if resume is not None:
        target = get_run(engine, resume)
        if target["kind"] != KIND:
            raise UsageError(f"run {resume} is not an optimization (its kind is {target['kind']}); pass the id "
                             "`hanprompt optimize` printed")
        state = target["spec"] or {}
        if state.get("spec") != loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True):
            raise UsageError(f"{loaded.path} has changed since optimization {resume} started; resume with the "
                             f"file it used, or start a new optimization without {arg('resume')}")
        variant, budget, proposer, seed = state["variant"], state["budget"], state.get("proposer"), state["seed"]
        models = state.get("models")
    by_id = {v.id: v for v in loaded.spec.variants}
    if not variant:
        raise UsageError(f"name the variant to improve: {arg('variant', 'ID')}, its id in the file")
    if variant not in by_id:
        raise UsageError(f"no variant {variant!r} in {loaded.path}; choose one of {', '.join(by_id)}")
    base = by_id[variant]
    if not (list(loaded.spec.checks) + list(base.checks)):
        raise UsageError(f"{loaded.path} has no checks for variant {variant!r}: nothing to optimize for; "
                         "add checks: (contains, max-words, llm-rubric, ...) to the file or the variant")
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise UsageError(f"budget must be a whole number of generations (got {budget!r})")
    entries = _model_entries(models)
    split = _split(loaded, base, seed)
    per_search = _cells_per_candidate(loaded, base, split, entries, split["search"])
    per_held = _cells_per_candidate(loaded, base, split, entries, split["held_out"])
    minimum = 2 * per_search + 2 * per_held
    if budget < minimum:
        raise UsageError(
            f"budget {budget} is below one round: the original and one candidate on {per_search} search cells "
            f"each, then both on {per_held} held-out cells, need {minimum}; raise {arg('budget')} to at least {minimum}")
    if output is not None and Path(output).resolve() == loaded.path.resolve():
        raise UsageError(f"{arg('output', output)} is the experiment file itself; write the copy elsewhere (your file is "
                         "never overwritten)")
    proposer_backend = None
    if proposer:
        from hanprompt.backends import registry

        registry.check(proposer)
    original = _as_messages(base)
    edits = _edits(loaded, base, original)
    ensure_writable(engine)
    if state is None:
        state = {"file": str(loaded.path), "variant": variant, "budget": budget, "proposer": proposer,
                 "seed": seed, "models": [m.model_dump(exclude_none=True) for m in entries] if entries else None,
                 "split": split, "original_messages": original, "spec": loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True),
                 "rounds": []}
        life = RunLife(engine, name=f"{loaded.name}: optimize {variant}", kind=KIND, spec=state)
    else:  # RunBusy while another live process is resuming it
        life = RunLife(engine, resume, reopen=True)
    run_id = life.start()  # the one lifecycle of a run (store.runs.RunLife): lease, end states, best effort

    def interrupted(error: str) -> None:
        with best_effort(), engine.begin() as conn:
            life.finish(conn, INTERRUPTED, error)

    def set_spec(spec: dict) -> None:
        life.check()  # never write to an optimization another process has taken over
        _set_spec(engine, run_id, spec)

    folder = settings.home(create=True) / "optimize" / str(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    totals = {"generated": 0, "cached": 0, "cost": None}
    spent = 0  # cells and proposer calls counted against the budget
    rounds: list[dict] = []
    prior_calls = {r["round"]: r.get("proposer_calls", 0) for r in state.get("rounds") or []}  # of a resumed run

    def run_round(step: str, values: list, variants: list[Variant]) -> tuple[int, list[dict]]:
        name = f"optimize {run_id} {step}"
        description = f"optimization {run_id} of {loaded.path}: {step}"
        file = folder / f"{step.replace(' ', '-')}.yaml"
        if not file.exists():  # a resumed round keeps the wordings it was given
            _write_yaml(file, _round_spec(loaded, name, description, split["var"], values, variants))
        before = _round_run(engine, name)
        again = before["id"] if before and before["status"] != "done" else None
        if before and before["status"] == "done":
            round_id = before["id"]
        else:
            try:
                summary = run_experiment(file, models=entries, db=db, progress=progress, on_notice=notice,
                                         resume=again)
            except RunInterrupted as e:
                interrupted("interrupted during " + name)
                raise OptimizeInterrupted(run_id, e.summary.run_id, e.terminated) from None
            round_id = summary.run_id
        results = run_results(engine, round_id)
        totals["generated"] += sum(not r.get("cached") for r in results)
        totals["cached"] += sum(bool(r.get("cached")) for r in results)
        costs = [r["cost"] for r in results if r.get("cost") is not None and not r.get("cached")]
        if costs:
            totals["cost"] = (totals["cost"] or 0.0) + sum(costs)
        return round_id, results

    def record(k: int, round_id: int, cands: list[Candidate], calls: int = 0) -> None:
        rounds.append({"round": k, "run_id": round_id, "candidates": [c.as_dict() for c in cands],
                       "proposer_calls": calls})
        state["rounds"] = rounds
        set_spec(state)

    def score(cands: list[Candidate], results: list[dict]) -> None:
        for c in cands:
            c.passed, c.checked, c.mean_score, c.reasons = _figures([r for r in results if r["variant"] == c.variant.id])

    def search() -> tuple[Candidate, Candidate, dict | None, str, Path | None]:
        nonlocal spent, proposer_backend
        # round 1: the original and each built-in edit of it
        seen = {json.dumps(original, ensure_ascii=False)}
        first = [Candidate(base, "original")]
        room = (budget - 2 * per_held) // per_search - 1  # candidates besides the original
        if proposer:  # leave the proposer at least half of the search budget
            room = max(1, room // 2)
        for name, edit in edits.items():
            msgs = edit(original)
            key = json.dumps(msgs, ensure_ascii=False)
            if key in seen or len(first) > room:
                continue
            seen.add(key)
            first.append(Candidate(_variant(f"{variant}~{name}", msgs, base), f"built-in: {name}", (name,)))
        if len(first) == 1 and not proposer:
            notice(note(f"no built-in edit applies to variant {variant!r} and no {arg('proposer')} was given"))
        k = 1
        round_id, results = run_round(f"round {k}", split["search"], [c.variant for c in first])
        spent += per_search * len(first)
        score(first, results)
        record(k, round_id, first)
        everyone = list(first)
        best = max(everyone, key=lambda c: c.rank)
        best = first[0] if best.rank <= first[0].rank else best
        messages_of = {c.variant.id: _as_messages(c.variant) for c in everyone}
        # later rounds: stack the remaining edits on the best, or ask the proposer
        while True:
            k += 1
            left = budget - 2 * per_held - spent
            cands: list[Candidate] = []
            if proposer:
                if left < per_search + 1:
                    break
                stored = folder / f"round-{k}.yaml"
                if stored.exists():  # a resumed round: the prompt the proposer gave before, not a new ask
                    done_before = load_spec(stored).spec.variants
                    cands = [Candidate(_variant(v.id, [{"role": m.role, "content": m.content} for m in v.messages],
                                                base), "proposer") for v in done_before]
                    seen.update(json.dumps(_as_messages(c.variant), ensure_ascii=False) for c in cands)
                    calls = prior_calls.get(k, 0)  # what the proposer cost that round before
                    proposed = None
                else:
                    if proposer_backend is None:
                        from hanprompt.backends import registry

                        proposer_backend = registry.load(proposer)
                    proposed, calls = _propose(engine, run_id, proposer_backend, loaded, base, everyone, k, notice)
                spent += calls
                totals.setdefault("proposer_calls", 0)
                totals["proposer_calls"] += calls
                if cands:
                    pass
                elif proposed is None:
                    notice(f"round {k}: the proposer gave no usable prompt twice; round {k} is skipped")
                    if k > 8:
                        break
                    continue
                else:
                    key = json.dumps(proposed, ensure_ascii=False)
                    if key in seen:
                        notice(f"round {k}: the proposer repeated a prompt already tried; round {k} is skipped")
                        continue
                    seen.add(key)
                    cands.append(Candidate(_variant(f"{variant}~opro{k}", proposed, base), "proposer"))
            else:
                if best is first[0]:
                    break  # nothing beat the original: no edit to build on
                for name, edit in edits.items():
                    if not _stackable(best.edits, name) or per_search * (len(cands) + 1) > left:
                        continue
                    msgs = edit(messages_of[best.variant.id])
                    key = json.dumps(msgs, ensure_ascii=False)
                    if key in seen:
                        continue
                    seen.add(key)
                    edits_now = best.edits + (name,)
                    cands.append(Candidate(_variant(f"{variant}~{'+'.join(edits_now)}", msgs, base),
                                           f"built-in: {'+'.join(edits_now)}", edits_now))
                if not cands:
                    break
            round_id, results = run_round(f"round {k}", split["search"], [c.variant for c in cands])
            spent += per_search * len(cands)
            score(cands, results)
            record(k, round_id, cands, calls if proposer else 0)
            for c in cands:
                messages_of[c.variant.id] = _as_messages(c.variant)
            everyone += cands
            top = max(cands, key=lambda c: c.rank)
            if top.rank > best.rank:
                best = top
            elif not proposer:
                break  # the climb found no better step
        held = None
        out_path = None
        if best is first[0]:
            outcome = f"{NO_IMPROVEMENT}: no proposal passed more search cells than the original"
        else:
            round_id, results = run_round("held-out", split["held_out"], [base, best.variant])
            spent += 2 * per_held
            a = [r for r in results if r["variant"] == base.id]
            b = [r for r in results if r["variant"] == best.variant.id]
            v = verdict(Sample.of(a), Sample.of(b))
            fa, fb = _figures(a), _figures(b)
            held = {"run_id": round_id,
                    "original": {"passed": fa[0], "checked": fa[1], "mean_score": fa[2]},
                    "winner": {"passed": fb[0], "checked": fb[1], "mean_score": fb[2]}, **v}
            if v["verdict"] == "B better":
                outcome = f"improved: {best.variant.id} beats {variant} on the held-out rows"
            elif v["verdict"] == "A better":
                outcome = f"{NO_IMPROVEMENT}: the original did better on the held-out rows"
            else:
                more = "more" if fb[0] * max(fa[1], 1) > fa[0] * max(fb[1], 1) else "no more"
                outcome = (f"{NO_IMPROVEMENT} on the held-out rows ({v['verdict']}); the winner passed {more} "
                           "held-out cells than the original")
            out_path = _write_copy(loaded, best, output, run_id, held)
        state.update(winner=None if best is first[0] else best.as_dict() | {"messages": _as_messages(best.variant)},
                     held_out=held, outcome=outcome, output=str(out_path) if out_path else None,
                     spent=spent, generated=totals["generated"], cached=totals["cached"], cost=totals["cost"],
                     proposer_calls=totals.get("proposer_calls", 0))
        set_spec(state)
        return first[0], best, held, outcome, out_path

    with life:  # done on return; failed (its one line) on any other error, recorded best-effort
        try:
            original_c, best, held, outcome, out_path = search()
        except OptimizeInterrupted:
            raise
        except KeyboardInterrupt as e:  # Ctrl-C between rounds (a proposer call, say)
            from hanprompt.errors import Terminated

            interrupted("interrupted between rounds")
            raise OptimizeInterrupted(run_id, None, isinstance(e, Terminated)) from None
    return OptimizeResult(
        run_id=run_id, original=variant, split=split, rounds=rounds,
        winner=state["winner"], held_out=held, outcome=outcome, output=out_path,
        generated=totals["generated"], cached=totals["cached"], proposer_calls=totals.get("proposer_calls", 0),
        cost=totals["cost"], seconds=time.perf_counter() - started, notices=notices,
    )


def _write_copy(loaded: LoadedSpec, best: Candidate, output, run_id: int, held: dict) -> Path:
    """A copy of the file with the winner added as a new variant; never the user's own file."""
    path = Path(output) if output else loaded.path.with_name(loaded.path.stem + ".optimized.yaml")
    if path.resolve() == loaded.path.resolve():
        raise UsageError(f"{arg('output', path)} is the experiment file itself; write the copy elsewhere")
    spec = loaded.spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    ids = {v["id"] for v in spec["variants"]}
    new_id = f"{best.variant.id.split('~')[0]}-optimized"
    n = 2
    while new_id in ids:
        new_id, n = f"{best.variant.id.split('~')[0]}-optimized-{n}", n + 1
    entry = best.variant.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
    spec["variants"].append({"id": new_id, **{k: v for k, v in entry.items() if k != "id"}})
    header = (f"# A copy of {loaded.path} with {new_id} added by `hanprompt optimize` (optimization {run_id}:\n"
              f"# {best.origin}; held-out: {held['winner']['passed']}/{held['winner']['checked']} passed against "
              f"{held['original']['passed']}/{held['original']['checked']}, {held['verdict']}).\n"
              "# The original file's comments are not carried over.\n")
    _write_yaml(path, spec, header)
    return path


# --- the proposer (OPRO) ------------------------------------------------------------------

def _meta_prompt(loaded: LoadedSpec, base: Variant, tried: list[Candidate]) -> str:
    from hanprompt.prompts import template_variables

    used = sorted(set().union(*(template_variables(t) for t in base.texts().values())))
    checks = [json.dumps(c.as_dict(), ensure_ascii=False) for c in list(loaded.spec.checks) + list(base.checks)]
    lines = ["Your task is to write a better prompt for a language model.",
             "Each answer to the prompt is graded by these checks: " + "; ".join(checks) + ".",
             f"The prompt must keep the placeholders {', '.join('{{' + u + '}}' for u in used)} exactly as written."
             if used else "",
             "", "Prompts tried so far, from worst to best, with the share of checks passed:"]
    for c in sorted(tried, key=lambda c: c.rank)[-4:]:
        msgs = _as_messages(c.variant)
        earlier = [f"({m['role']}: {m['content']})" for m in msgs[:-1]]
        lines += ["", *(["after the turns"] + earlier if earlier else []), f"<prompt>{msgs[-1]['content']}</prompt>",
                  f"passed {c.passed}/{c.checked}" + (f"; failures: {'; '.join(c.reasons[:3])}" if c.reasons else "")]
    lines += ["", "Write one new prompt, different from all above, that passes more checks (it replaces the last "
              "prompt of the best one; its earlier turns are kept). "
              "Reply with the prompt only, between <prompt> and </prompt>."]
    return "\n".join(line for line in lines if line is not None)


def _propose(engine, run_id: int, backend, loaded: LoadedSpec, base: Variant, tried: list[Candidate], k: int,
             notice) -> tuple[list[dict] | None, int]:
    """Ask the proposer for a prompt (greedy, then once more sampled); (messages or None, calls made).

    Each call is stored in the optimization's run as a generation of role ``proposer``.
    """
    import re

    from hanprompt.backends.base import GenParams
    from hanprompt.generate import generation_record
    from hanprompt.prompts import template_variables
    from hanprompt.store.runs import add_generation

    best = max(tried, key=lambda c: c.rank)
    template = _as_messages(best.variant)
    messages = [{"role": "user", "content": _meta_prompt(loaded, base, tried)}]
    needed = set().union(*(template_variables(t) for t in base.texts().values()))
    calls = 0
    for params in (GenParams(max_new_tokens=PROPOSER_TOKENS, temperature=0.0),
                   GenParams(max_new_tokens=PROPOSER_TOKENS, temperature=0.8, seed=k)):
        completion = backend.generate(messages, params)
        calls += 1
        with engine.begin() as conn:
            add_generation(conn, run_id, dict(generation_record(backend, messages, params, completion),
                                              role="proposer"))
        found = re.search(r"<prompt>(.*?)(?:</prompt>|$)", completion.text or "", re.S)
        text = (found.group(1) if found else "").strip()
        try:
            ok = bool(text) and needed <= template_variables(text) and template_variables(text) <= set(loaded.spec.vars)
        except HanpromptError:
            ok = False
        if ok:
            return template[:-1] + [{"role": "user", "content": text}], calls
    return None, calls
