"""`hanprompt report`: runs from the log as one self-contained HTML file.

Everything the page needs is inside it: CSS and JavaScript inline (allowed by hash in its
Content-Security-Policy), charts as ``data:`` SVG images, and the Hangul it shows as a subset
of NanumGothic. Nothing is fetched from elsewhere, so the file works offline and can be mailed.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from hanprompt import outputs
from hanprompt.errors import arg
from hanprompt.report import charts, data, render, shape
from hanprompt.report import optimize as optimize_view

#: kinds of run whose answers can be word-counted
TEXT_KINDS = ("ask", "experiment")


def section(bundle: data.RunBundle, *, draw: bool = True) -> dict:
    """What one run's part of a page shows, charts drawn (``draw=False`` skips them)."""
    results = bundle.results
    for r in results:
        r["translations"] = [shape.translation_line(t) for t in r.get("translations") or []]
    grid = shape.grid(results)
    run = bundle.run
    out = {
        "meta": shape.run_meta(run, results), "grid": grid, "charts": [], "analyses": bundle.analyses,
        "word_charts": [], "analysis": bundle.analysis, "own_word_charts": [],
        "kind_has_texts": run["kind"] in TEXT_KINDS and bool(results),
        "scores": bundle.scores, "segments": bundle.segments, "bench": [], "bench_charts": [],
        "bench_korean": [],
        "optimize": optimize_view.view(run),
    }
    translators = list(dict.fromkeys(t["translator"] for t in bundle.segments))
    rows: dict[str, dict] = {}
    for t in bundle.segments:
        rows.setdefault(t["source"], {"source": t["source"], "by": {}})["by"].setdefault(t["translator"], t["translation"])
    out["segment_translators"], out["segment_rows"] = translators, list(rows.values())
    out["bench"] = shape.bench_rows(bundle.bench)
    out["bench_korean"] = shape.bench_korean(bundle.bench)
    if draw:
        out["charts"] = [c for c in (
            charts.tokens_per_s(shape.model_speeds(results)), charts.response_length(results),
            charts.pass_rate(grid["variants"], grid["models"], grid["stats"]),
        ) if c is not None]
        out["word_charts"] = [c for c in (charts.words(a) for a in bundle.analyses) if c is not None]
        if bundle.analysis:
            out["own_word_charts"] = [c for c in [charts.words(bundle.analysis)] if c is not None]
        out["bench_charts"] = charts.bench(out["bench"])
    return out


def build_report(engine: Engine, run_ids: list[int] | None = None, *, now: dt.datetime | None = None) -> str:
    """The report's HTML for the given runs (none: the newest run).

    Raises NotFoundError for an unknown run id or an empty log.
    """
    ids = data.resolve_run_ids(engine, run_ids)
    bundles = [data.load_run(engine, i) for i in ids]
    sections = [section(b) for b in bundles]
    answered = shape.comparable(bundles)
    comparison = shape.compare(
        [b.run for b in answered], [shape.by_variant(b.results) for b in answered],
        [sorted({r["model"] for r in b.results}) for b in answered],
    ) if len(answered) > 1 else None
    face = render.embedded_font_face(render.hangul_in([sections, comparison]))
    return render.render_page(
        "report.html", font_face_css=face, sections=sections, comparison=comparison,
        made_at=(now or dt.datetime.now(dt.timezone.utc)).isoformat(),
    )


#: the output path's argument: ``out`` to a library caller, ``--output`` on the command line
OUT = arg("out", flag="output")


def check_output(out: str | os.PathLike) -> Path:
    """The output path, or InputError naming the fix when it is a folder or its folder is missing."""
    return outputs.check_output(out, OUT, example="report.html")


def write_atomically(path: Path, text: str) -> Path:
    """Write ``text`` to a 0600 temporary file beside ``path``, then rename it: never half a file."""
    with outputs.writing(path, OUT, newline="\n") as f:
        f.write(text)
    return path


@dataclass(frozen=True)
class Written:
    """Where a report went and what it holds."""

    path: Path
    run_ids: list[int]
    size: int


def write_report(engine: Engine, run_ids: list[int] | None, out: str | os.PathLike) -> Written:
    """Check the output path, build the report and write it in one step; nothing is written on error."""
    path = check_output(out)
    ids = data.resolve_run_ids(engine, run_ids)
    html = build_report(engine, ids)
    write_atomically(path, html)
    return Written(path, ids, len(html.encode("utf-8")))
