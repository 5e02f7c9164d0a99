"""hanprompt bench: load, prefill and decode speed, memory and MBU per configuration."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common

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
    p.add_argument("--prompt-tokens", type=int, default=512, metavar="N", help="prompt length (default 512)")
    p.add_argument("--gen-tokens", type=int, default=128, metavar="N", help="tokens generated, EOS ignored (default 128)")
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
        price_per_hour=o.parse_positive(args.price_per_hour, "--price-per-hour")
        if args.price_per_hour is not None else None,
        max_memory=args.max_memory,
    ).check()


def bench(args: argparse.Namespace) -> int:
    from hanprompt.analysis.inputs import check_writable
    from hanprompt.bench import run_bench

    options = options_from(args)
    check_writable(args.chart, "--chart")
    report = run_bench(options, db=args.db, progress=lambda line: print(f"hanprompt: {line}", file=sys.stderr))
    notes = []
    if args.chart:
        from hanprompt.bench import chart
        from hanprompt.errors import UsageError

        try:
            notes.append(f"chart written to {chart.draw(report.rows, args.chart)}")
        except UsageError as e:
            notes.append(str(e))
    if args.json:
        common.print_json(report.as_dict())
    else:
        from hanprompt.bench.table import render

        console = common.stdout_console()
        for part in render(report):
            console.print(part)
    for line in notes:
        print(f"hanprompt: {line}", file=sys.stderr)
    return 0
