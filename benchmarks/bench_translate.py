"""Translation speed: transformers MT batched vs one by one, and CTranslate2 int8 vs transformers.

A random-weight MarianMT model with opus-mt-en-ko's base shape (d_model 512, 6+6 layers; the
tc-big model is about 3x larger) and a trained tokenizer translates the shipped 60-sentence
reference set, greedy, with the output length fixed so every side does the same work:
transformers batched (16 per batch) and one by one, then the same model converted by
CTranslate2's converter to int8 (``ct2:``), batched 16 per batch. Prints segments/s and ratios.

    python benchmarks/bench_translate.py [--threads 2] [--new-tokens 32] [--no-ct2]
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
    parser.add_argument("--no-ct2", action="store_true", help="skip the CTranslate2 side")
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
        if not args.no_ct2:
            results["ct2 int8 x16"] = _ct2_rate(path, texts, args.threads)
    print(f"MarianMT shape d_model 512, 6+6 layers ({params:.1f} M params, random weights), "
          f"{len(texts)} segments, {args.new_tokens} output tokens each, {args.threads} threads")
    for label, rate in results.items():
        print(f"  {label:12s} {rate:7.2f} segments/s")
    print(f"  ratio        {results['batched x16'] / results['one by one']:.1f}x (transformers batched / one by one)")
    if "ct2 int8 x16" in results:
        print(f"  ratio        {results['ct2 int8 x16'] / results['batched x16']:.1f}x "
              "(ct2 int8 batched / transformers batched)")


def _ct2_rate(path: Path, texts: list[str], threads: int) -> float:
    """Segments/s of the model converted to int8 by CTranslate2, 16 per batch, same output length."""
    from ctranslate2.converters import TransformersConverter

    from hanprompt.translate import base
    from hanprompt.translate.ct2 import TOKENIZER_FILES
    from hanprompt.translate.languages import language

    output = path.parent / "marian-ct2"
    # generation_config.json goes along: its max_length and min_new_tokens become CTranslate2's
    # max/min_decoding_length, so every segment gets exactly as many tokens as with transformers.
    files = [f for f in TOKENIZER_FILES if (path / f).is_file()]
    TransformersConverter(str(path), copy_files=files).convert(str(output), quantization="int8")
    t = base.load(f"ct2:{output}", device="cpu", compute_type="int8", batch_size=16, threads=threads)
    lengths = {len(row) for row in t.generate_tokens(texts[:16], language("en"), language("ko"))}
    if len(lengths) != 1:
        raise SystemExit(f"ct2 output lengths differ ({sorted(lengths)}): the workloads would not match")
    t.translate(texts[:2], language("en"), language("ko"))  # warm-up
    start = time.perf_counter()
    t.translate(texts, language("en"), language("ko"))
    return len(texts) / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
