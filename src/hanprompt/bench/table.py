"""The benchmark as rich tables (built here, printed by the CLI). Cells are ``Text``, never markup."""
from __future__ import annotations

from rich.table import Table
from rich.text import Text

MB = 1e6


def _num(value, fmt: str = ",.1f", unit: str = "") -> str:
    return "–" if value is None else f"{value:{fmt}}{unit}"


def _pm(summary: dict | None, fmt: str = ",.1f") -> str:
    if not summary:
        return "–"
    sd = summary.get("stdev")
    return f"{summary['mean']:{fmt}}" + (f" ± {sd:{fmt}}" if sd is not None else "")


def _config(row: dict) -> str:
    """``cpu float32``, ``ngl 8`` or ``server``."""
    c = row["config"]
    parts = [str(c[k]) for k in ("device", "dtype") if k in c]
    if "gpu_layers" in c:
        parts.append(f"ngl {c['gpu_layers']}")
    return " ".join(parts) or "server"


def _table(title: str, columns: list[str]) -> Table:
    table = Table(title=title, box=None, header_style="bold", title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < 3 else "right", overflow="fold")
    return table


def speed_table(report) -> Table:
    s = report.settings
    batch = s.get("batch")
    columns = ["model", "config", "status", "load s", "prefill tok/s", "decode tok/s", "TTFT s",
               "E2E s (p50 / p90)"] + ([f"batch {batch} tok/s"] if batch else [])
    table = _table(f"speed · prompt {s['prompt_tokens']} tokens, {s['gen_tokens']} generated, "
                   f"{s['repeat']} runs after {s['warmup']} warm-up", columns)
    for row in report.rows:
        m = row["metrics"]
        cells = [row["model"], _config(row), row["status"]]
        if row["status"] == "ok":
            e2e = m["e2e_s"]
            cells += [_num(m.get("load_s"), ".2f"), _pm(m.get("prefill_tok_s")), _pm(m.get("decode_tok_s")),
                      _pm(m.get("ttft_s"), ".3f"),
                      f"{_pm(e2e, '.2f')} ({e2e['p50']:.2f} / {e2e['p90']:.2f})"]
            if batch:
                cells.append(_num((m.get("batch") or {}).get("decode_tok_s")))
        else:
            cells += [""] * (len(columns) - 3)
        table.add_row(*map(Text, cells))
    return table


def roofline_table(report) -> Table:
    priced = report.settings.get("price_per_hour")
    columns = ["model", "config", "placement", "peak RSS MB", "peak VRAM MB", "bytes/token MB",
               "ceiling tok/s", "MBU"] + (["cost / M out"] if priced else [])
    table = _table("memory and roofline", columns)
    for row in report.rows:
        if row["status"] != "ok":
            continue
        m = row["metrics"]
        roof = m.get("roofline") or {}
        layers = m.get("layers_per_device")
        placement = ", ".join(f"{k}: {v}" for k, v in (layers or m.get("placement") or {}).items())
        placement += " layers" if layers else ""
        cells = [row["model"], _config(row), placement, _num(m.get("peak_rss_bytes", 0) / MB, ",.0f"),
                 _num(m["peak_vram_bytes"] / MB if m.get("peak_vram_bytes") is not None else None, ",.0f"),
                 _num(roof["bytes_per_token"] / MB if roof.get("bytes_per_token") else None, ",.1f"),
                 _num(roof.get("ceiling_tok_s")), _num(roof.get("mbu"), ".0%")]
        if priced:
            cells.append(_num((m.get("cost") or {}).get("per_million_output"), ",.3f"))
        table.add_row(*map(Text, cells))
    return table


def korean_table(report) -> Table:
    table = _table("Korean token efficiency (same passage in Korean and English)",
                   ["tokenizer", "ko tokens / 100 chars", "en tokens / 100 chars", "ko ÷ en tokens"])
    table.columns[1].justify = "right"
    table.columns[2].justify = "right"
    for model, k in report.korean.items():
        if "error" in k:
            table.add_row(Text(model), Text(k["error"]), Text(""), Text(""))
            continue
        table.add_row(Text(model), Text(f"{k['ko']['tokens_per_100_chars']:.1f}"),
                      Text(f"{k['en']['tokens_per_100_chars']:.1f}"), Text(_num(k["ko_en_ratio"], ".2f", "x")))
    return table


def notes(report) -> list[Text]:
    """Reasons for rows not measured, slow-path warnings, the bandwidths and the machine's load."""
    lines: list[Text] = []
    for row in report.rows:
        where = f"{row['model']} [{_config(row)}]"
        if row["status"] != "ok":
            lines.append(Text(f"{row['status']}: {where}: {row['reason']}"))
        for warning in row["metrics"].get("warnings") or []:
            lines.append(Text(f"warning: {where}: {warning}"))
    for memory, entry in report.bandwidth.items():
        lines.append(Text(f"bandwidth {memory}: {_num(entry['gb_s'], '.1f', ' GB/s')} ({entry['source']})"))
    load = report.machine.get("load_average")
    if load:
        lines.append(Text(f"machine: {report.machine['cpu_threads']} CPU threads, load average "
                          f"{load[0]:.2f} at the start · run {report.run_id}"))
    return lines


def render(report) -> list:
    """Every renderable of the report, in order."""
    return [speed_table(report), Text(""), roofline_table(report), Text(""), korean_table(report), Text(""),
            *notes(report)]
