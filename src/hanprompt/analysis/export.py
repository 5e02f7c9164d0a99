"""Word counts as CSV: one row per ranked word, for the overall, naive and per-group results."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterator

from hanprompt.errors import arg
from hanprompt.outputs import writing
from hanprompt.textio import csv_cell

CSV_FIELDS = ["scope", "rank", "word", "tag", "count", "share"]


def csv_rows(result: dict) -> Iterator[dict]:
    """Rows for every list in the result: scope 'all', 'naive', or 'model=...' per group."""
    scopes = [("all", result)]
    if "naive" in result:
        scopes.append(("naive", result["naive"]))
    for key, group in (result.get("groups") or {}).items():
        scopes.append((f"{result['by']}={key}", group))
    for scope, part in scopes:
        for rank, row in enumerate(part["top"], start=1):
            yield {"scope": csv_cell(scope), "rank": rank, "word": csv_cell(row["word"]), "tag": row["tag"] or "",
                   "count": row["count"], "share": row["share"]}


def write_csv(result: dict, out: str | os.PathLike) -> Path:
    """Write the result's ranked words to ``out`` as UTF-8 CSV (with BOM, so Excel shows Hangul)."""
    with writing(out, arg("out", flag="csv"), encoding="utf-8-sig", newline="") as fh:  # 0600, never half a file
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_rows(result))
    return Path(out)
