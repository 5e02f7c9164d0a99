"""Charts for the report and the viewer, as SVG with every letter drawn as a path.

matplotlib draws with the bundled NanumGothic (``analysis.fonts``) and writes SVG with
``svg.fonttype = "path"``, so Hangul looks the same on a machine without any Korean font.
Each chart becomes a ``data:`` URI for an ``<img>``: an image cannot run script, and the page's
Content-Security-Policy only has to allow ``img-src data:``.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass


_COLORS = ["#3b6ea8", "#d9822b", "#3f9a5a", "#b8434f", "#7e5ba6", "#8c6d46", "#c15fa3", "#6f7378"]


def _horizontal() -> dict:
    import matplotlib

    # matplotlib 3.10 renamed boxplot's vert=False to orientation="horizontal" and deprecates vert.
    return {"orientation": "horizontal"} if matplotlib.__version_info__ >= (3, 10) else {"vert": False}


@dataclass(frozen=True)
class Chart:
    """One drawn chart: a title, an ``<img>`` source and the text alternative."""

    title: str
    uri: str
    alt: str


def _short(text: str | None, width: int = 32) -> str:
    text = "(none)" if text is None else str(text)
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _render(fig, title: str, alt: str) -> Chart:
    buf = io.BytesIO()
    # No date and a fixed salt for element ids: the same data gives the same bytes.
    fig.savefig(buf, format="svg", metadata={"Date": None})
    return Chart(title, "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), alt)


def _context():
    import matplotlib

    from hanprompt.analysis.fonts import korean_rc

    return matplotlib.rc_context(dict(korean_rc(), **{"svg.fonttype": "path", "svg.hashsalt": "hanprompt"}))


def _tidy(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _barh(ax, labels: list[str], values: list[float], fmt: str, color: str = _COLORS[0]) -> None:
    bars = ax.barh(range(len(labels)), values, color=color)
    ax.set_yticks(range(len(labels)), labels=[_short(x) for x in labels])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[format(v, fmt) for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, max(values, default=1) * 1.2 or 1)
    _tidy(ax)


def tokens_per_s(speeds: dict[str, float]) -> Chart | None:
    """Mean decode tokens/s per model (``shape.model_speeds``: measured answers only)."""
    if not speeds:
        return None
    labels, means = list(speeds), list(speeds.values())
    with _context():
        fig = _figure(7, 0.9 + 0.45 * len(labels))
        ax = fig.add_subplot()
        _barh(ax, labels, means, ".1f")
        ax.set_xlabel("decode tokens/s (mean of measured answers)")
        alt = "; ".join(f"{m}: {v:.1f} tokens/s" for m, v in zip(labels, means))
        return _render(fig, "Tokens/s per model", alt)


def response_length(results: list[dict]) -> Chart | None:
    """Response length in characters per variant, one box per model (as ChainForge plots it)."""
    rows = [r for r in results if r.get("response") is not None and not r.get("error")]
    if not rows:
        return None
    variants = list(dict.fromkeys(r.get("variant") for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    width = 0.8 / len(models)
    with _context():
        fig = _figure(7.5, 1.2 + 0.5 * len(variants) * max(1, len(models) / 2))
        ax = fig.add_subplot()
        handles = []
        for j, model in enumerate(models):
            data, positions = [], []
            for i, v in enumerate(variants):
                lengths = [len(r["response"]) for r in rows if r.get("variant") == v and r["model"] == model]
                if lengths:
                    data.append(lengths)
                    positions.append(i - 0.4 + width * (j + 0.5))
            color = _COLORS[j % len(_COLORS)]
            box = ax.boxplot(data, positions=positions, widths=width * 0.85, **_horizontal(),
                             patch_artist=True, manage_ticks=False,
                             medianprops={"color": "black"}, flierprops={"markersize": 3})
            for patch in box["boxes"]:
                patch.set_facecolor(color)
                patch.set_alpha(0.75)
            handles.append((box["boxes"][0], _short(model, 40)))
        ax.set_yticks(range(len(variants)), labels=[_short(v) for v in variants])
        ax.invert_yaxis()
        ax.set_xlabel("response length (characters)")
        if len(models) > 1:
            ax.legend([h for h, _ in handles], [t for _, t in handles], fontsize=8, loc="best")
        _tidy(ax)
        return _render(fig, "Response length per variant", f"response lengths of {len(variants)} variants "
                       f"for {len(models)} model(s), in characters")


def pass_rate(variants: list, models: list[str], stats: dict) -> Chart | None:
    """A heat map of the pass rate (answers passing every check) per variant x model.

    ``stats`` maps (variant, model) to ``shape.stats`` (``passed``, ``checked``, ``pass_rate``).
    """
    if not any(s["checked"] for s in stats.values()):
        return None
    import numpy as np

    values = np.full((len(variants), len(models)), np.nan)
    labels = [["–"] * len(models) for _ in variants]
    for i, v in enumerate(variants):
        for j, m in enumerate(models):
            s = stats.get((v, m))
            if s and s["checked"]:
                values[i, j] = s["pass_rate"]
                labels[i][j] = f"{s['pass_rate']:.0%}\n{s['passed']}/{s['checked']}"
    with _context():
        fig = _figure(2.2 + 1.8 * len(models), 1.0 + 0.5 * len(variants))
        ax = fig.add_subplot()
        # A wider range than 0..1 keeps the colours light enough for the figures written on them.
        ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=-0.5, vmax=1.5, aspect="auto")
        ax.set_xticks(range(len(models)), labels=[_short(m, 24) for m in models], rotation=15, ha="right")
        ax.set_yticks(range(len(variants)), labels=[_short(v) for v in variants])
        for i in range(len(variants)):
            for j in range(len(models)):
                ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=9)
        ax.set_title("answers passing every check", fontsize=9)
        alt = "; ".join(f"{v} × {m}: {stats[(v, m)]['pass_rate']:.0%}" for (v, m) in stats
                        if stats[(v, m)]["checked"])
        return _render(fig, "Pass rate per variant × model", alt)


def words(analysis: dict) -> Chart | None:
    """Top words of a stored word analysis: one panel, or one per model or variant."""
    result = analysis["result"]
    groups = result.get("groups") or {}
    panels = [(f"{result.get('by')}: {k}", g) for k, g in groups.items() if g.get("top")] or (
        [("all texts", result)] if result.get("top") else [])
    if not panels:
        return None
    cols = min(2, len(panels))
    rows = -(-len(panels) // cols)
    longest = max(len(p["top"]) for _, p in panels)
    with _context():
        fig = _figure(5.0 * cols, (0.9 + 0.28 * longest) * rows)
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (title, part) in zip(axes, panels):
            top = part["top"]
            _barh(ax, [w["word"] for w in top], [w["count"] for w in top], "d")
            ax.set_title(f"{_short(title, 40)} · {part['documents']} doc{'' if part['documents'] == 1 else 's'}", fontsize=10)
        for ax in axes[len(panels):]:
            ax.set_visible(False)
        alt = "; ".join(f"{title}: " + ", ".join(f"{w['word']} {w['count']}" for w in part["top"][:10])
                        for title, part in panels)
        params = analysis.get("params") or {}
        what = f"Top words ({params.get('pos', 'nouns')}, {params.get('field', 'response')}s)"
        return _render(fig, what, alt)


def bench(rows: list[dict]) -> list[Chart]:
    """Decode and prefill tokens/s, MBU and cost per million tokens of each configuration.

    ``rows`` are ``shape.bench_rows`` output (label, prefill, decode, ceiling, mbu, cost, status).
    """
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        return []
    labels = [r["label"] for r in ok]
    charts = []
    series = [
        ("Decode and prefill tokens/s", "tokens/s", [
            ("prefill", [r["prefill"] for r in ok]),
            ("decode", [r["decode"] for r in ok]),
            ("decode roofline", [r["ceiling"] for r in ok]),
        ], ".1f"),
        ("Memory-bandwidth utilisation (MBU)", "MBU (% of the decode roofline)", [
            ("MBU", [r["mbu"] for r in ok]),
        ], ".0f"),
        ("Cost per million output tokens", "cost per million tokens", [
            ("cost", [r["cost"] for r in ok]),
        ], ".3g"),
    ]
    for title, xlabel, parts, fmt in series:
        parts = [(name, values) for name, values in parts if any(v is not None for v in values)]
        if not parts:
            continue
        with _context():
            fig = _figure(7.5, 1.0 + 0.4 * len(ok) * len(parts))
            ax = fig.add_subplot()
            height = 0.8 / len(parts)
            for k, (name, values) in enumerate(parts):
                ys = [i - 0.4 + height * (k + 0.5) for i in range(len(ok))]
                vals = [v if v is not None else 0 for v in values]
                bars = ax.barh(ys, vals, height=height * 0.9, color=_COLORS[k], label=name)
                ax.bar_label(bars, labels=["–" if v is None else format(v, fmt) for v in values],
                             padding=3, fontsize=8)
            ax.set_yticks(range(len(ok)), labels=[_short(x, 40) for x in labels])
            ax.invert_yaxis()
            ax.set_xlabel(xlabel)
            top = max((v for _, values in parts for v in values if v is not None), default=1)
            ax.set_xlim(0, top * 1.25 or 1)
            if len(parts) > 1:
                ax.legend(fontsize=8)
            _tidy(ax)
            alt = "; ".join(f"{label}: " + ", ".join(
                f"{name} {'–' if v is None else format(v, fmt)}" for name, values in parts for v in [values[i]])
                for i, label in enumerate(labels))
            charts.append(_render(fig, title, alt))
    return charts
