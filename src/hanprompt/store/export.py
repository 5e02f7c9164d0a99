"""Writing logged generations out as CSV or JSON lines, streamed row by row."""
from __future__ import annotations

import csv
import json
from typing import TextIO

from sqlalchemy import Engine

from hanprompt.store.runs import GENERATION_FIELDS, iter_generations
from hanprompt.textio import csv_cell


def write_export(engine: Engine, out: TextIO, fmt: str, **filters) -> int:
    """Write every generation matching ``filters`` to ``out``; return how many.

    CSV opens right in a spreadsheet: it starts with a UTF-8 byte-order mark (Excel otherwise
    reads Hangul as the legacy code page), and text that would start a formula is prefixed with
    ``'`` (see textio.csv_cell). JSON lines hold every value exactly as stored.
    """
    n = 0
    if fmt == "csv":
        out.write("\ufeff")
        writer = csv.DictWriter(out, fieldnames=GENERATION_FIELDS)
        writer.writeheader()
    for row in iter_generations(engine, **filters):
        if fmt == "csv":
            writer.writerow({k: csv_cell(json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v)
                             for k, v in row.items()})
        else:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
