"""GGUF decoding: bare llama-cpp-python vs hanprompt's gguf: backend, in one process.

A random-weight Llama with SmolLM2-135M's shape is written as GGUF (float32 and q8_0) by
``hanprompt.testing.gguf_models``; then the same greedy prompt runs, alternating side by side:
(a) bare llama-cpp-python, ``Llama.generate`` token by token, stopping at end-of-generation,
the thinnest loop its API offers; (b) ``GGUFBackend.generate`` (chat template, tokenization,
streaming UTF-8 decoding, timings). Both run greedy with the same threads and context.

Decode tokens/s = (tokens - 1) / (time of the last token - time of the first token);
TTFT = start (before tokenization) -> first token. Medians over ``--reps`` alternating rounds.

    python benchmarks/bench_gguf.py [--threads 2] [--tokens 128] [--reps 5] [--outtypes f32 q8_0]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

MESSAGES = [{"role": "user", "content": "Recommend travel destinations in Korea, with a reason for each."}]


def bare(llm, prompt: str, tokens: int) -> dict:
    """(a) llama-cpp-python alone: tokenize, then generate() until EOG or ``tokens``."""
    import llama_cpp

    start = time.perf_counter()
    ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    stamps = []
    gen = llm.generate(ids, temp=0.0, top_k=0, min_p=0.0, repeat_penalty=1.0)
    for token in gen:
        stamps.append(time.perf_counter())
        if llama_cpp.llama_vocab_is_eog(llm._model.vocab, token) or len(stamps) >= tokens:
            break
    gen.close()
    return _figures(start, stamps)


def hanprompt_side(backend, tokens: int) -> dict:
    """(b) hanprompt's gguf: backend, the path ``ask`` and ``run`` take."""
    from hanprompt.backends.base import GenParams

    c = backend.generate(MESSAGES, GenParams(max_new_tokens=tokens))
    decode_s = c.total_s - c.ttft_s
    return {"n": c.output_tokens, "ttft_s": c.ttft_s,
            "decode_tok_s": (c.output_tokens - 1) / decode_s if decode_s > 0 else float("nan")}


def _figures(start: float, stamps: list[float]) -> dict:
    decode_s = stamps[-1] - stamps[0]
    return {"n": len(stamps), "ttft_s": stamps[0] - start,
            "decode_tok_s": (len(stamps) - 1) / decode_s if decode_s > 0 else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--outtypes", nargs="+", default=["f32", "q8_0"])
    args = parser.parse_args()

    import llama_cpp

    from hanprompt.backends import registry
    from hanprompt.testing.gguf_models import write_gguf
    from hanprompt.testing.models import SMOLLM2_135M_SHAPE, build_tiny_llama

    print(f"llama-cpp-python {llama_cpp.__version__}, {args.threads} threads, {args.tokens} greedy tokens, "
          f"median of {args.reps} alternating rounds")
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_tiny_llama(Path(tmp) / "smollm2-shape", shape=SMOLLM2_135M_SHAPE)
        for outtype in args.outtypes:
            path = write_gguf(folder, Path(tmp) / f"smollm2-shape-{outtype}.gguf", outtype=outtype)
            size_mb = path.stat().st_size / 1e6
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=1024, n_threads=args.threads,
                                  n_threads_batch=args.threads, verbose=False)
            backend = registry.load(f"gguf:{path}", threads=args.threads, ctx_size=1024)
            prompt = backend.render(MESSAGES)
            bare(llm, prompt, 4)  # warm-up, both sides: first touch of the weights and buffers
            hanprompt_side(backend, 4)
            rounds: dict[str, list[dict]] = {"bare": [], "hanprompt": []}
            for _ in range(args.reps):
                rounds["bare"].append(bare(llm, prompt, args.tokens))
                rounds["hanprompt"].append(hanprompt_side(backend, args.tokens))
            med = {side: {k: statistics.median(r[k] for r in rs) for k in ("n", "ttft_s", "decode_tok_s")}
                   for side, rs in rounds.items()}
            ratio = med["hanprompt"]["decode_tok_s"] / med["bare"]["decode_tok_s"]
            print(f"\n{outtype} ({size_mb:.0f} MB)")
            print(f"  {'side':<34} {'tokens':>6} {'TTFT ms':>8} {'decode tok/s':>13}")
            for side, label in (("bare", "(a) llama-cpp-python generate()"), ("hanprompt", "(b) hanprompt gguf: backend")):
                m = med[side]
                print(f"  {label:<34} {m['n']:>6.0f} {m['ttft_s'] * 1000:>8.1f} {m['decode_tok_s']:>13.1f}")
            print(f"  ratio (b)/(a) decode: {ratio:.3f}x")
            llm.close()
            registry.clear_cache()


if __name__ == "__main__":
    main()
