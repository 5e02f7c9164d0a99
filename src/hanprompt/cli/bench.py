"""hanprompt bench: load, prefill and decode speed, memory and MBU per configuration."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common
from hanprompt.errors import arg, for_cli

HELP = """Measure each model in each configuration the way llama-bench does: load time, prefill
and decode tokens/s, TTFT and end-to-end latency (mean, stdev, p50, p90 over --repeat runs
after --warmup), peak RAM and VRAM, the placement used, the roofline ceiling (memory
bandwidth / bytes read per token) and MBU, Korean token efficiency, and cost per million
output tokens. --devices and --dtype apply to hf models, --gpu-layers to gguf models;
openai: models are measured over the stream (TTFT, decode, latency; no load time, memory or
roofline). Configurations this machine cannot run are listed as skipped, with the reason."""


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark models and placements (llama-bench style, with a roofline)",
                       description=HELP)
    p.add_argument("-m", "--model", action="append", required=True, metavar="SPEC",
                   help="a model spec (hf:PATH, gguf:FILE, openai:MODEL@URL); repeat for several")
    p.add_argument("--devices", default="cpu", metavar="LIST",
                   help="hf models: comma-separated from cpu,cuda,mps,auto (default cpu)")
    p.add_argument("--dtype", default="auto", metavar="LIST",
                   help="hf models: comma-separated from auto,float32,bfloat16,float16 (default auto)")
    p.add_argument("--gpu-layers", default="0", metavar="LIST",
                   help="gguf models: layers on the GPU, comma-separated numbers or 'all' (default 0)")
    p.add_argument("--max-memory", metavar="SPEC", help="hf --devices auto caps, e.g. 0=3GiB,cpu=20GiB")
    p.add_argument("--threads", type=int, metavar="N", help="gguf models: llama.cpp's CPU threads for generation and prompt processing "
                        "(default: half the CPUs this process may use, at least 1)")
    p.add_argument("--ctx-size", type=int, metavar="N",
                   help="gguf models: context to open (default: --prompt-tokens + --gen-tokens, as llama-bench)")
    p.add_argument("--api-key-env", metavar="VAR", help="openai models: variable holding the key (default OPENAI_API_KEY)")
    p.add_argument("--price-input", type=float, metavar="X", help="openai models: API price per million input tokens")
    p.add_argument("--price-output", type=float, metavar="X",
                   help="openai models: API price per million output tokens, shown beside --price-per-hour costs")
    p.add_argument("--prompt-tokens", type=int, default=512, metavar="N", help="prompt length in the model's tokens: the prompt is as close to N as the tokenizer allows, never over (default 512)")
    p.add_argument("--gen-tokens", type=int, default=128, metavar="N", help="tokens generated, EOS ignored: 2 or more, so that decoding is timed (default 128)")
    p.add_argument("--repeat", type=int, default=5, metavar="N", help="timed runs per configuration (default 5)")
    p.add_argument("--warmup", type=int, default=1, metavar="N", help="untimed runs first (default 1)")
    p.add_argument("--batch", type=int, metavar="N", help="also measure aggregate decode tokens/s at batch N")
    p.add_argument("--bandwidth", metavar="GB/s",
                   help="memory bandwidth instead of measuring it: GB/s for every device, or cpu=25,cuda=3350")
    p.add_argument("--price-per-hour", metavar="X",
                   help="what this machine costs per hour: gives the cost per million output tokens")
    p.add_argument("--chart", metavar="OUT.png", help="draw prefill/decode tokens/s with the roofline marked")
    common.add_common(p)
    p.set_defaults(handler=bench)


def options_from(args: argparse.Namespace):
    from hanprompt.bench import options as o

    return o.BenchOptions(
        models=tuple(args.model), devices=o.parse_devices(args.devices), dtypes=o.parse_dtypes(args.dtype),
        gpu_layers=o.parse_gpu_layers(args.gpu_layers), prompt_tokens=args.prompt_tokens,
        gen_tokens=args.gen_tokens, repeat=args.repeat, warmup=args.warmup, batch=args.batch,
        bandwidth=o.parse_bandwidth(args.bandwidth) if args.bandwidth is not None else {},
        price_per_hour=o.parse_positive(args.price_per_hour, arg("price_per_hour"))
        if args.price_per_hour is not None else None,
        max_memory=args.max_memory, threads=args.threads, ctx_size=args.ctx_size, api_key_env=args.api_key_env,
        api_prices=_api_prices(args),
    ).check()


def _api_prices(args: argparse.Namespace) -> tuple[float, float] | None:
    from hanprompt.errors import UsageError

    given = (args.price_input, args.price_output)
    if given == (None, None):
        return None
    if None in given:
        raise UsageError("give both --price-input and --price-output (per million tokens), or neither")
    return given


def bench(args: argparse.Namespace) -> int:
    from hanprompt.analysis.inputs import check_writable
    from hanprompt.bench import run_bench

    options = options_from(args)
    check_writable(args.chart, "--chart")
    report = run_bench(options, db=args.db,
                       progress=lambda line: print(f"hanprompt: {common.visible(line, keep='')}", file=sys.stderr))
    notes = []
    if args.chart:
        from hanprompt.bench import chart
        from hanprompt.errors import UsageError

        try:
            notes.append(f"chart written to {chart.draw(report.rows, args.chart)}")
        except UsageError as e:
            notes.append(for_cli(e))
    if args.json:
        common.print_json(report.as_dict())
    else:
        console = common.stdout_console()
        for part in render(report):
            common.print_table(console, part)
    for line in notes:
        print(f"hanprompt: {common.visible(line, keep='')}", file=sys.stderr)
    return 0


# ---- rendering: rich tables whose cells are Text (never markup), control characters shown ----
MB = 1e6


def _num(value, fmt: str = ",.1f", unit: str = "") -> str:
    return "–" if value is None else f"{value:{fmt}}{unit}"


def _mb(nbytes: int | None) -> str:
    return _num(nbytes / MB if nbytes is not None else None, ",.0f")


def _pm(summary: dict | None, fmt: str = ",.1f") -> str:
    if not summary:
        return "–"
    sd = summary.get("stdev")
    return f"{summary['mean']:{fmt}}" + (f" ± {sd:{fmt}}" if sd is not None else "")


def _config(row: dict) -> str:
    from hanprompt.bench.service import config_label

    return config_label(row["config"])


def _table(title: str, columns: list[str]):
    from rich.table import Table

    table = Table(title=title, box=None, header_style="bold", title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < 3 else "right", overflow="fold")
    return table


def speed_table(report):
    s = report.settings
    batch = s.get("batch")
    columns = ["model", "config", "status", "load s", "prefill tok/s", "decode tok/s", "TTFT s",
               "E2E s (p50 / p90)"] + ([f"batch {batch} tok/s"] if batch else [])
    runs = f"{s['repeat']} run{'s' if s['repeat'] != 1 else ''}"
    table = _table(f"speed · prompt {s['prompt_tokens']} tokens, {s['gen_tokens']} generated, "
                   f"{runs} after {s['warmup']} warm-up", columns)
    for row in report.rows:
        m = row["metrics"]
        cells = [row["model"], _config(row), row["status"]]
        if row["status"] == "ok":
            e2e = m["e2e_s"]
            decode = "too coarse to time" if m.get("decode_untimed") else _pm(m.get("decode_tok_s"))
            cells += [_num(m.get("load_s"), ".2f"), _pm(m.get("prefill_tok_s")), decode,
                      _pm(m.get("ttft_s"), ".3f"),
                      f"{_pm(e2e, '.3f')} ({e2e['p50']:.3f} / {e2e['p90']:.3f})"]
            if batch:
                cells.append(_num((m.get("batch") or {}).get("decode_tok_s")))
        else:
            cells += [""] * (len(columns) - 3)
        table.add_row(*map(common.text, cells))
    return table


def roofline_table(report):
    priced = any(row["metrics"].get("cost") for row in report.rows)
    columns = ["model", "config", "placement", "peak RSS MB", "peak VRAM MB", "bytes/token MB",
               "ceiling tok/s", "MBU"] + (["cost / M out (batch 1 / N)"] if priced else [])
    table = _table("memory and roofline", columns)
    for row in report.rows:
        if row["status"] != "ok":
            continue
        m = row["metrics"]
        roof = m.get("roofline") or {}
        layers = m.get("layers_per_device")
        placement = ", ".join(f"{k}: {v}" for k, v in (layers or m.get("placement") or {}).items())
        placement += " layers" if layers else ""
        cells = [row["model"], _config(row), placement, _mb(m.get("peak_rss_bytes")),
                 _mb(m.get("peak_vram_bytes")),
                 _num(roof["bytes_per_token"] / MB if roof.get("bytes_per_token") else None, ",.1f"),
                 _num(roof.get("ceiling_tok_s")),
                 _num(roof.get("mbu"), ".0%") + (" (unreliable)" if roof.get("bandwidth_unreliable") else "")]
        if priced:
            cells.append(_cost(m.get("cost") or {}))
        table.add_row(*map(common.text, cells))
    return table


def _cost(cost: dict) -> str:
    """This machine's cost per million output tokens (batch N after a slash), and an API's price."""
    parts = []
    if cost.get("per_million_output") is not None:
        parts.append(f"{cost['per_million_output']:,.3f}")
        if cost.get("batch_per_million_output") is not None:
            parts[-1] += f" / {cost['batch_per_million_output']:,.3f}"
    if cost.get("api_per_million_output") is not None:
        parts.append(f"API {cost['api_per_million_output']:,.3f}")
    return " · ".join(parts) or "–"


def korean_table(report):
    from hanprompt.bench.tokens import efficiency_rows

    table = _table("Korean token efficiency (same passage in Korean and English)",
                   ["tokenizer", "ko tokens / 100 chars", "en tokens / 100 chars", "ko ÷ en tokens"])
    table.columns[1].justify = "right"
    table.columns[2].justify = "right"
    for k in efficiency_rows(report.korean):
        if k["error"]:
            table.add_row(common.text(k["tokenizer"]), common.text(k["error"]), common.text(""), common.text(""))
            continue
        table.add_row(common.text(k["tokenizer"]), common.text(f"{k['ko_per_100_chars']:.1f}"),
                      common.text(f"{k['en_per_100_chars']:.1f}"), common.text(_num(k["ko_en_ratio"], ".2f", "x")))
    return table


def notes(report) -> list:
    """Reasons for rows not measured, slow-path warnings, the bandwidths and the machine's load."""
    lines: list = []
    for row in report.rows:
        where = f"{row['model']} [{_config(row)}]"
        if row["status"] != "ok":
            lines.append(common.text(f"{row['status']}: {where}: {for_cli(row['reason'])}"))
        for warning in row["metrics"].get("warnings") or []:
            lines.append(common.text(f"warning: {where}: {for_cli(warning)}"))
        for flag in row["metrics"].get("flags") or []:
            lines.append(common.text(f"flag: {where}: {flag['problem']}; likely cause: {flag['likely_cause']}"))
    used = {memory for row in report.rows
            for memory in ((row["metrics"].get("roofline") or {}).get("bandwidth_gb_s") or {})}
    for memory, entry in report.bandwidth.items():
        if entry["source"] != "measured" and memory not in used:
            continue  # a --bandwidth figure no row read from
        again = (f", measured again after {entry['remeasured_because']} "
                 f"(first {_num(entry['remeasured_from'], '.1f')} GB/s)" if entry.get("remeasured_because") else "")
        unreliable = f"; unreliable: {entry['unreliable']}" if entry.get("unreliable") else ""
        lines.append(common.text(f"bandwidth {memory}: {_num(entry['gb_s'], '.1f', ' GB/s')} ({entry['source']}{again})"
                                 f"{unreliable}"))
    load = report.machine.get("load_average")
    if load:
        lines.append(common.text(f"machine: {report.machine['cpu_threads']} CPU threads, load average "
                                 f"{load[0]:.2f} at the start · run {report.run_id}"))
    return lines


def render(report) -> list:
    """Every renderable of the report, in order."""
    gap = common.text("")
    return [speed_table(report), gap, roofline_table(report), gap, korean_table(report), gap, *notes(report)]
