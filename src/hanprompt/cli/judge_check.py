"""hanprompt judge-check: how often a judge tells the shipped right answers from the wrong ones."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common
from hanprompt.errors import for_cli


def register(sub) -> None:
    p = sub.add_parser(
        "judge-check", help="measure how often a judge passes the right answer and fails the wrong one",
        description="Grade pairs of a clearly right and a clearly wrong answer to one question under one rubric "
                    "(English and Korean; the shipped set, or --pairs FILE) with an llm-rubric judge, and print how "
                    "many pairs it separates and every verdict. Nothing is stored.")
    p.add_argument("--judge", required=True, metavar="SPEC", help="the judge's model spec (as run --judge takes)")
    p.add_argument("--pairs", metavar="FILE",
                   help="a YAML list of pairs with the keys id, question, rubric, right, wrong "
                        "(default: the shipped src/hanprompt/data/judge-pairs.yaml)")
    common.add_model_options(p)
    common.add_common(p, db=False)
    p.set_defaults(handler=run)


def _verdict(v: dict) -> str:
    if v["passed"] is None:
        return f"no verdict ({v['error']})"
    return f"{'pass' if v['passed'] else 'fail'} {v['score']:.1f}: {v['reason']}"


def run(args: argparse.Namespace) -> int:
    from hanprompt.backends import registry
    from hanprompt.experiments.calibrate import calibrate, load_pairs
    from hanprompt.experiments.judge import judge_warnings

    pairs = load_pairs(args.pairs)  # a bad file fails before the judge loads
    options = common.load_options(args)
    registry.parse_spec(args.judge)
    backend = registry.load(args.judge, **options)
    for warning in judge_warnings(backend):
        print(f"hanprompt: warning: {common.visible(for_cli(warning), keep='')}", file=sys.stderr)
    with common.progress_bars("answers") as progress:
        if progress is not None:  # a terminal: the bar shows while the judge works
            progress(0, 2 * len(pairs), f"judging with {args.judge}")
        result = calibrate(args.judge, pairs, options)
    if args.json:
        common.print_json(result)
        return 0
    from rich.table import Table

    table = Table(title=common.text(f"judge {common.whole(result['judge'], 120)}"), show_lines=True,
                  header_style="bold")
    for col in ("pair", "right answer", "wrong answer", "separated"):
        table.add_column(col, overflow="fold")
    for row in result["pairs"]:
        table.add_row(*map(common.text, (row["id"], _verdict(row["right"]), _verdict(row["wrong"]),
                                          "yes" if row["separated"] else "no")))
    common.print_table(common.stdout_console(), table)
    print(f"pairs separated: {result['separated']} / {result['total']} "
          f"(right passed and wrong failed; {result['valid']} of {2 * result['total']} verdicts valid)")
    return 0
