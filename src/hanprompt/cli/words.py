"""hanprompt words: what Korean texts talk about, counted by morpheme (Kiwi), not by space."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common
from hanprompt.errors import for_cli


def register(sub) -> None:
    p = sub.add_parser(
        "words", help="top Korean words in files or stored answers (Kiwi morphology)",
        description="Count Korean words with particles and endings split off (한국의, 한국에서 -> 한국). "
                    "Reads FILEs ('-' for stdin), or stored texts with --run, --experiment or --all.",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help="UTF-8 text files ('-' reads stdin)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--run", type=common.record_id, metavar="RUN_ID", help="the responses of one stored run")
    src.add_argument("--experiment", metavar="NAME", help="the latest run of a stored experiment")
    src.add_argument("--all", action="store_true", help="every stored response")
    p.add_argument("--field", choices=["response", "translation"], default="response",
                   help="stored text to count (default: response)")
    p.add_argument("--pos", choices=["nouns", "nouns+verbs", "all"], default="nouns",
                   help="nouns (NNG, NNP); nouns+verbs adds verbs and adjectives (as 먹다); "
                        "all: every content word")
    p.add_argument("--foreign", action="store_true", help="also count words in Latin script (SL)")
    p.add_argument("--roots", action="store_true", help="also count roots (XR), e.g. 깨끗 of 깨끗하다")
    p.add_argument("--top", type=int, default=20, metavar="N", help="how many words to show (default 20)")
    p.add_argument("--stopwords", metavar="FILE", help="your stopwords, one per line (added to the shipped list)")
    p.add_argument("--no-default-stopwords", action="store_true", help="do not use the shipped stopword list")
    p.add_argument("--user-dict", metavar="FILE", help="Kiwi user dictionary: form<TAB>tag<TAB>score per line")
    p.add_argument("--min-length", type=int, default=1, metavar="N", help="shortest word counted, in characters")
    p.add_argument("--encoding", metavar="ENC", help="encoding of FILEs without a byte-order mark (default UTF-8; e.g. cp949)")
    p.add_argument("--chart", metavar="OUT.png", help="draw a bar chart of the top words")
    p.add_argument("--cloud", metavar="OUT.png", help="draw a word cloud (needs hanprompt[cloud])")
    p.add_argument("--by", choices=["model", "variant"], help="with stored texts: one result and chart per group")
    p.add_argument("--csv", metavar="OUT.csv", help="write the counts as CSV")
    p.add_argument("--compare-naive", action="store_true", help="show the whitespace-split top words beside")
    common.add_common(p)
    p.set_defaults(handler=words)


def words(args: argparse.Namespace) -> int:
    from hanprompt.analysis import inputs, service
    from hanprompt.errors import UsageError

    stored = args.run is not None or args.experiment is not None or args.all
    if stored and args.files:
        raise UsageError("pass either FILEs or one of --run, --experiment, --all, not both")
    if not stored and not args.files:
        raise UsageError("nothing to count: pass FILEs ('-' for stdin) or one of --run, --experiment, --all")
    if args.field != "response" and not stored:
        raise UsageError("--field translation reads stored texts; pass --run, --experiment or --all")
    for out, flag in ((args.chart, "--chart"), (args.cloud, "--cloud"), (args.csv, "--csv")):
        inputs.check_writable(out, flag)
    options = service.WordOptions(
        pos=args.pos, top=args.top, min_length=args.min_length, stopwords=args.stopwords,
        default_stopwords=not args.no_default_stopwords, user_dict=args.user_dict, foreign=args.foreign,
        roots=args.roots, naive=args.compare_naive, by=args.by,
    )
    if stored:
        with common.progress_bars("documents") as progress:
            report = service.analyse_store(options, db=args.db, run_id=args.run, experiment=args.experiment,
                                           field=args.field, progress=progress)
    else:
        report = service.analyse_files(args.files, options, encoding=args.encoding)
    written = _write_outputs(report.result, chart=args.chart, cloud=args.cloud, csv_path=args.csv)
    if args.json:
        common.print_json(report.as_dict())
    else:
        _print_tables(report.result)
    for line in _notes(report, written):
        print(common.visible(line, keep=""), file=sys.stderr)
    return 0


def _write_outputs(result: dict, *, chart: str | None, cloud: str | None, csv_path: str | None) -> list[str]:
    from hanprompt.analysis import charts, export

    written = []
    if csv_path:
        written.append(f"counts written to {export.write_csv(result, csv_path)}")
    if chart or cloud:
        if not result["top"]:
            return written + ["no chart drawn: no words were counted"]
        if chart:
            written.append(f"chart written to {charts.draw_chart(result, chart)}")
        if cloud:
            written.append(f"word cloud written to {charts.word_cloud(result, cloud)}")
    return written


def _n(count: int, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _notes(report, written: list[str]) -> list[str]:
    lines = [for_cli(report.note)] if report.note else []
    if report.reused:
        lines.append(f"reused stored analysis {report.analysis_id} (run {report.run_id}); nothing was recounted")
    elif report.analysis_id is not None:
        lines.append(f"stored as analysis {report.analysis_id} (run {report.run_id})")
    return lines + written


def _print_tables(result: dict) -> None:
    from rich.table import Table
    from rich.text import Text

    console = common.stdout_console()
    sides = [("words", result)] + ([("naive (split on spaces)", result["naive"])] if "naive" in result else [])
    table = Table(box=None, header_style="bold",
                  title=common.text(f"{_n(result['documents'], 'document')} · {_n(result['total_tokens'], 'word')} counted · "
                                    f"{result['analyzer']}"))
    table.add_column("#", justify="right")
    for label, _ in sides:
        table.add_column(label)
        table.add_column("count", justify="right")
        table.add_column("share", justify="right")
    for rank in range(max(len(part["top"]) for _, part in sides)):
        cells = [str(rank + 1)]
        for _, part in sides:
            row = part["top"][rank] if rank < len(part["top"]) else None
            cells += [_word(row), str(row["count"]), f"{row['share']:.1%}"] if row else [Text(), Text(), Text()]
        table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))
    common.print_table(console, table)
    for key, group in (result.get("groups") or {}).items():
        console.print(Text.assemble("\n", (common.visible(f"{result['by']}: {key}", keep=""), "bold"),
                                    f" ({_n(group['documents'], 'document')})"))
        words = [Text.assemble(_word(r), f" {r['count']}") for r in group["top"]]
        console.print(Text(", ").join(words) if words else Text("(no words)"))


def _word(row: dict):
    from rich.text import Text

    word = common.visible(row["word"], keep="")
    return Text.assemble(word, " ", (common.visible(row["tag"], keep=""), "dim")) if row.get("tag") else Text(word)
