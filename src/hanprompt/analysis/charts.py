"""Charts of word counts: top-N bars, small multiples per model or variant, a word cloud.

Figures are built with matplotlib's object API and its Agg renderer, never pyplot, so drawing
needs no display and changes no global state beyond registering the Korean font.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

from hanprompt.analysis.fonts import korean_font, korean_rc
from hanprompt.errors import UsageError, arg
from hanprompt.outputs import writing

_BAR_COLOR = "#3b6ea8"


def _draw_bars(ax, result: dict, title: str) -> None:
    from matplotlib.ticker import MaxNLocator

    top = result["top"]
    words = [row["word"] for row in top]
    counts = [row["count"] for row in top]
    bars = ax.barh(range(len(words)), counts, color=_BAR_COLOR)
    ax.set_yticks(range(len(words)), labels=words)
    ax.invert_yaxis()  # rank 1 at the top
    ax.bar_label(bars, labels=[str(c) for c in counts], padding=3, fontsize=9)
    ax.set_xlim(0, max(counts, default=1) * 1.15)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("count")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _save(fig, out: str | os.PathLike) -> Path:
    with writing(out, arg("out", flag="chart"), binary=True) as fh:  # 0600, never half a file
        fig.savefig(fh, format="png", dpi=150, bbox_inches="tight")
    return Path(out)


def bar_chart(result: dict, out: str | os.PathLike, *, title: str | None = None) -> Path:
    """A horizontal bar chart of the result's top words with their counts, saved as PNG."""
    import matplotlib
    from matplotlib.figure import Figure

    n = len(result["top"])
    with matplotlib.rc_context(korean_rc()):
        fig = Figure(figsize=(7, 1.2 + 0.35 * max(n, 1)), layout="constrained")
        _draw_bars(fig.add_subplot(), result, title or _title(result))
        return _save(fig, out)


def small_multiples(groups: dict[str, dict], out: str | os.PathLike, *, by: str) -> Path:
    """One bar chart per group (model or variant), side by side, saved as one PNG."""
    import matplotlib
    from matplotlib.figure import Figure

    if not groups:
        raise UsageError(f"nothing to draw per {by}: the source has no texts")
    n = len(groups)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    longest = max((len(r["top"]) for r in groups.values()), default=1)
    with matplotlib.rc_context(korean_rc()):
        fig = Figure(figsize=(5.5 * cols, (1.2 + 0.35 * max(longest, 1)) * rows), layout="constrained")
        axes = fig.subplots(rows, cols, squeeze=False).ravel()
        for ax, (key, result) in zip(axes, groups.items()):
            _draw_bars(ax, result, f"{by}: {_short(key)} · {result['documents']} docs")
        for ax in axes[n:]:
            ax.set_visible(False)
        return _save(fig, out)


def word_cloud(result: dict, out: str | os.PathLike) -> Path:
    """A word cloud of the top words in the same Korean font (needs the [cloud] extra)."""
    try:
        from wordcloud import WordCloud
    except ImportError:
        raise UsageError(f"{arg('word_cloud', flag='cloud')} needs the wordcloud package; run: pip install 'hanprompt[cloud]'") from None
    frequencies = {row["word"]: row["count"] for row in result["top"]}
    if not frequencies:
        raise UsageError("nothing to draw: no words were counted")
    _, font_path = korean_font()
    cloud = WordCloud(
        font_path=str(font_path), width=1200, height=800, background_color="white", colormap="viridis"
    ).generate_from_frequencies(frequencies)
    with writing(out, arg("out", flag="cloud"), binary=True) as fh:
        cloud.to_image().save(fh, format="PNG")
    return Path(out)


def _title(result: dict) -> str:
    docs = result["documents"]
    return f"top {len(result['top'])} words · {docs} document{'s' if docs != 1 else ''} · {result['analyzer']}"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def draw_chart(result: dict, out: str | os.PathLike) -> Path:
    """Small multiples when the result holds per-group results, else one bar chart."""
    if result.get("groups"):
        return small_multiples(result["groups"], out, by=result["by"])
    return bar_chart(result, out)
