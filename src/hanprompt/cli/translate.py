"""hanprompt translate: translate a text, a file or a run's responses; score against references."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common
from hanprompt.errors import for_cli


def register(sub) -> None:
    p = sub.add_parser(
        "translate", help="translate a text, a file or a run's responses, and measure the quality",
        description="Translate with MT models (mt:) or prompted chat models (llm:); with --references, "
                    "score each translator (chrF++, BLEU, Hangul share, speed). Everything is stored.")
    p.add_argument("text", nargs="?", help="the text to translate (or use --file / --run)")
    p.add_argument("-f", "--file", metavar="F", help="a text file, one segment per line ('-' reads stdin)")
    p.add_argument("--run", type=common.record_id, metavar="RUN_ID", help="translate every response of this run")
    p.add_argument("--to", default="ko", metavar="LANG", help="target language (default: ko)")
    p.add_argument("--from", dest="source", default="en", metavar="LANG", help="source language (default: en)")
    p.add_argument("-t", "--translator", action="append", metavar="SPEC",
                   help="mt:<hub id or path>, llm:<model spec> or ct2:<converted folder>; repeat to compare "
                        "(default: mt:Helsinki-NLP/opus-mt-tc-big-en-ko)")
    p.add_argument("--force", action="store_true",
                   help="with --run: replace the translators' translations of the run instead of completing them")
    p.add_argument("--references", metavar="REF", help="reference translations, one line per source line")
    p.add_argument("--encoding", metavar="ENC",
                   help="encoding of --file and --references without a byte-order mark (default UTF-8; e.g. cp949)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], help="where the models run (default: the best)")
    p.add_argument("--batch-size", type=int, metavar="N", help="sentences per batch (default: 16)")
    p.add_argument("--show", type=int, default=10, metavar="N",
                   help="with --references: segments shown side by side, per translator (default 10; 0 for none; "
                        "--json holds all of them)")
    common.add_common(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from hanprompt import settings
    from hanprompt.errors import InputError, UsageError
    from hanprompt.store import open_engine
    from hanprompt.translate import service
    from hanprompt.translate.base import DEFAULT_TRANSLATOR

    if sum(x is not None for x in (args.text, args.file, args.run)) != 1:
        raise UsageError("give exactly one of TEXT, --file F or --run RUN_ID")
    if args.force and args.run is None:
        raise UsageError("--force replaces the translations of a run: use it with --run RUN_ID")
    if args.references and args.run is not None:
        raise UsageError("--references scores --file or TEXT translations, not --run; drop one of them")
    if args.batch_size is not None and args.batch_size < 1:
        raise UsageError(f"--batch-size must be 1 or more, not {args.batch_size}")
    if args.text is not None and not args.text.strip():
        raise InputError("the text to translate is empty; give a text, --file F or --run RUN_ID")
    options = {k: v for k, v in (("device", args.device), ("batch_size", args.batch_size)) if v}
    kw = dict(translators=args.translator or [DEFAULT_TRANSLATOR], source_lang=args.source,
              target_lang=args.to, options=options)
    service.languages(args.source, args.to)  # a bad code fails before the database is touched
    if args.show < 0:
        raise UsageError(f"--show must be 0 or more, not {args.show}")
    engine = open_engine(settings.db_url(args.db))

    def on_warning(text: str) -> None:  # a translator's model without a chat template, as ask warns
        print(f"hanprompt: warning: {common.visible(for_cli(text), keep='')}", file=sys.stderr)

    kw["on_warning"] = on_warning

    if args.run is not None:
        with common.progress_bars("segments", per_label=True) as progress:
            result = service.translate_run(engine, args.run, force=args.force, progress=progress, **kw)
        for spec, n in result["complete"].items():
            print(f"hanprompt: run {args.run} already has all {n} translations by {spec} "
                  f"({args.source}→{args.to}); nothing stored (--force redoes them)", file=sys.stderr)
        return _print_rows(args, result["translations"], args.run)
    texts = service.read_lines(args.file, "--file", args.encoding) if args.file else [args.text]
    refs = service.read_lines(args.references, "--references", args.encoding) if args.references else None
    name = f"translate {args.file}" if args.file else args.text.strip().splitlines()[0][:80]
    spec = {"file": args.file, "references": args.references}
    with common.progress_bars("segments", per_label=True) as progress:
        result = service.translate_job(texts, references=refs, engine=engine, name=name, spec=spec,
                                       progress=progress, **kw)
    if refs is None:
        return _print_rows(args, result["translations"], result["run_id"])
    if args.json:
        segments = {}
        for r in result["translations"]:
            segments.setdefault(r["translator"], []).append(
                {k: r[k] for k in ("source", "translation", "reference", "chrf", "seconds")})
        common.print_json([dict(s, run_id=result["run_id"], by_segment=segments[s["translator"]])
                           for s in result["scores"]])
    else:
        print(comparison_table(result["scores"]))
        for key, label in (("chrf_signature", "chrF++"), ("bleu_signature", "BLEU")):
            for sig in dict.fromkeys(s[key] for s in result["scores"]):
                print(f"{label} signature: {sig}")
        if args.show:
            sys.stdout.flush()
            render_side_by_side(result["translations"], args.show, common.stdout_console())
        print(f"stored as run {result['run_id']}", file=sys.stderr)
    return 0


def comparison_table(scores: list[dict]) -> str:
    """One row per translator, chrF++ first; plain text, so long model paths are never cut. The scores
    are over all segments; ``flagged`` counts those not taken for translations (``translate.flags``)."""
    header = f"{'chrF++':>7} {'BLEU':>6} {'Hangul':>7} {'segments/s':>11} {'segments':>9} {'flagged':>8}  translator"
    rows = [
        f"{s['chrf']:>7.1f} {s['bleu']:>6.1f} {s['hangul_share']:>7.0%} {s['segments_per_s'] or 0:>11.2f} "
        f"{s['segments']:>9} {s.get('flagged') or 0:>8}  {common.visible(s['translator'], keep='')}"
        for s in scores
    ]
    return "\n".join([header, *rows])


def render_side_by_side(rows: list[dict], show: int, console) -> None:
    """The first ``show`` segments of each translator: source, hypothesis, reference and chrF++."""
    from rich.table import Table

    translators = list(dict.fromkeys(r["translator"] for r in rows))
    for spec in translators:
        mine = [r for r in rows if r["translator"] == spec]
        table = Table(title=common.text(f"{common.whole(spec, 120)}: {min(show, len(mine))} of {len(mine)} segments"),
                      show_lines=True, header_style="bold")
        table.add_column("#", justify="right")
        for col in ("source", "translation", "reference"):
            table.add_column(col, overflow="fold", ratio=1)
        table.add_column("chrF++", justify="right")
        table.add_column("Hangul", justify="right")
        for i, r in enumerate(mine[:show], 1):
            flagged = f"\nflagged: {r['flag']}" if r.get("flag") else ""
            table.add_row(common.text(str(i)), common.text(r["source"]), common.text(r["translation"] + flagged),
                          common.text(r["reference"]), common.text(f"{r['chrf']:.1f}"),
                          common.text(f"{r['hangul_share']:.0%}"))
        console.print(table)


def _label(r: dict) -> str:
    """Where a translated response comes from: generation id, variant, vars, repeat and model."""
    parts = [f"generation {r['generation_id']}"]
    if r.get("variant"):
        parts.append(f"variant {r['variant']}")
    if r.get("vars"):
        parts.append(", ".join(f"{k}={v}" for k, v in r["vars"].items()))
    if r.get("repeat_index"):
        parts.append(f"repeat {r['repeat_index'] + 1}")
    if r.get("model"):
        parts.append(common.whole(r["model"], 60))
    return " · ".join(parts)


def _figures(r: dict) -> str:
    """A translation's Hangul share, and its flag when it is not taken for a translation."""
    from hanprompt.hangul import hangul_share

    share = r["hangul_share"] if r.get("hangul_share") is not None else hangul_share(r["translation"])
    return f"Hangul {share:.0%}" + (f" · flagged: {r['flag']}" if r.get("flag") else "")


def _print_rows(args: argparse.Namespace, rows: list[dict], run_id: int) -> int:
    """Each translation under a ``--`` line naming it (a run's generation, or the line of a file) with its
    Hangul share and flag; one text's translation alone, its figures on stderr; then a summary line."""
    if args.json:
        common.print_json([dict(r, run_id=run_id) for r in rows])
        return 0
    if not rows:
        return 0
    translators = list(dict.fromkeys(r["translator"] for r in rows))
    alone = len(rows) == len(translators) and rows[0].get("generation_id") is None  # one text
    for spec in translators:
        if len(translators) > 1:
            print(f"== {common.visible(spec, keep='')}")
        mine = [r for r in rows if r["translator"] == spec]
        for i, r in enumerate(mine, 1):
            if r.get("generation_id") is not None:  # a run's response: say which one
                print(f"-- {common.visible(_label(r), keep='')} · {common.visible(_figures(r), keep='')}")
            elif not alone:
                print(f"-- line {i} · {common.visible(_figures(r), keep='')}")
            print(common.visible(r["translation"]))
            if alone:
                print(f"hanprompt: {common.visible(_figures(r), keep='')}", file=sys.stderr)
    seconds = sum(r["seconds"] for r in rows)
    flagged = sum(r.get("flag") is not None for r in rows)
    apart = f" ({flagged} flagged, counted apart: not taken for translations)" if flagged else ""
    print(f"{len(rows)} translation{'s' * (len(rows) != 1)}{apart} in {seconds:.2f} s · stored in run {run_id}",
          file=sys.stderr)
    return 0
