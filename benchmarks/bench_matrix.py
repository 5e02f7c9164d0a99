"""Experiment matrix, whole processes: a plain transformers loop vs ``hanprompt run`` vs the previous static batching.

Three workloads on a random-weight Llama with SmolLM2-135M's shape (float32, CPU):

- uniform: 9 prompts x 48 greedy tokens;
- mixed: the same 9 prompts with max_new_tokens 16, 24, ..., 80 (432 tokens, as uniform);
- seeded: 3 prompts x repeat 5 x 32 tokens, temperature 0.8, seed 7 (seed 7 + repeat index),
  next to its greedy twin: the same 15 cells greedy at 32 tokens (``--no-cache``, so all 15 run).

Each side is one fresh process, timed from spawn to exit (imports, model load, generation,
storing and rendering all inside, and a new hanprompt home, so a new database, for each process):
(a) one ``model.generate`` per cell with plain transformers;
(b) ``hanprompt run`` of this checkout (its ``src`` first on the path); (b') the same with ``--no-packed-linear`` (torch's plain
``nn.Linear`` instead of oneDNN's packed layers: what the batching alone brings); (c)
``hanprompt run`` from the git revision given by ``--previous`` (default: the last one with
static batching), exported with ``git archive``. Before the rounds, one untimed load through
this checkout's hf backend makes the host's measurement of the packed linear layers (made once
per host, CPU model, torch version, threads and weight shapes; kept in hanprompt's cache folder),
which the timed processes then read, as every run after a host's first does.
Sides alternate round by round; the median of the rounds is reported, with the ratios.

    python benchmarks/bench_matrix.py [--rounds 3] [--workloads uniform mixed seeded]
                                      [--previous REV] [--model DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROMPTS = [
    "You are an AI tutor. What are the best resources for learning Python?",
    "Recommend travel destinations in Korea.",
    "한국의 여행지를 추천해 주세요.",
    "Explain how a hash map works, with an example.",
    "Write a short poem about the sea in autumn.",
    "What are three study tips for a beginner programmer?",
    "How do I deploy a Django application to the cloud?",
    "Summarise the plot of a detective story in four sentences.",
    "서울에서 부산까지 가는 가장 좋은 방법은 무엇인가요?",
]
#: the last revision whose runner made one static batch per distinct parameter set
PREVIOUS = "fc9957e"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))  # this checkout's hanprompt, whatever is installed


def workloads() -> dict[str, dict]:
    """name -> experiment spec; every variant carries its own params so all sides read the same cells."""
    def spec(name, variants, repeat=1):
        return {"name": name, "repeat": repeat, "variants": variants}

    def variant(i, prompt, **params):
        return {"id": f"p{i}", "prompt": prompt, "params": params}

    return {
        "uniform": spec("uniform", [variant(i, p, max_new_tokens=48, temperature=0)
                                    for i, p in enumerate(PROMPTS)]),
        "mixed": spec("mixed", [variant(i, p, max_new_tokens=16 + 8 * i, temperature=0)
                                for i, p in enumerate(PROMPTS)]),
        "seeded": spec("seeded", [variant(i, p, max_new_tokens=32, temperature=0.8, seed=7)
                                  for i, p in enumerate(PROMPTS[:3])], repeat=5),
        "seeded-greedy-twin": spec("seeded-greedy-twin", [variant(i, p, max_new_tokens=32, temperature=0)
                                                          for i, p in enumerate(PROMPTS[:3])], repeat=5),
    }


#: (a): one generate() per cell, the way a script without hanprompt does it; prints the tokens made
PLAIN_LOOP = r"""
import time
t_import = time.perf_counter()
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
t_load = time.perf_counter()
path, spec = sys.argv[1], json.loads(sys.argv[2])
tokenizer = AutoTokenizer.from_pretrained(path)
model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
eos = model.generation_config.eos_token_id  # an int, a list of ints, or None
eos = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
t_gen = time.perf_counter()
generate_s = 0.0
made = 0
for v in spec["variants"]:
    p = v["params"]
    text = tokenizer.apply_chat_template([{"role": "user", "content": v["prompt"]}], tokenize=False,
                                         add_generation_prompt=True)
    batch = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    for r in range(spec["repeat"]):
        kw = dict(max_new_tokens=p["max_new_tokens"], pad_token_id=tokenizer.pad_token_id)
        if p["temperature"] > 0:
            torch.manual_seed(p["seed"] + r)
            kw.update(do_sample=True, temperature=p["temperature"])
        else:
            kw.update(do_sample=False)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**batch, **kw)
        generate_s += time.perf_counter() - t0
        new = out[0, batch["input_ids"].shape[1]:].tolist()
        cut = next((i for i, t in enumerate(new) if t in eos), None)
        made += len(new) if cut is None else cut + 1
print(json.dumps({"tokens": made, "phases": {"import": t_load - t_import, "load": t_gen - t_load,
                                              "generate": generate_s}}))
"""


def _timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd[:4])} ...\n{done.stderr[-2000:]}")
    return wall, done


def plain_loop(model: Path, spec: dict, env: dict) -> dict:
    wall, done = _timed([sys.executable, "-c", PLAIN_LOOP, str(model), json.dumps(spec)], env)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"s": wall, "tokens": result["tokens"], "phases": result["phases"]}


def _phases(line: str) -> dict[str, float]:
    """``import 1.20 s · load 0.80 s · prefill ...`` (``hanprompt run --debug``) -> seconds per phase,
    prefill and decode added up as ``generate``; ``other`` and ``process`` are left out (the wall
    time of the whole process, measured here, replaces them)."""
    out: dict[str, float] = {}
    for part in line.split(" · "):
        found = re.fullmatch(r"(\w+) (-?[0-9.]+) s.*", part.strip())
        if not found:
            continue
        name, value = found.groups()
        if name in ("prefill", "decode"):
            out["generate"] = out.get("generate", 0.0) + float(value)
        elif name not in ("other", "process"):
            out[name] = out.get(name, 0.0) + float(value)
    return out


def hanprompt_run(model: Path, file: Path, env: dict, src: Path | None, home: Path, *extra: str) -> dict:
    """``hanprompt run`` in a fresh process: this checkout's, or with ``src``, another revision's."""
    env = dict(env, HANPROMPT_HOME=str(home), PYTHONPATH=str(src or REPO / "src"))
    cmd = [sys.executable, "-m", "hanprompt", "run", str(file), "--model", str(model), "--no-cache", "--json",
           *extra]
    if src is None:
        cmd.append("--debug")  # the phase split, on stderr
    wall, done = _timed(cmd, env)
    results = json.loads(done.stdout)
    out = {"s": wall, "tokens": sum(r["output_tokens"] for r in results if not r.get("cached"))}
    split = re.search(r"phases: (.*)", done.stderr)
    if split:
        out["phases"] = _phases(split.group(1).strip())
    kernels = re.search(r"^hanprompt: \S+: ((?:oneDNN|plain nn\.Linear).*)$", done.stderr, re.M)
    if kernels:
        out["kernels"] = kernels.group(1)
    return out


def measure_host(model: Path, env: dict) -> str:
    """Load ``model`` once through this checkout's hf backend, untimed: the host's measurement of the
    packed linear layers (made at the first load on a host, kept in hanprompt's cache folder) is then
    read by every timed process, as it is by every run after a host's first. Returns the choice made."""
    code = ("from hanprompt.backends import registry; import sys; "
            "print(registry.load('hf:' + sys.argv[1]).info.kernels or 'no CPU kernel choice')")
    done = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True,
                          env=dict(env, PYTHONPATH=str(REPO / "src")))
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}) loading {model}:\n{done.stderr[-2000:]}")
    return done.stdout.strip().splitlines()[-1]


def _shown(phases: dict[str, float]) -> str:
    return " · ".join(f"{k} {v:.2f} s" for k, v in phases.items())


def print_phase_table(names: list[str], times: dict[tuple[str, str], list[dict]]) -> None:
    """Median seconds per phase of each side; 'outside generation' is the process's wall time less
    its generation (prefill + decode), the fixed costs a user waits for whatever the matrix."""
    print("| workload | side | process | import | load | generate | outside generation | vs the loop |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        loop_outside = None
        for side in ("loop", "now", "now-plain", "previous"):
            runs = times.get((name, side))
            if not runs or not all(r.get("phases") for r in runs):
                continue

            def med(key: str) -> float:
                return statistics.median(r["phases"].get(key, 0.0) for r in runs)

            wall = statistics.median(r["s"] for r in runs)
            outside = statistics.median(r["s"] - r["phases"].get("generate", 0.0) for r in runs)
            if side == "loop":
                loop_outside = outside
            diff = "" if loop_outside is None or side == "loop" else f"{outside - loop_outside:+.2f} s"
            print(f"| {name} | {side} | {wall:.2f} s | {med('import'):.2f} s | {med('load'):.2f} s | "
                  f"{med('generate'):.2f} s | {outside:.2f} s | {diff} |")


def export_revision(rev: str, into: Path) -> Path:
    """The package source of ``rev`` (``git archive``), for running the previous runner."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    src = into / "src"
    check = subprocess.run([sys.executable, "-c", "import hanprompt; print(hanprompt.__file__)"],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(src)))
    if not check.stdout.strip().startswith(str(src)):
        sys.exit(f"the exported revision {rev} is not the one imported ({check.stdout.strip()}); "
                 "install hanprompt non-editable or run from a checkout")
    return src


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=["uniform", "mixed", "seeded"],
                        choices=["uniform", "mixed", "seeded"])
    parser.add_argument("--previous", default=PREVIOUS, help=f"git revision of the previous runner ({PREVIOUS})")
    parser.add_argument("--no-previous", action="store_true", help="skip side (c)")
    parser.add_argument("--model", type=Path, help="a model folder (default: build the SmolLM2-shaped one)")
    args = parser.parse_args()

    specs = workloads()
    names = [w for name in args.workloads for w in ([name, "seeded-greedy-twin"] if name == "seeded" else [name])]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            from hanprompt.testing.models import SMOLLM2_135M_SHAPE, build_tiny_llama

            model = build_tiny_llama(tmp / "smollm2-135m-shape", shape=SMOLLM2_135M_SHAPE)
        previous = None if args.no_previous else export_revision(args.previous, tmp / "previous")
        env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        env.pop("PYTHONPATH", None)
        files = {}
        for name in names:
            files[name] = tmp / f"{name}.yaml"
            files[name].write_text(yaml.safe_dump(specs[name], allow_unicode=True), encoding="utf-8")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        from hanprompt.bench.machine import cpu_model

        print(f"host: {cpu_model()} · {os.cpu_count()} CPUs · load average {load:.2f} at start")
        print(f"model: {model} · {args.rounds} rounds, median reported")
        print(f"packed linear layers, the host's measurement (made untimed before the rounds): {measure_host(model, env)}")
        times: dict[tuple[str, str], list[dict]] = {}
        for r in range(args.rounds):
            for name in names:
                sides = {"loop": lambda: plain_loop(model, specs[name], env),
                         "now": lambda: hanprompt_run(model, files[name], env, None, tmp / f"home-{name}-{r}"),
                         "now-plain": lambda: hanprompt_run(model, files[name], env, None, tmp / f"home-pl-{name}-{r}",
                                                            "--no-packed-linear")}
                if previous is not None:
                    sides["previous"] = lambda: hanprompt_run(model, files[name], env, previous,
                                                              tmp / f"home-prev-{name}-{r}")
                order = list(sides) if r % 2 == 0 else list(reversed(sides))
                for side in order:
                    got = sides[side]()
                    times.setdefault((name, side), []).append(got)
                    print(f"  round {r + 1} {name:>18} {side:>8}: {got['s']:6.1f} s, {got['tokens']} tokens"
                          + (f" · {_shown(got['phases'])}" if got.get("phases") else "")
                          + (f" · {got['kernels']}" if got.get("kernels") else ""), flush=True)
        med = {k: statistics.median(g["s"] for g in v) for k, v in times.items()}
        print()
        print("| workload | plain loop (a) | hanprompt now (b) | (b') plain nn.Linear | previous (c) | (a)/(b) | "
              "(a)/(b') | (c)/(b) |")
        print("|---|---|---|---|---|---|---|---|")
        for name in names:
            a, b, bp, c = med[(name, "loop")], med[(name, "now")], med[(name, "now-plain")], med.get((name, "previous"))
            print(f"| {name} | {a:.1f} s | {b:.1f} s | {bp:.1f} s | {f'{c:.1f} s' if c else '–'} | **{a / b:.2f}x** | "
                  f"{a / bp:.2f}x | {f'{c / b:.2f}x' if c else '–'} |")
        print()
        if "uniform" in names:
            print(f"uniform: (a)/(b) = {med[('uniform', 'loop')] / med[('uniform', 'now')]:.2f}x (target >= 3.5x)")
        if "mixed" in names and "uniform" in names:
            print(f"mixed / uniform, hanprompt now: {med[('mixed', 'now')] / med[('uniform', 'now')]:.2f}x "
                  "(target <= 1.3x)")
        if "seeded" in names:
            print(f"seeded / its greedy twin, hanprompt now: "
                  f"{med[('seeded', 'now')] / med[('seeded-greedy-twin', 'now')]:.2f}x (target <= 1.3x)")
        print()
        print_phase_table(names, times)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"host: {cpu_model()} · load average {load:.2f} at the end")


if __name__ == "__main__":
    main()
