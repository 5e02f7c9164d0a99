"""hanprompt run / compare: run an experiment file, and compare runs side by side."""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from hanprompt.cli import common
from hanprompt.errors import for_cli

RESULT_KEYS = [
    "id", "run_id", "variant", "style", "vars", "repeat_index", "model", "response", "input_tokens",
    "output_tokens", "ttft_s", "total_s", "tokens_per_s", "finish_reason", "usage_source", "cost", "cached",
    "cached_from_id", "timings", "checks", "translations",
]


def register(sub) -> None:
    p = sub.add_parser("run", help="run an experiment file (variants x models x repeats)",
                       description="Run every variant of an experiment file on every model, batched and "
                       "cached, and show the results side by side.")
    p.add_argument("file", help="the experiment file (YAML); see examples/prompt-styles.yaml")
    p.add_argument("-m", "--model", action="append", metavar="SPEC", help="replace the file's models (repeatable)")
    p.add_argument("--repeat", type=int, metavar="N", help="answers per prompt (replaces the file's repeat)")
    p.add_argument("--max-concurrency", type=int, metavar="N",
                   help="hf: prompts per batch (default 16); openai: requests in flight (default 8); "
                        "gguf: one prompt at a time")
    p.add_argument("--no-cache", action="store_true", help="generate even what the cache holds")
    p.add_argument("--resume", type=common.record_id, metavar="RUN_ID", help="complete only what this run is missing")
    p.add_argument("--embedder", metavar="PATH_OR_ID",
                   help="the sentence-transformers model of similar checks (replaces the file's embedder:)")
    p.add_argument("--truncate", choices=["left", "right"],
                   help="cut prompts too long for a model's context from the left (start) or right (end)")
    p.add_argument("--judge", metavar="SPEC",
                   help="the model that grades llm-rubric checks, any model spec (replaces the file's judge:)")
    p.add_argument("--encoding", metavar="ENC",
                   help="encoding of FILE when it has no byte-order mark (default UTF-8; e.g. cp949)")
    g = p.add_argument_group("generation (replace the file's and every variant's parameters; --resume reuses them)")
    g.add_argument("--max-new-tokens", type=int, metavar="N", help="most tokens per answer")
    g.add_argument("--temperature", type=float, metavar="T", help="0 is greedy")
    g.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass")
    g.add_argument("--seed", type=int, metavar="N",
                   help="seed of sampled cells (repeat i uses N+i); greedy cells (temperature 0) ignore it")
    common.add_model_options(p)
    common.add_common(p)
    p.set_defaults(handler=run)

    c = sub.add_parser("compare", help="compare one run side by side, or two runs variant by variant",
                       description="One RUN_ID: its results side by side. Two: per-variant changes in pass "
                       "rate, length and speed from RUN_A to RUN_B.")
    c.add_argument("run_a", type=common.record_id, metavar="RUN_A")
    c.add_argument("run_b", type=common.record_id, nargs="?", metavar="RUN_B")
    c.add_argument("--baseline", metavar="VARIANT",
                   help="with one run: the variant the others are judged against (default: the first)")
    common.add_common(c)
    c.set_defaults(handler=compare)


def _engine(db):
    from hanprompt import settings
    from hanprompt.store import open_engine

    return open_engine(settings.db_url(db))


def run(args: argparse.Namespace) -> int:
    from hanprompt.experiments import RunInterrupted, model_entries, run_experiment
    from hanprompt.experiments.compare import compare_run

    options = common.load_options(args)
    threads = options.pop("threads", None)  # every gguf: model of the run, judge and translator included
    models = args.model
    if options and not models:
        models = _default_model_for(args, options)
    # the library names its arguments in errors; the command line names its flags
    from hanprompt import limits
    from hanprompt.backends.base import GenParams

    if args.repeat is not None:
        limits.check_range("--repeat", args.repeat, 1, limits.MAX_REPEAT, key="repeat")
    if args.max_concurrency is not None:  # None: each backend's default
        limits.check_range("--max-concurrency", args.max_concurrency, 1, limits.MAX_CONCURRENCY)
    if threads is not None:
        limits.check_range("--threads", threads, 1, limits.MAX_THREADS)
    params = {k: getattr(args, k) for k in ("max_new_tokens", "temperature", "top_p", "seed")
              if getattr(args, k) is not None}
    GenParams.build(**params)  # a value out of range: one line naming its flag

    def on_loaded(backend):
        for warning in backend.info.warnings:
            print(f"hanprompt: warning: {common.visible(for_cli(warning), keep='')}", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError):  # Korean prompts for the embedded English model
            common.korean_hint(backend.spec, Path(args.file).read_text(encoding="utf-8", errors="replace"))
        if backend.info.kernels and common.debug(args):  # e.g. whether oneDNN's packed linears were kept
            print(f"hanprompt: {common.visible(backend.spec, keep='')}: {backend.info.kernels}", file=sys.stderr)

    def on_notice(text: str) -> None:
        print(f"hanprompt: note: {common.visible(for_cli(text), keep='')}", file=sys.stderr)

    def on_warning(text: str) -> None:
        print(f"hanprompt: warning: {common.visible(for_cli(text), keep='')}", file=sys.stderr)

    try:
        with common.progress_bars("cells") as progress:
            summary = run_experiment(
                args.file, models=model_entries(models, options) if models else None,
                repeat=args.repeat, max_concurrency=args.max_concurrency, use_cache=not args.no_cache,
                resume=args.resume, db=args.db, progress=progress, on_loaded=on_loaded, encoding=args.encoding,
                embedder=args.embedder, judge=args.judge, truncate=args.truncate, on_notice=on_notice,
                params=params or None, threads=threads, on_warning=on_warning,
            )
    except RunInterrupted as e:
        s = e.summary
        print(f"hanprompt: {'terminated' if e.terminated else 'interrupted'}; run {s.run_id} keeps "
              f"{s.already_done + s.generated + s.cached} of {s.total} results; finish it with: "
              f"hanprompt run {common.visible(args.file, keep='')} --resume {s.run_id}"
              f"{' --no-cache' if args.no_cache else ''}", file=sys.stderr)
        return 143 if e.terminated else 130
    t0 = time.perf_counter()
    data = compare_run(_engine(args.db), summary.run_id)
    if args.json:
        common.print_json([{k: r.get(k) for k in RESULT_KEYS} for r in data["results"]])
    else:
        render_side_by_side(data, common.stdout_console())
        print(f"{summary_line(summary)} · compare again with: hanprompt compare {summary.run_id}", file=sys.stderr)
    if common.debug(args):
        common.print_phases(dict(summary.timings, render_s=time.perf_counter() - t0))
    return 0


def _default_model_for(args: argparse.Namespace, options: dict) -> list[str]:
    """The model that loading flags given without --model apply to: the default model, as ask
    uses it, when the file lists no models: (a run being resumed keeps its own)."""
    from hanprompt import settings
    from hanprompt.errors import UsageError
    from hanprompt.experiments.spec import load_spec

    flags = ["--price-input/--price-output" if k == "prices" else f"--{k.replace('_', '-')}" for k in options]
    if args.resume is None and not load_spec(args.file, args.encoding).spec.models:
        return [settings.default_model()]
    verb = "applies" if len(flags) == 1 else "apply"
    if args.resume is not None:
        raise UsageError(f"{', '.join(flags)} {verb} to a --model, and the run being resumed keeps its own models; "
                         "pass --model too")
    raise UsageError(f"{', '.join(flags)} {verb} to a --model, and the file lists its own models; pass --model "
                     f"too, or set {', '.join(k + ':' for k in options)} under models: in the file")


def summary_line(s) -> str:
    """How the run's results were made: distinct generations run now, copies, cache hits."""
    line = f"run {s.run_id}: {s.generated + s.cached} results from {s.generated} generation{'s' * (s.generated != 1)} run now"
    if s.copies:
        line += f", {s.copies} greedy repeat{'s' * (s.copies != 1)} copied from them"
    if s.cached - s.copies:
        line += f", {s.cached - s.copies} served from the cache"
    if s.already_done:
        line += f", {s.already_done} already done"
    if s.judged or s.verdicts_kept:
        line += (f"; judge asked about {s.judged} answer{'s' * (s.judged != 1)} ({s.judged - s.verdicts_replaced} "
                 f"missing, {s.verdicts_replaced} replaced: unparsed or another judge's), "
                 f"{s.verdicts_kept} verdict{'s' * (s.verdicts_kept != 1)} kept")
    return line


def compare(args: argparse.Namespace) -> int:
    from hanprompt.errors import UsageError
    from hanprompt.experiments.compare import compare_run, compare_runs

    engine = _engine(args.db)
    if args.run_b is None:
        data = compare_run(engine, args.run_a, baseline=args.baseline)
        if args.json:
            data["results"] = [{k: r.get(k) for k in RESULT_KEYS} for r in data["results"]]
            common.print_json(data)
        else:
            render_side_by_side(data, common.stdout_console())
        return 0
    if args.baseline:
        raise UsageError("--baseline goes with one run; with two, run B is judged against run A")
    data = compare_runs(engine, args.run_a, args.run_b)
    if args.json:
        common.print_json(data)
    else:
        render_diff(data, common.stdout_console())
    return 0


def _short(model: str, width: int = 28) -> str:
    """A model spec's tail in a terminal column; the whole spec when stdout is piped."""
    if common.piped():
        return model
    return model if len(model) <= width else "…" + model[-(width - 1):]


def _rate(cell: dict | None, interval: bool = False) -> str:
    if not cell or cell["pass_rate"] is None:
        return "–"
    text = f"{cell['pass_rate']:.0%} ({cell['passed']}/{cell['checked']})"
    if interval:
        ci = cell["pass_rate_ci"]
        text += f" [{ci['low']:.0%}–{ci['high']:.0%}]"
    return text


def _score(cell: dict | None) -> str:
    if not cell or cell.get("mean_score") is None:
        return "–"
    ci = cell["mean_score_ci"]
    return f"{cell['mean_score']:.2f}" + (f" [{ci['low']:.2f}–{ci['high']:.2f}]" if ci else "")


def _change(value: float | None, interval: dict | None, pct: bool) -> str:
    if value is None:
        return "–"
    fmt = (lambda x: f"{x * 100:+.0f}") if pct else (lambda x: f"{x:+.2f}")  # noqa: E731
    unit = " pt" if pct else ""
    return fmt(value) + unit + (f" [{fmt(interval['low'])}, {fmt(interval['high'])}]" if interval else "")


def _speed(cell: dict | None, unit: bool = True) -> str:
    """Mean tok/s of the generations measured in the run; "cached" when it measured none."""
    if not cell:
        return "–"
    if not cell.get("measured"):
        return "cached"
    text = _num(cell["tokens_per_s"]) + (" tok/s" if unit else "")
    return text + (f" ({cell['measured']} of {cell['n']} measured)" if unit and cell["cached"] else "")


def _num(value: float | None, fmt: str = ".1f", sign: bool = False) -> str:
    return "–" if value is None else format(value, ("+" if sign else "") + fmt)


def render_side_by_side(data: dict, console) -> None:
    """Every cell (variant x vars as rows, models as columns, repeats grouped); then pass rates per variant x model."""
    from rich.table import Table
    from rich.text import Text

    cells = {(c["variant"], c["model"]): c for c in data["cells"]}
    table = Table(title=common.text(f"run {data['run']['id']}: {common.whole(data['run']['name'], 120)} "
                                    f"({data['run']['status']})"), show_lines=True, header_style="bold")
    rates = Table(title=Text("pass rate [95% interval] · mean score [95% interval]"), header_style="bold")
    with_vars = any(p["vars"] for p in data.get("prompts", []))
    for t in (table, rates):
        t.add_column("variant", style="bold")
        if t is table and with_vars:
            t.add_column("vars", overflow="fold")
        for m in data["models"]:
            t.add_column(common.text(_short(common.whole(m, 500))), overflow="fold")
    # every cell: one row per variant x vars, one column per model, repeats grouped
    rows: dict[tuple, dict] = {}
    for p in data.get("prompts", []):
        rows.setdefault((p["variant"], _vars_label(p["vars"])), {})[p["model"]] = p
    for (v, vars_label), by_model in rows.items():
        table.add_row(common.text(v), *([common.text(vars_label)] if with_vars else []),
                      *(_prompt_cell(by_model.get(m)) for m in data["models"]))
    for v in data["variants"]:
        rate_row = [common.text(v)]
        for m in data["models"]:
            c = cells.get((v, m))
            rate_row.append(Text(_rate(c, interval=True) + (f"\nscore {_score(c)}" if c and c["scored"] else "")))
        rates.add_row(*rate_row)
    common.print_table(console, table)
    run = data["run"]
    if "generated" in run:
        console.print(Text(f"{run['generated'] + run['cached']} results from {run['generated']} generations run "
                           f"in run {run['id']}; speeds are of those alone", style="dim"))
    common.print_table(console, rates)
    render_checks(data, console)
    if data.get("verdicts"):
        render_verdicts(data["verdicts"], console, several_models=len(data["models"]) > 1)


def _vars_label(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


def _prompt_cell(p: dict | None):
    """One cell: its answer (each distinct one when repeats differ), translations, and figures."""
    from rich.text import Text

    if p is None:
        return Text("–")
    width = 500 if common.piped() else 70
    parts: list = []
    for i, r in enumerate(p["responses"]):
        times = f"×{r['count']} " if len(p["responses"]) > 1 else ""
        parts += ["\n" if i else "", (times, "dim"), common.excerpt(r["response"], width)]
    for t in p["translations"]:
        parts += ["\n", (f"→ {common.visible(t['target_lang'], keep='')}: ", "dim"),
                  common.excerpt(t["translation"], width),
                  (f" ({_short(common.visible(t['translator'], keep=''), 24)} · Hangul {t['hangul_share']:.0%})", "dim")]
        if t.get("flag"):
            parts += [(f" flagged: {common.visible(t['flag'], keep='')}", "bold")]
    repeats = f" · {p['n']} repeats" if p["n"] > 1 else ""
    cost = f" · cost {p['cost']:.4g}" if p.get("cost") is not None else ""
    parts.append((f"\n{_num(p['output_tokens'], '.0f')} tok · {_speed(p)} · "
                  f"passed {p['passed']}/{p['checked']}{repeats}{cost}", "dim"))
    return Text.assemble(*parts)


def _check_label(check: dict) -> str:
    value = (check["spec"] or {}).get(check["name"])
    if value is None or value is True:
        return check["name"]
    return f"{check['name']}: {common.excerpt(str(value).removeprefix('file://'), 30)}"


def render_checks(data: dict, console) -> None:
    """Every check of every cell: how many passed, the mean score and a reason (a failing one first)."""
    from rich.table import Table

    several = len(data["models"]) > 1
    table = Table(title=common.text("checks (independent responses)"), header_style="bold")
    for col in ["variant"] + (["model"] if several else []) + ["check", "passed", "score", "reason"]:
        table.add_column(col, justify="right" if col in ("passed", "score") else "left",
                         overflow="fold" if col == "reason" else "ellipsis")
    for cell in data["cells"]:
        for c in cell.get("check_summary", []):
            passed = f"{c['passed']}/{c['judged']}" if c["judged"] else "not judged"
            table.add_row(*map(common.text, (
                cell["variant"], *([_short(cell["model"])] if several else []), _check_label(c), passed,
                _num(c["mean_score"], ".2f"), common.excerpt(c["reason"], 120))))
    if table.row_count:
        common.print_table(console, table)


def render_verdicts(verdicts: list[dict], console, several_models: bool) -> None:
    """Each variant (B) against the baseline (A): differences with 95% intervals, and the verdict."""
    from rich.table import Table

    table = Table(title=common.text(f"against {verdicts[0]['a']} (A): Δ B − A [95% interval]"), header_style="bold")
    for col in (["model"] if several_models else []) + ["B", "Δ pass rate", "Δ mean score", "verdict"]:
        table.add_column(col, justify="right" if col.startswith("Δ") else "left")
    for v in verdicts:
        cells = [_short(v["model"])] if several_models else []
        table.add_row(*map(common.text, (
            *cells, v["b"], _change(v["pass_rate_difference"], v["pass_rate_difference_ci"], True),
            _change(v["mean_score_difference"], v["mean_score_difference_ci"], False), v["verdict"])))
    common.print_table(console, table)


def render_diff(data: dict, console) -> None:
    """Per-variant pass rate, output tokens and tok/s in A and B, with B minus A."""
    from rich.table import Table
    from rich.text import Text

    for side in ("a", "b"):
        info = data[side]
        console.print(common.text(f"{side.upper()}: run {info['id']} · experiment {info['name']} · "
                                  f"models {', '.join(info['models'])} · {info['generated']} generated, "
                                  f"{info['cached']} reused"))
    for warning in data.get("warnings", []):
        console.print(common.text(f"warning: {warning}", style="yellow"))
    table = Table(title=Text(f"run {data['a']['id']} → run {data['b']['id']}"), header_style="bold")
    by_model = any(v["model"] for v in data["variants"])
    costs = any((v[side] or {}).get("cost") is not None for v in data["variants"] for side in ("a", "b"))
    for col in ["variant"] + (["model"] if by_model else []) + [
            "pass rate A → B", "Δ", "tokens A → B", "Δ", "tok/s A → B", "Δ"] + (["cost A → B", "Δ"] if costs else []):
        table.add_column(col, justify="left" if col in ("variant", "model") else "right")
    for v in data["variants"]:
        a, b, d = v["a"] or {}, v["b"] or {}, v["delta"]
        pct = d["pass_rate"] * 100 if d["pass_rate"] is not None else None
        cost = [f"{_num(a.get('cost'), '.4g')} → {_num(b.get('cost'), '.4g')}",
                _num(d.get("cost"), ".4g", sign=True)] if costs else []
        table.add_row(*map(common.text, (
            v["variant"], *([_short(v["model"])] if by_model else []),
            f"{_rate(v['a'])} → {_rate(v['b'])}", "–" if pct is None else f"{pct:+.0f} pt",
            f"{_num(a.get('output_tokens'), '.0f')} → {_num(b.get('output_tokens'), '.0f')}",
            _num(d["output_tokens"], ".0f", sign=True),
            f"{_speed(v['a'], unit=False)} → {_speed(v['b'], unit=False)}", _num(d["tokens_per_s"], sign=True),
            *cost,
        )))
    common.print_table(console, table)
    render_diff_verdicts(data, console, by_model)


def render_diff_verdicts(data: dict, console, by_model: bool) -> None:
    """Run B against run A per variant: pass rate and mean score with 95% intervals, and the verdict."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(f"is run {data['b']['id']} (B) better than run {data['a']['id']} (A)? "
                             "Δ B − A [95% interval]"), header_style="bold")
    for col in ["variant"] + (["model"] if by_model else []) + ["Δ pass rate", "score A → B", "Δ score", "verdict"]:
        table.add_column(col, justify="right" if col.startswith(("Δ", "score")) else "left")
    for v in data["variants"]:
        d, w = v["delta"], v["verdict"]
        table.add_row(*map(common.text, (
            v["variant"], *([_short(v["model"])] if by_model else []),
            _change(d["pass_rate"], w["pass_rate_difference_ci"], True),
            f"{_score(v['a'])} → {_score(v['b'])}", _change(d["mean_score"], w["mean_score_difference_ci"], False),
            w["verdict"],
        )))
    common.print_table(console, table)
