"""Refilling slots: transformers' continuous batching vs hanprompt's refilled static batch, in one process.

A random-weight Llama with SmolLM2-135M's shape (float32, CPU) answers the 9 prompts of
``bench_matrix.py`` greedily, uniform (48 tokens each) and mixed (16, 24, ..., 80 tokens):

- (a) transformers 5.x continuous batching: a ``ContinuousBatchingManager`` (paged KV cache, its
  own scheduler thread) with one ``add_request`` per prompt and its own ``max_new_tokens``;
- (b) hanprompt's ``ContinuousBatcher`` (``HFBackend.generate_many``): ``DynamicCache`` rows that
  leave as they end and waiting rows joined between steps, at ``--max-batch`` 16 and 4;
- (c) the previous static batching: one left-padded ``model.generate`` per distinct
  ``max_new_tokens``;
- (d) (b) at max batch 16 on a second copy of the model loaded with ``packed_linear=False``:
  torch's plain ``nn.Linear`` (MKL) instead of oneDNN's packed layers (all other sides run on
  the packed model, hanprompt's default on the CPU in float32).

Generation only (the model is loaded and warmed up first); the best of ``--rounds`` per side.
Whether (a) and (b) produce the same greedy tokens is printed too.

    python benchmarks/bench_batching.py [--rounds 2] [--model DIR]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench_matrix import PROMPTS


def cb_side(backend, prompts: list[str], budgets: list[int]) -> tuple[float, list[str]]:
    """transformers' ContinuousBatchingManager, greedy, a max_new_tokens per request."""
    import torch
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    model, tok = backend.model, backend.tokenizer
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    gc = GenerationConfig(do_sample=False, max_new_tokens=max(budgets), eos_token_id=sorted(backend.stop_ids),
                          pad_token_id=tok.pad_token_id)
    longest = max(len(i) for i in ids) + max(budgets)
    # a paged cache sized for the workload (the default sizes it from free memory)
    cbc = ContinuousBatchingConfig(page_size=64, num_blocks=len(ids) * (longest // 64 + 2),
                                   max_batch_tokens=max(256, sum(len(i) for i in ids)))
    t0 = time.perf_counter()
    manager = model.init_continuous_batching(generation_config=gc, continuous_batching_config=cbc)
    manager.start()
    try:
        order = [manager.add_request(i, max_new_tokens=n) for i, n in zip(ids, budgets)]
        results = {}
        while len(results) < len(order):
            r = manager.get_result(timeout=60)
            if r is None:
                raise SystemExit("continuous batching returned nothing for 60 s")
            if r.is_finished():
                results[r.request_id] = r.generated_tokens
    finally:
        manager.stop(block=True)
        model.destroy_cached_continuous_batching_manager()
    wall = time.perf_counter() - t0
    torch.set_grad_enabled(True)
    texts = []
    for k in order:
        new = results[k]
        cut = next((i for i, t in enumerate(new) if t in backend.stop_ids), len(new))
        texts.append(tok.decode(new[:cut], skip_special_tokens=True))
    return wall, texts


def refill_side(backend, prompts: list[str], budgets: list[int], max_batch: int) -> tuple[float, list[str]]:
    from hanprompt.backends.base import GenParams

    requests = [([{"role": "user", "content": p}], GenParams(max_new_tokens=n)) for p, n in zip(prompts, budgets)]
    t0 = time.perf_counter()
    out = backend.generate_many(requests, max_batch=max_batch)
    wall = time.perf_counter() - t0
    return wall, [c.text for c in out]


def static_side(backend, prompts: list[str], budgets: list[int]) -> float:
    import torch

    t0 = time.perf_counter()
    for n in sorted(set(budgets)):
        batch = backend._encode([p for p, b in zip(prompts, budgets) if b == n])
        with torch.inference_mode():
            backend.model.generate(**batch, max_new_tokens=n, do_sample=False, pad_token_id=backend.tokenizer.pad_token_id,
                                   eos_token_id=sorted(backend.stop_ids))
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--no-cb", action="store_true", help="skip transformers' continuous batching")
    args = parser.parse_args()

    import torch

    from hanprompt.backends import registry

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from hanprompt.testing.models import SMOLLM2_135M_SHAPE, build_tiny_llama

            model = build_tiny_llama(Path(tmp) / "smollm2-135m-shape", shape=SMOLLM2_135M_SHAPE)
        backend = registry.load(str(model))
        plain = registry.load(str(model), packed_linear=False)
        print(f"(a)-(c): {backend.info.kernels or 'plain nn.Linear'}; (d): {plain.info.kernels or 'plain nn.Linear'}")
        prompts = [backend.render([{"role": "user", "content": p}]) for p in PROMPTS]
        refill_side(backend, prompts[:2], [4, 4], 2)  # warm-up
        refill_side(plain, prompts[:2], [4, 4], 2)
        print(f"torch threads {torch.get_num_threads()} · load average {os.getloadavg()[0]:.2f} at start")
        for name, budgets in (("uniform", [48] * 9), ("mixed", [16 + 8 * i for i in range(9)])):
            tokens = sum(budgets)
            best: dict[str, float] = {}
            same = None
            for _ in range(args.rounds):
                if not args.no_cb:
                    wall, cb_tokens = cb_side(backend, prompts, budgets)
                    best["(a) transformers continuous batching"] = min(best.get("(a) transformers continuous batching", 1e9), wall)
                wall, ours = refill_side(backend, PROMPTS, budgets, 16)
                best["(b) hanprompt refill, max batch 16"] = min(best.get("(b) hanprompt refill, max batch 16", 1e9), wall)
                wall, _ = refill_side(backend, PROMPTS, budgets, 4)
                best["(b) hanprompt refill, max batch 4"] = min(best.get("(b) hanprompt refill, max batch 4", 1e9), wall)
                best["(c) static batch per max_new_tokens"] = min(best.get("(c) static batch per max_new_tokens", 1e9),
                                                                  static_side(backend, prompts, budgets))
                wall, _ = refill_side(plain, PROMPTS, budgets, 16)
                best["(d) as (b) 16, plain nn.Linear"] = min(best.get("(d) as (b) 16, plain nn.Linear", 1e9), wall)
                if not args.no_cb:
                    same = [a == b for a, b in zip(cb_tokens, ours)]
            ref = best["(b) hanprompt refill, max batch 16"]
            print(f"\n{name}: 9 prompts, {tokens} tokens (best of {args.rounds})")
            for side, wall in best.items():
                print(f"  {side:<40} {wall:6.2f} s  {tokens / wall:6.1f} tok/s  {wall / ref:5.2f}x the time of (b) 16")
            if same is not None:
                print(f"  greedy answers of (a) equal to (b): {sum(same)} of {len(same)} rows")
        print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
