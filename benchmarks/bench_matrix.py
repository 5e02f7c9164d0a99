"""Experiment matrix: sequential ``model.generate`` per prompt vs ``hanprompt run``, in one process.

A random-weight Llama with SmolLM2-135M's shape answers 9 prompts with 64 greedy tokens each:
(a) the way the old scripts did it, one ``generate`` call per prompt with plain transformers;
(b) hanprompt's experiment runner (spec file, batching, SQLite log), model load included.
Both count the tokens they actually generated (a row that hits EOS counts up to its EOS).

    python benchmarks/bench_matrix.py [--concurrency 16 8] [--tokens 64]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def sequential(path: Path, tokens: int) -> dict:
    """(a) One generate() per prompt, plain transformers, float32 on CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    load_s = time.perf_counter() - t0
    eos = set(model.generation_config.eos_token_id or [])
    generated, t1 = 0, time.perf_counter()
    for prompt in PROMPTS:
        text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
        batch = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**batch, max_new_tokens=tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        new = out[0, batch["input_ids"].shape[1]:].tolist()
        cut = next((i for i, t in enumerate(new) if t in eos), None)
        generated += len(new) if cut is None else cut + 1
    gen_s = time.perf_counter() - t1
    return {"tokens": generated, "load_s": load_s, "gen_s": gen_s}


def hanprompt_run(path: Path, tokens: int, concurrency: int, workdir: Path) -> dict:
    """(b) The experiment runner on the same prompts, load, batching and logging included."""
    import yaml

    from hanprompt.backends import registry
    from hanprompt.experiments import model_entries, run_experiment
    from hanprompt.store import open_engine
    from hanprompt.store.experiments import run_results

    spec = {"name": "bench", "params": {"max_new_tokens": tokens, "temperature": 0},
            "variants": [{"id": f"p{i}", "prompt": p} for i, p in enumerate(PROMPTS)]}
    file = workdir / f"bench-{concurrency}.yaml"
    file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    db = f"sqlite:///{workdir / f'bench-{concurrency}.db'}"
    registry.clear_cache()  # the load is part of what is measured
    t0 = time.perf_counter()
    summary = run_experiment(file, models=model_entries([str(path)]), max_concurrency=concurrency,
                             use_cache=False, db=db)
    total_s = time.perf_counter() - t0
    results = run_results(open_engine(db), summary.run_id)
    return {"tokens": sum(r["output_tokens"] for r in results), "total_s": total_s,
            "load_s": results[0]["load_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 8],
                        help="--max-concurrency values to measure (default: 16, the default, then 8)")
    args = parser.parse_args()

    import torch

    from hanprompt.testing.models import SMOLLM2_135M_SHAPE, build_tiny_llama

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        path = build_tiny_llama(workdir / "smollm2-135m-shape", shape=SMOLLM2_135M_SHAPE)
        print(f"model: random Llama, SmolLM2-135M shape · torch threads {torch.get_num_threads()} · "
              f"{len(PROMPTS)} prompts x {args.tokens} tokens")
        a = sequential(path, args.tokens)
        seq_gen = a["tokens"] / a["gen_s"]
        seq_all = a["tokens"] / (a["gen_s"] + a["load_s"])
        print(f"(a) sequential generate: {a['tokens']} tokens in {a['gen_s']:.1f} s -> {seq_gen:.1f} tok/s "
              f"({seq_all:.1f} tok/s with its {a['load_s']:.1f} s load)")
        for c in args.concurrency:
            b = hanprompt_run(path, args.tokens, c, workdir)
            rate = b["tokens"] / b["total_s"]
            print(f"(b) hanprompt run --max-concurrency {c}: {b['tokens']} tokens in {b['total_s']:.1f} s, "
                  f"load ({b['load_s']:.1f} s) and logging included -> {rate:.1f} tok/s · "
                  f"ratio {rate / seq_gen:.2f}x vs (a) without its load, {rate / seq_all:.2f}x with it")


if __name__ == "__main__":
    main()
