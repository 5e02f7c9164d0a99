"""Backends side by side: hf float32 against GGUF f32 and q8_0, and hanprompt's gguf path against
bare llama-cpp-python on the same file.

A random-weight Llama with SmolLM2-135M's shape (``hanprompt.testing.models``) is written as
GGUF f32 and q8_0 (``hanprompt.testing.gguf_models``) in a temporary folder. In one process:

(1) ``hanprompt.bench.run_bench`` over the three models, CPU only: decode tokens/s, the
    roofline ceiling (bandwidth measured once, at the start) and MBU for each;
(2) for each GGUF file, hanprompt's gguf backend (``backend.generate`` with ``ignore_eos``)
    against bare llama-cpp-python (``Llama.generate`` on the same prompt tokens, no
    detokenizing), both with the same context and threads and both generating past
    end-of-generation tokens, alternating round by round; decode tokens/s = (tokens - 1) /
    (time of the last token - time of the first).

    python benchmarks/bench_backends.py [--prompt-tokens 128] [--gen-tokens 64] [--rounds 5] [--pairs 12] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def build(workdir: Path) -> dict[str, Path]:
    from hanprompt.testing.gguf_models import write_gguf
    from hanprompt.testing.models import SMOLLM2_135M_SHAPE, build_tiny_llama

    hf = build_tiny_llama(workdir / "smollm2-shape", shape=SMOLLM2_135M_SHAPE, max_position_embeddings=2048)
    return {
        "hf": hf,
        "f32": write_gguf(hf, workdir / "smollm2-shape-f32.gguf", outtype="f32"),
        "q8_0": write_gguf(hf, workdir / "smollm2-shape-q8_0.gguf", outtype="q8_0"),
    }


def roofline_part(files: dict[str, Path], args, workdir: Path) -> list[dict]:
    """(1) hanprompt bench over hf float32, gguf f32 and gguf q8_0."""
    from hanprompt.bench import BenchOptions, run_bench

    options = BenchOptions(
        models=(f"hf:{files['hf']}", f"gguf:{files['f32']}", f"gguf:{files['q8_0']}"),
        devices=("cpu",), dtypes=("float32",), prompt_tokens=args.prompt_tokens, gen_tokens=args.gen_tokens,
        repeat=args.rounds, warmup=1, threads=args.threads,
    )
    report = run_bench(options, db=f"sqlite:///{workdir / 'bench.db'}")
    print(f"\n(1) hanprompt bench, CPU, prompt {args.prompt_tokens} tokens, {args.gen_tokens} generated, "
          f"{args.rounds} runs after 1 warm-up; bandwidth {report.bandwidth['cpu']['gb_s']:.1f} GB/s "
          f"({report.bandwidth['cpu']['source']})")
    print(f"{'model':<10} {'weights MB':>10} {'prefill tok/s':>14} {'decode tok/s':>16} {'ceiling':>8} {'MBU':>6} "
          f"{'vs hf':>6}")
    rows = []
    base = None
    for name, row in zip(("hf f32", "gguf f32", "gguf q8_0"), report.rows):
        m = row["metrics"]
        if row["status"] != "ok":
            print(f"{name:<10} {row['status']}: {row['reason']}")
            continue
        roof, d = m["roofline"], m["decode_tok_s"]
        base = base or d["mean"]
        print(f"{name:<10} {roof['shape']['read_per_token_bytes'] / 1e6:>10.0f} "
              f"{m['prefill_tok_s']['mean']:>14.1f} {d['mean']:>9.1f} ± {d['stdev'] or 0:>4.1f} "
              f"{roof['ceiling_tok_s']:>8.1f} {roof['mbu']:>6.1%} {d['mean'] / base:>5.2f}x")
        rows.append({"name": name, "decode": d["mean"], "ceiling": roof["ceiling_tok_s"], "mbu": roof["mbu"]})
    return rows


def bare_decode(llm, ids: list[int], gen_tokens: int) -> float:
    """Decode tokens/s of one greedy run with bare llama-cpp-python: ``Llama.generate`` on the
    prompt's token ids, ``gen_tokens`` tokens taken, past any end-of-generation token."""
    stamps: list[float] = []
    tokens = llm.generate(ids, temp=0.0, top_k=0, min_p=0.0, repeat_penalty=1.0)
    try:
        for _ in tokens:
            stamps.append(time.perf_counter())
            if len(stamps) >= gen_tokens:
                break
    finally:
        tokens.close()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def overhead_part(files: dict[str, Path], args) -> list[dict]:
    """(2) hanprompt's gguf backend against bare llama-cpp-python, alternating."""
    import llama_cpp

    from hanprompt.backends.base import GenParams
    from hanprompt.backends.registry import backend_class, parse_spec
    from hanprompt.bench import tokens
    from hanprompt.bench.measure import decode_rate

    print(f"\n(2) hanprompt gguf path vs bare llama-cpp-python {llama_cpp.__version__}, same file, "
          f"{args.threads} threads, {args.pairs} alternating pairs (median decode tok/s; ratio: median of "
          "the pairs' ratios)")
    print(f"{'file':<10} {'bare':>8} {'hanprompt':>10} {'ratio':>7}")
    out = []
    for kind in ("f32", "q8_0"):
        backend = backend_class("gguf").load(str(files[kind]), threads=args.threads)
        count, _ = tokens.counter(parse_spec(f"gguf:{files[kind]}"))
        messages = tokens.filler_messages(count, backend.render, args.prompt_tokens)
        params = GenParams(max_new_tokens=args.gen_tokens, ignore_eos=True)
        llm = llama_cpp.Llama(model_path=str(files[kind]), n_ctx=backend.context_length, n_threads=args.threads,
                              n_threads_batch=args.threads, verbose=False)
        ids = llm.tokenize(backend.render(messages).encode("utf-8"), add_bos=False, special=True)
        backend.generate(messages, params)  # warm-up, both sides
        bare_decode(llm, ids, args.gen_tokens)
        ours, bare = [], []
        for i in range(args.pairs):  # who goes first alternates, so a slow spell hits both sides
            first, second = (0, 1) if i % 2 == 0 else (1, 0)
            pair = [0.0, 0.0]
            for side in (first, second):
                if side == 0:
                    c = backend.generate(messages, params)
                    assert c.output_tokens == args.gen_tokens, c.output_tokens
                    pair[0] = decode_rate(c)
                else:
                    pair[1] = bare_decode(llm, ids, args.gen_tokens)
            ours.append(pair[0])
            bare.append(pair[1])
        b, h = statistics.median(bare), statistics.median(ours)
        ratio = statistics.median(o / x for o, x in zip(ours, bare))
        print(f"{kind:<10} {b:>8.1f} {h:>10.1f} {ratio:>7.1%}")
        out.append({"file": kind, "bare": b, "hanprompt": h, "ratio": ratio})
        del backend, llm
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--gen-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per configuration in (1)")
    parser.add_argument("--pairs", type=int, default=12, help="alternating hanprompt/bare pairs in (2)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    with tempfile.TemporaryDirectory(prefix="hanprompt-bench-") as tmp:
        workdir = Path(tmp)
        files = build(workdir)
        roofline_part(files, args, workdir)
        overhead_part(files, args)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
