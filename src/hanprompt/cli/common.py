"""Options and rendering that several commands share."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from hanprompt.textio import visible  # noqa: F401  (the CLI's printing goes through it)


def korean_hint(spec: str, *texts: str | None) -> None:
    """One note on stderr when Korean text goes to an embedded English-only model, naming the model to fetch."""
    from hanprompt.backends import embedded
    from hanprompt.hangul import has_hangul

    name = spec.partition(":")[2] if spec.startswith("gguf:") else ""
    if embedded.english_only(name) and any(t and has_hangul(t) for t in texts):
        print(f"hanprompt: note: {embedded.KOREAN_HINT.cli}", file=sys.stderr)


def record_id(text: str) -> int:
    """argparse ``type=`` of a run or generation id: 1 to ``limits.MAX_ID``, checked before any
    query (one line and exit 2 otherwise)."""
    from hanprompt import limits

    try:
        return limits.parse_id(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


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
    g.add_argument("--no-packed-linear", dest="packed_linear", action="store_false", default=None,
                   help="on the CPU in float32, keep torch's plain linear layers instead of oneDNN's packed ones "
                   "(default: packed where a short measurement at load finds them faster on this host)")
    g.add_argument("--packed-linear", dest="packed_linear", action="store_true", default=None,
                   help="on the CPU in float32, always use oneDNN's packed linear layers")
    g = parser.add_argument_group("model loading (gguf backend: llama.cpp)")
    g.add_argument("--gpu-layers", metavar="N|all", help="layers to offload to the GPU (default: 0)")
    g.add_argument("--threads", type=int, metavar="N",
                   help="llama.cpp's CPU threads for generation and prompt processing (default: half the CPUs "
                        "this process may use, at least 1)")
    g.add_argument("--ctx-size", type=int, metavar="N",
                   help="context in tokens (default: the model's trained context, at most 4096)")
    g = parser.add_argument_group("model loading (openai backend: openai:<model>@<base_url>)")
    g.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the API key (default: OPENAI_API_KEY)")
    g.add_argument("--timeout", type=float, metavar="S", help="seconds to wait for each read from the server (default: 600)")
    g.add_argument("--max-retries", type=int, metavar="N", help="retries on 429, 5xx, timeouts and lost connections (default: 3)")
    g.add_argument("--price-input", type=float, metavar="X", help="price per million input tokens (with --price-output: a cost)")
    g.add_argument("--price-output", type=float, metavar="X", help="price per million output tokens")
    g.add_argument("--tokenizer", metavar="ID|DIR", help="Hugging Face tokenizer to count tokens when the server sends no usage")


def add_gen_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("generation")
    g.add_argument("--max-new-tokens", type=int, metavar="N", help="most tokens to generate (default: 256)")
    g.add_argument("--temperature", type=float, metavar="T", help="0 is greedy (the default)")
    g.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling mass (default: 1.0)")
    g.add_argument("--seed", type=int, metavar="N", help="seed for sampling")
    g.add_argument("--truncate", choices=["left", "right"],
                   help="cut a prompt too long for the model's context from the left (its start) or the right "
                        "(its end) instead of refusing it")


LOAD_KEYS = [
    "device", "dtype", "max_memory", "offload_folder", "quantize", "trust_remote_code", "packed_linear",  # hf
    "gpu_layers", "threads", "ctx_size",  # gguf
    "api_key_env", "timeout", "max_retries", "tokenizer",  # openai
]


def load_options(args: argparse.Namespace) -> dict:
    from hanprompt.errors import UsageError

    options = {k: getattr(args, k) for k in LOAD_KEYS if getattr(args, k, None) is not None}
    if "threads" in options:  # checked as run checks it, whichever command is given it
        from hanprompt import limits

        limits.check_range("--threads", options["threads"], 1, limits.MAX_THREADS)
    if "gpu_layers" in options:
        from hanprompt.backends.gguf import parse_gpu_layers

        options["gpu_layers"] = parse_gpu_layers(options["gpu_layers"])
    prices = {k: getattr(args, f"price_{k}", None) for k in ("input", "output")}
    if any(v is not None for v in prices.values()):
        for k, v in prices.items():
            if v is None:
                raise UsageError(f"--price-{k} is missing: give both --price-input and --price-output")
            if not 0 <= v < float("inf"):  # also NaN
                raise UsageError(f"--price-{k}: a price per million tokens is a number, 0 or more (got {v})")
        options["prices"] = prices
    return options


def gen_params(args: argparse.Namespace):
    from hanprompt.backends.base import GenParams

    return GenParams.build(
        max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p, seed=args.seed
    )


def print_json(value: Any) -> None:
    """``value`` as JSON on stdout; notes (``errors.note``: fit advice, a row's reason) name flags."""
    sys.stdout.write(json.dumps(_for_cli(value), ensure_ascii=False, indent=2, default=str) + "\n")


def _for_cli(value: Any) -> Any:
    from hanprompt.errors import Note

    if isinstance(value, Note):
        return value.cli
    if isinstance(value, dict):
        return {k: _for_cli(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_for_cli(v) for v in value]
    return value


#: the width tables get when stdout is not a terminal: rows never wrap, values are never cut
PIPED_WIDTH = 1_000_000


def piped() -> bool:
    """Whether stdout goes to a file or another program rather than a terminal."""
    isatty = getattr(sys.stdout, "isatty", None)
    return not (isatty and isatty())


def stdout_console():
    """The console for tables: the terminal's width, or unbounded when piped (``less -S``, files)."""
    from rich.console import Console

    return Console(soft_wrap=False, width=PIPED_WIDTH if piped() else None)


def print_table(console, table) -> None:
    """Print a rich ``Table`` (or any renderable); when piped, a table's title goes on a line of its
    own, so that it is not wrapped to the table's width either."""
    if piped() and getattr(table, "title", None) is not None:
        console.print(table.title, soft_wrap=True)
        table.title = None
    console.print(table)


def whole(value: str | None, width: int) -> str:
    """An identifier (model spec, run name) for a table: cut to ``width`` in a terminal, whole when piped."""
    return visible(value, keep="") if piped() else excerpt(value, width)


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def text(value: Any, style: str | None = None):
    """A rich ``Text`` of ``value`` made ``visible``: printed as it is, never read as markup."""
    from rich.text import Text

    return Text(visible(value), style=style or "")


def excerpt(value: str | None, width: int = 60) -> str:
    """The first ``width`` characters of ``value`` on one line, whitespace runs as one space."""
    flat = visible(" ".join((value or "").split()), keep="")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _tail(label: str, width: int) -> str:
    """``label`` on one line, its start cut off when longer than ``width`` ("loading " kept)."""
    flat = visible(" ".join(label.split()), keep="")
    head = "loading " if flat.startswith("loading ") else ""
    rest = flat[len(head):]
    room = width - len(head)
    return head + (rest if len(rest) <= room else "…" + rest[-(room - 1):])


def stderr_is_terminal() -> bool:
    """Whether stderr is a terminal (as rich sees it, so FORCE_TERMINAL-style settings count)."""
    return stderr_console().is_terminal


@contextlib.contextmanager
def progress_bars(unit: str, *, per_label: bool = False):
    """A library progress callback ``(done, total, label)`` drawn as bars on stderr, or None.

    Only when stderr is a terminal; piped or redirected stderr gets nothing (the context yields
    None, and the library then reports to no one). ``per_label``: one bar per label (a translator
    each); otherwise one bar whose description is the latest label. A label starting with
    ``loading `` shows while a model loads, without a bar's worth of progress. The ETA is the rate
    measured since the first advance after the latest load (cells, segments or documents per
    second of actual work), shown beside it, so it shows from the first finished batch on.
    """
    if not stderr_is_terminal():
        yield None
        return
    import time

    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn)

    bar = Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TextColumn(unit), TimeElapsedColumn(), TextColumn("ETA {task.fields[eta]}", markup=False),
                   console=stderr_console())
    tasks: dict[str, Any] = {}
    marks: dict[str, tuple[float, int] | None] = {}  # label -> (time, done) where the rate is measured from

    def update(done: int, total: int, label: str) -> None:
        key = label if per_label else ""
        if not tasks:  # started late, so that a bad input prints its error line alone
            bar.start()
        description = _tail(label, 48)  # a model path's end names it
        if key not in tasks:
            tasks[key] = bar.add_task(description, total=total, eta="-:--")
            marks[key] = None
        loading = label.startswith("loading ")
        now = time.perf_counter()
        if loading:
            marks[key] = None
        elif marks[key] is None:
            marks[key] = (now, done)
        eta = "-:--"
        mark = marks[key]
        if mark is not None and done > mark[1] and total >= done:
            left = (total - done) * (now - mark[0]) / (done - mark[1])
            eta = f"{int(left // 60)}:{int(left % 60):02d} · {(done - mark[1]) / max(now - mark[0], 1e-9):,.1f} {unit}/s"
        elif done >= total:
            eta = "0:00"
        bar.update(tasks[key], completed=done, total=total, description=description, eta=eta)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def debug(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False) or getattr(args, "debug_sub", False))


def print_phases(phases: dict) -> None:
    """One stderr line: seconds per phase, and since the process started (``--debug``)."""
    import time

    import psutil

    wall = time.time() - psutil.Process().create_time()
    parts = [f"{k.removesuffix('_s')} {v:.2f} s" for k, v in phases.items() if v is not None]
    rest = wall - sum(v for v in phases.values() if v is not None)
    print(f"hanprompt: phases: {' · '.join(parts)} · other {rest:.2f} s · process {wall:.2f} s so far",
          file=sys.stderr)
