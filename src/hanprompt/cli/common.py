"""Options and rendering that several commands share."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True, db: bool = True) -> None:
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    if db:
        parser.add_argument(
            "--db", metavar="URL", help="SQLAlchemy URL of the log (default: $HANPROMPT_DB or SQLite in $HANPROMPT_HOME)"
        )
    parser.add_argument("--debug", dest="debug_sub", action="store_true", help="show tracebacks")


def add_model_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("model loading (hf backend)")
    g.add_argument("--device", choices=["cpu", "cuda", "mps", "auto"],
                   help="where the model runs; auto splits it over GPU, CPU and disk (default: the best single device)")
    g.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], help="weights' precision (default: auto)")
    g.add_argument("--max-memory", metavar="SPEC", help="caps for --device auto, e.g. 0=3GiB,cpu=20GiB")
    g.add_argument("--offload-folder", metavar="DIR", help="where --device auto may offload weights to disk")
    g.add_argument("--quantize", choices=["8bit", "4bit"], help="bitsandbytes quantization (CUDA only)")
    g.add_argument("--trust-remote-code", action="store_true", default=None, help="run the model repository's own code")


def add_gen_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("generation")
    g.add_argument("--max-new-tokens", type=int, metavar="N", help="most tokens to generate (default: 256)")
    g.add_argument("--temperature", type=float, metavar="T", help="0 is greedy (the default)")
    g.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass (default: 1.0)")
    g.add_argument("--seed", type=int, metavar="N", help="seed for sampling")


def load_options(args: argparse.Namespace) -> dict:
    keys = ["device", "dtype", "max_memory", "offload_folder", "quantize", "trust_remote_code"]
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def gen_params(args: argparse.Namespace):
    from hanprompt.backends.base import GenParams

    return GenParams.build(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed
    )


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def stdout_console():
    from rich.console import Console

    return Console(soft_wrap=False)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def excerpt(text: str | None, width: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"
