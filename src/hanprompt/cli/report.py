"""hanprompt report: runs from the log as one self-contained HTML file."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common


def register(sub) -> None:
    p = sub.add_parser(
        "report", help="write runs as one self-contained HTML file",
        description="Write one or more runs (default: the newest) as a single HTML file that works offline: "
                    "answers side by side with checks and translations, charts, word counts and benchmarks. "
                    "Several runs are also compared variant by variant.",
    )
    p.add_argument("run_ids", nargs="*", type=common.record_id, metavar="RUN_ID", help="runs to show (default: the newest)")
    p.add_argument("-o", "--output", default="report.html", metavar="FILE", help="where to write (default: report.html)")
    common.add_common(p, json_flag=False)
    p.set_defaults(handler=report)


def report(args: argparse.Namespace) -> int:
    from hanprompt import settings
    from hanprompt.report.build import check_output, write_report
    from hanprompt.store import open_engine

    check_output(args.output)  # before the database is opened: a bad path costs nothing
    written = write_report(open_engine(settings.db_url(args.db)), args.run_ids, args.output)
    runs = ", ".join(map(str, written.run_ids))
    path = common.visible(written.path, keep="")
    print(f"report of run{'s' if len(written.run_ids) > 1 else ''} {runs} written to {path} "
          f"({written.size / 1024:.0f} KiB)", file=sys.stderr)
    return 0
