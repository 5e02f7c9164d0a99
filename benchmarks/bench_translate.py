"""Translation speed: transformers MT with segments batched vs one segment at a time.

A random-weight MarianMT model with opus-mt-en-ko's base shape (d_model 512, 6+6 layers; the
tc-big model is about 3x larger) and a trained tokenizer translates the shipped 60-sentence
reference set twice, batched (16 per batch) and one by one, greedy, with the output length
fixed so both sides do the same work. Prints segments/s of each and the ratio.

    python benchmarks/bench_translate.py [--threads 2] [--new-tokens 32]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "examples" / "translation" / "en-ko.en"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32, help="output length of every segment")
    args = parser.parse_args()

    import torch
    from transformers import GenerationConfig, MarianConfig, MarianMTModel

    from hanprompt.testing.mt_models import build_tiny_marian
    from hanprompt.translate import base
    from hanprompt.translate.languages import language

    torch.set_num_threads(args.threads)
    texts = SRC.read_text(encoding="utf-8").splitlines()
    with tempfile.TemporaryDirectory() as tmp:
        path = build_tiny_marian(Path(tmp) / "marian")
        cfg = MarianConfig.from_pretrained(path)
        dims = dict(d_model=512, encoder_layers=6, decoder_layers=6, encoder_attention_heads=8,
                    decoder_attention_heads=8, encoder_ffn_dim=2048, decoder_ffn_dim=2048,
                    max_position_embeddings=512)
        big = MarianConfig(**{**cfg.to_dict(), **dims})
        torch.manual_seed(0)
        model = MarianMTModel(big)
        pad = cfg.pad_token_id
        # min_new_tokens = max_length: every segment produces the same number of tokens.
        model.generation_config = GenerationConfig(
            decoder_start_token_id=pad, eos_token_id=0, pad_token_id=pad, num_beams=1,
            max_length=args.new_tokens, min_new_tokens=args.new_tokens, bad_words_ids=[[pad]])
        model.save_pretrained(path)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        results = {}
        for label, size in (("one by one", 1), ("batched x16", 16)):
            t = base.load(f"mt:{path}", batch_size=size)
            t.translate(texts[:2], language("en"), language("ko"))  # warm-up
            start = time.perf_counter()
            t.translate(texts, language("en"), language("ko"))
            results[label] = len(texts) / (time.perf_counter() - start)
    print(f"MarianMT shape d_model 512, 6+6 layers ({params:.1f} M params, random weights), "
          f"{len(texts)} segments, {args.new_tokens} output tokens each, {args.threads} threads")
    for label, rate in results.items():
        print(f"  {label:12s} {rate:7.2f} segments/s")
    print(f"  ratio        {results['batched x16'] / results['one by one']:.1f}x")


if __name__ == "__main__":
    main()
