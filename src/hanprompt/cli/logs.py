"""hanprompt logs / runs: read, export and delete what was logged."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common


def register(sub) -> None:
    p = sub.add_parser("logs", help="list, show, export or delete logged generations",
                       description="Logged generations, newest first.")
    p.add_argument("-n", "--limit", type=int, default=20, metavar="N", help="how many (default 20; 0 for all)")
    p.add_argument("-q", "--search", metavar="TEXT", help="only prompts or responses containing TEXT")
    p.add_argument("-m", "--model", metavar="M", help="only models whose spec contains M")
    p.add_argument("--run", type=common.record_id, metavar="RUN_ID", help="only this run's generations")
    common.add_common(p)
    p.set_defaults(handler=list_logs)
    lsub = p.add_subparsers(dest="logs_command", metavar="SUBCOMMAND", parser_class=type(p))

    show = lsub.add_parser("show", help="one generation in full")
    show.add_argument("id", type=common.record_id)
    common.add_common(show)
    show.set_defaults(handler=show_log)

    export = lsub.add_parser("export", help="every matching generation as CSV or JSON lines")
    export.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    export.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    export.add_argument("-q", "--search", metavar="TEXT")
    export.add_argument("-m", "--model", metavar="M")
    export.add_argument("--run", type=common.record_id, metavar="RUN_ID")
    common.add_common(export, json_flag=False)
    export.set_defaults(handler=export_logs)

    rm = lsub.add_parser("rm", help="delete generations by id")
    rm.add_argument("ids", type=common.record_id, nargs="+", metavar="ID")
    common.add_common(rm, json_flag=False)
    rm.set_defaults(handler=remove_logs)

    r = sub.add_parser("runs", help="list runs (asks, experiments, translations, analyses)",
                       description="Runs, newest first, with how many generations each holds.")
    r.add_argument("-n", "--limit", type=int, default=20, metavar="N", help="how many (default 20; 0 for all)")
    r.add_argument("--kind", choices=["ask", "experiment", "optimize", "translate", "words", "bench"], help="only runs of this kind")
    common.add_common(r)
    r.set_defaults(handler=list_runs)


def _engine(args, run: int | None = None):
    """The log's engine; with ``run``, that run must exist (NotFoundError, exit 2, otherwise)."""
    from hanprompt import settings
    from hanprompt.store import open_engine

    engine = open_engine(settings.db_url(args.db))
    if run is not None:
        from hanprompt.store.runs import get_run

        get_run(engine, run)
    return engine


def _check_limit(limit: int) -> None:
    if limit < 0:
        from hanprompt.errors import UsageError

        raise UsageError(f"--limit must be 0 (all) or more, not {limit}")


def list_logs(args: argparse.Namespace) -> int:
    from hanprompt.store.runs import list_generations

    _check_limit(args.limit)
    rows = list_generations(
        _engine(args, run=args.run), limit=args.limit or None, search=args.search, model=args.model, run_id=args.run
    )
    if args.json:
        common.print_json(rows)
        return 0
    if not rows:
        print("no generations logged yet; try: hanprompt ask \"What is the capital of England?\" "
              "(the embedded smollm2 model, offline)", file=sys.stderr)
        return 0
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("id", "run", "model", "prompt", "response", "out", "tok/s", "when"):
        table.add_column(col, overflow="fold")
    for r in rows:
        prompt = (r["messages"] or [{}])[-1].get("content") if r.get("messages") else r.get("prompt")
        cells = (
            r["id"], r["run_id"], common.whole(r["model"], 30), common.excerpt(prompt, 40),
            common.excerpt(r["response"], 50), r["output_tokens"] or 0,
            "cached" if r.get("cached") else f"{r['tokens_per_s'] or 0:.1f}",  # speeds only where measured
            (r["created_at"] or "")[:19],
        )
        table.add_row(*map(common.text, cells))
    common.print_table(common.stdout_console(), table)
    return 0


def _where(row: dict) -> str:
    """Where a generation ran: its device and dtype (``cpu F32``), or the server that answered it
    (``server http://host:8000/v1``); empty parts are left out."""
    placement = row.get("placement") if isinstance(row.get("placement"), dict) else {}
    if row.get("device") == "server" and placement.get("server"):
        return f"server {placement['server']}"
    return " ".join(str(part) for part in (row.get("device"), row.get("dtype")) if part)


def show_log(args: argparse.Namespace) -> int:
    from hanprompt.store.runs import get_generation

    row = get_generation(_engine(args), args.id)
    if args.json:
        common.print_json(row)
        return 0
    v = common.visible
    lines = [
        f"generation {row['id']} (run {row['run_id']}) · {row['created_at']}",
        f"model: {v(row['model'])}" + "".join(f" · {v(part)}" for part in [_where(row)] if part),
        f"params: {v(row['params'])}",
    ]
    for m in row.get("messages") or []:
        lines += [f"--- {v(m.get('role'))}", v(m.get("content"))]
    n_in = "?" if row["input_tokens"] is None else row["input_tokens"]
    counted = f" (counts: {v(row['usage_source'])})" if row.get("usage_source") else ""
    cost = f" · cost {row['cost']:.4g}" if row.get("cost") is not None else ""
    lines += [
        f"--- response ({row['output_tokens']} tokens, {v(row['finish_reason'])})", v(row["response"]),
        f"--- {n_in} in{counted} · TTFT {row['ttft_s'] or 0:.3f} s · {row['tokens_per_s'] or 0:.1f} tok/s"
        f" · {row['total_s'] or 0:.3f} s · load {row['load_s'] or 0:.2f} s{cost}",
    ]
    timings = row.get("timings") or {}
    if timings and not row.get("cached"):  # where the seconds went: queue, retries, prefill/TTFT, decode
        lines.append("--- timings: " + " · ".join(f"{v(k.removesuffix('_s'))} {t:.3f} s" for k, t in timings.items()
                                                   if isinstance(t, (int, float))))
    if row.get("cached"):  # the timings above were measured once, by the generation it reuses
        origin = f"generation {row['cached_from_id']}" if row.get("cached_from_id") else "an earlier generation"
        lines[-1] = (f"--- {n_in} in{counted} · served from the cache: not measured now; "
                     f"{origin} measured it{cost}")
    lines += [f"check {v(c['name'])}: {'pass' if c['passed'] else 'FAIL'} {v(c['reason'] or '')}" for c in row["checks"]]
    for t in row.get("translations") or []:
        lines += [f"--- translation {t['source_lang']} -> {t['target_lang']} by {v(t['translator'], keep='')} "
                  f"(run {t['run_id']}) · Hangul {t['hangul_share']:.0%} · {t['seconds'] or 0:.2f} s"
                  + (f" · flagged: {v(t['flag'])}" if t.get("flag") else ""),
                  v(t["translation"])]
    if row.get("error"):
        lines.append(f"error: {v(row['error'])}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def export_logs(args: argparse.Namespace) -> int:
    from hanprompt.outputs import check_output, writing
    from hanprompt.store.export import write_export

    if args.output:
        check_output(args.output, "-o")  # before the database is opened: a bad path costs nothing
    engine = _engine(args, run=args.run)
    filters = dict(search=args.search, model=args.model, run_id=args.run)
    if not args.output:
        write_export(engine, sys.stdout, args.format, **filters)
        return 0
    with writing(args.output, "-o", newline="") as fh:  # 0600, and never half a file
        n = write_export(engine, fh, args.format, **filters)
    print(f"exported {n} generations to {common.visible(args.output, keep='')}", file=sys.stderr)
    return 0


def remove_logs(args: argparse.Namespace) -> int:
    from hanprompt.store.runs import delete_generations

    ids = delete_generations(_engine(args), args.ids)
    print(f"deleted {len(ids)} generation{'s' if len(ids) != 1 else ''}: {' '.join(map(str, ids))}", file=sys.stderr)
    return 0


def list_runs(args: argparse.Namespace) -> int:
    from hanprompt.store.runs import list_runs as query

    _check_limit(args.limit)
    rows = query(_engine(args), limit=args.limit or None, kind=args.kind)
    if args.json:
        common.print_json(rows)
        return 0
    if not rows:
        print("no runs yet", file=sys.stderr)
        return 0
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("id", "kind", "status", "name", "generations", "translations", "created"):
        table.add_column(col)
    for r in rows:
        cells = (r["id"], r["kind"], r["status"], common.whole(r["name"], 50), r["generations"],
                 r["translations"], (r["created_at"] or "")[:19])
        table.add_row(*map(common.text, cells))
    common.print_table(common.stdout_console(), table)
    return 0
