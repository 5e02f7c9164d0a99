"""The benchmark chart: prefill and decode tokens/s per configuration, the roofline marked.

Drawn like the word charts (matplotlib's object API, Agg, the bundled Korean font), so
Hangul titles and labels render on a bare machine.
"""
from __future__ import annotations

import os
from pathlib import Path

from hanprompt.analysis.fonts import korean_rc
from hanprompt.errors import UsageError, arg
from hanprompt.outputs import writing

_PREFILL, _DECODE, _ROOF = "#7a9cc6", "#3b6ea8", "#c0392b"


def _save(fig, out: str | os.PathLike) -> Path:
    with writing(out, arg("out", flag="chart"), binary=True) as fh:  # 0600, never half a file
        fig.savefig(fh, format="png", dpi=150, bbox_inches="tight")
    return Path(out)


def _label(row: dict) -> str:
    model = row["model"].split(":", 1)[-1].rstrip("/")
    model = Path(model).name or model
    config = row["config"]
    parts = [f"{config[k]}" for k in ("device", "dtype") if k in config]
    if "gpu_layers" in config:
        parts.append(f"ngl {config['gpu_layers']}")
    return f"{model[-28:]}\n{' · '.join(parts) or row['backend']}"


def draw(rows: list[dict], out: str | os.PathLike, *, title: str | None = None) -> Path:
    """Horizontal bars of prefill and decode tokens/s for the rows measured (status ok).

    The decode panel marks each row's roofline ceiling (bandwidth / bytes per token) with a
    red tick and writes its MBU beside the bar. Raises UsageError when no row was measured.
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    measured = [r for r in rows if r["status"] == "ok" and r["metrics"].get("decode_tok_s")]
    if not measured:
        raise UsageError("no chart drawn: no configuration was measured (all skipped or failed)")
    labels = [_label(r) for r in measured]
    n = len(measured)
    with matplotlib.rc_context(korean_rc()):
        fig = Figure(figsize=(11, 1.6 + 0.7 * n), layout="constrained")
        prefill_ax, decode_ax = fig.subplots(1, 2, sharey=True)
        y = list(range(n))
        prefill = [(r["metrics"].get("prefill_tok_s") or {}).get("mean") or 0 for r in measured]
        bars = prefill_ax.barh(y, prefill, color=_PREFILL)
        prefill_ax.bar_label(bars, labels=[f"{v:,.0f}" for v in prefill], padding=3, fontsize=8)
        prefill_ax.set_title("프리필 (prefill) 토큰/초", fontsize=11)
        prefill_ax.set_yticks(y, labels=labels, fontsize=8)
        prefill_ax.invert_yaxis()
        prefill_ax.set_xlim(0, max(prefill + [1]) * 1.25)

        decode = [r["metrics"]["decode_tok_s"]["mean"] for r in measured]
        bars = decode_ax.barh(y, decode, color=_DECODE)
        ceilings = [((r["metrics"].get("roofline") or {}).get("ceiling_tok_s")) for r in measured]
        texts = []
        for row, value, ceiling in zip(measured, decode, ceilings):
            mbu = (row["metrics"].get("roofline") or {}).get("mbu")
            shown = "" if mbu is None else f" (MBU {mbu:.0%})" if mbu >= 0.01 else " (MBU < 1%)"
            texts.append(f"{value:,.1f}{shown}")
        decode_ax.bar_label(bars, labels=texts, padding=3, fontsize=8)
        for i, ceiling in enumerate(ceilings):
            if ceiling:
                decode_ax.plot([ceiling, ceiling], [i - 0.42, i + 0.42], color=_ROOF, linewidth=2.5)
        top = max(decode + [c or 0 for c in ceilings] + [1])
        if top > 30 * min(decode):  # a ceiling far above the bars: a log scale keeps both visible
            decode_ax.set_xscale("log")
            decode_ax.set_xlim(min(decode) / 3, top * 3)
        else:
            decode_ax.set_xlim(0, top * 1.3)
        decode_ax.set_title("디코드 (decode) 토큰/초", fontsize=11)
        fig.legend(
            handles=[Line2D([], [], color=_ROOF, linewidth=2.5, label="루프라인 한계: 메모리 대역폭 ÷ 토큰당 읽는 바이트")],
            loc="outside lower center", fontsize=8, frameon=False,
        )
        for ax in (prefill_ax, decode_ax):
            ax.set_xlabel("tokens/s")
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
        fig.suptitle(title or "hanprompt bench: 설정별 속도와 메모리 대역폭 한계", fontsize=12)
        return _save(fig, out)
