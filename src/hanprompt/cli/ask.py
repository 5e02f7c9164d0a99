"""hanprompt ask: one question to one model, streamed, timed and logged."""
from __future__ import annotations

import argparse
import sys
import time

from hanprompt.cli import common
from hanprompt.errors import for_cli


def register(sub) -> None:
    p = sub.add_parser("ask", help="ask a model one question", description="Ask a model one question; the answer streams to stdout, its stats to stderr.")
    p.add_argument("prompt", help="the question or instruction")
    p.add_argument("-m", "--model", metavar="SPEC", help="hf:<hub id or path> (or a bare one), gguf:<file.gguf>, or openai:<model>@<base_url> "
                   "(default: $HANPROMPT_MODEL, else smollm2: the embedded SmolLM2-135M-Instruct, English)")
    p.add_argument("-s", "--system", metavar="TEXT", help="a system message")
    p.add_argument("--no-log", action="store_true", help="do not store this generation")
    common.add_model_options(p)
    common.add_gen_options(p)
    common.add_common(p)
    p.set_defaults(handler=run)


def stats_line(record: dict, run_id, gen_id, kernels: str = "") -> str:
    """The line after an answer; ``kernels``: the backend's matrix kernels when not the library's
    default (hf on the CPU in float32: whether oneDNN's packed linear layers were kept)."""
    logged = f" · run {run_id}, id {gen_id}" if gen_id else ""
    kernels = f" · {common.visible(kernels, keep='')}" if kernels else ""
    where = " ".join(str(part) for part in (record["device"], record["dtype"]) if part)  # a server has no dtype
    return (
        f"[{common.visible(record['model'], keep='')} · {common.visible(where, keep='')}{kernels}] "
        f"{'?' if record['input_tokens'] is None else record['input_tokens']} in, "
        f"{record['output_tokens']} out ({record['finish_reason']}) · "
        f"TTFT {record['ttft_s']:.2f} s · {record['tokens_per_s']:.1f} tok/s · "
        f"{record['total_s']:.2f} s (load {record['load_s']:.1f} s){logged}"
    )


def run(args: argparse.Namespace) -> int:
    from hanprompt import settings
    from hanprompt.generate import ask

    params = common.gen_params(args)
    streamed = not args.json

    model = settings.default_model() if args.model is None else args.model
    loaded: dict = {}

    def on_loaded(backend):
        loaded["kernels"] = backend.info.kernels
        for warning in backend.info.warnings:
            print(f"hanprompt: warning: {common.visible(for_cli(warning), keep='')}", file=sys.stderr)
        common.korean_hint(backend.spec, args.prompt, args.system)

    def on_text(piece: str) -> None:
        sys.stdout.write(common.visible(piece))
        sys.stdout.flush()

    answer = ask(
        args.prompt,
        model=model,
        system=args.system,
        params=params,
        load_options=common.load_options(args),
        db=args.db,
        log=not args.no_log,
        on_text=on_text if streamed else None,
        on_loaded=on_loaded,
        truncate=args.truncate,
    )
    t0 = time.perf_counter()
    if not args.json:
        sys.stdout.write("\n")  # the streamed answer's line ends before the lines on stderr
        sys.stdout.flush()
    for notice in answer.notices:  # what the answer showed: a server that answers as another model
        print(f"hanprompt: warning: {common.visible(notice, keep='')}", file=sys.stderr)
    if args.json:
        common.print_json(answer.as_dict())
    else:
        print(stats_line(answer.record, answer.run_id, answer.id, loaded.get("kernels", "")), file=sys.stderr)
    if common.debug(args):
        common.print_phases(dict(answer.phases, render_s=time.perf_counter() - t0))
    return 0
