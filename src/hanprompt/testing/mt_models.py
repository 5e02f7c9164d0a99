"""Tiny random-weight translation models (MarianMT, M2M100) with real tokenizers trained here.

The SentencePiece models are trained on a few English and Korean sentences and saved in the
files each tokenizer reads (Marian: source.spm, target.spm, vocab.json; M2M100:
sentencepiece.bpe.model, vocab.json), so ``from_pretrained`` loads them like a hub model.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

from hanprompt.testing.corpus import SENTENCES

EXTRA_SENTENCES = [
    "Where is the nearest subway station?",
    "가장 가까운 지하철역이 어디에 있나요?",
    "The meeting starts at nine tomorrow morning.",
    "회의는 내일 아침 아홉 시에 시작합니다.",
    "Please restart the server after the update.",
    "업데이트 후에 서버를 다시 시작해 주세요.",
    "I would like a window seat, please.",
    "창가 자리로 부탁드립니다.",
]
#: Random weights never emit the end token: a short output limit keeps tests fast.
MAX_OUTPUT = 24
MODEL_DIMS = dict(d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                  decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64)


def train_sentencepiece(vocab_size: int = 300, user_symbols: list[str] | None = None) -> bytes:
    """A unigram SentencePiece model trained on English and Korean sentences, as bytes."""
    import sentencepiece as spm

    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter((SENTENCES + EXTRA_SENTENCES) * 4),
        model_writer=out,
        vocab_size=vocab_size,
        character_coverage=1.0,
        hard_vocab_limit=False,
        model_type="unigram",
        user_defined_symbols=user_symbols or [],
        minloglevel=2,
    )
    return out.getvalue()


def _pieces(model: bytes) -> list[str]:
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_proto=model)
    return [sp.id_to_piece(i) for i in range(sp.get_piece_size())]


def build_tiny_marian(path: str | Path, *, target_tokens: list[str] | None = None,
                      source_lang: str = "en", target_lang: str = "ko", seed: int = 0) -> Path:
    """Save a random-weight MarianMT model; ``target_tokens`` (``>>kor<<``) make it multi-target."""
    import torch
    import transformers
    from transformers import GenerationConfig, MarianConfig, MarianMTModel, MarianTokenizer

    transformers.utils.logging.disable_progress_bar()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spm_model = train_sentencepiece()
    (path / "source.spm").write_bytes(spm_model)
    (path / "target.spm").write_bytes(spm_model)
    # Marian's layout: </s> 0, <unk> 1, the pieces, language tokens, <pad> last.
    vocab = ["</s>", "<unk>"] + [p for p in _pieces(spm_model) if p not in ("<unk>", "<s>", "</s>")]
    vocab += list(target_tokens or []) + ["<pad>"]
    (path / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}, ensure_ascii=False))
    tokenizer = MarianTokenizer(
        source_spm=str(path / "source.spm"), target_spm=str(path / "target.spm"),
        vocab=str(path / "vocab.json"), source_lang=source_lang, target_lang=target_lang,
    )
    pad = len(vocab) - 1
    config = MarianConfig(vocab_size=len(vocab), pad_token_id=pad, eos_token_id=0,
                          decoder_start_token_id=pad, max_position_embeddings=128, **MODEL_DIMS)
    torch.manual_seed(seed)
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=pad, eos_token_id=0, pad_token_id=pad, num_beams=1,
        bad_words_ids=[[pad]], max_length=MAX_OUTPUT,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_tiny_m2m100(path: str | Path, *, seed: int = 0) -> Path:
    """Save a random-weight M2M100 model with its language tokens (``__ko__``, ``__en__``, ...)."""
    import torch
    import transformers
    from transformers import GenerationConfig, M2M100Config, M2M100ForConditionalGeneration, M2M100Tokenizer

    transformers.utils.logging.disable_progress_bar()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    spm_model = train_sentencepiece()
    (path / "sentencepiece.bpe.model").write_bytes(spm_model)
    # fairseq's layout: <s> 0, <pad> 1, </s> 2, <unk> 3, then the pieces.
    vocab = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab += [p for p in _pieces(spm_model) if p not in vocab]
    (path / "vocab.json").write_text(json.dumps({p: i for i, p in enumerate(vocab)}, ensure_ascii=False))
    tokenizer = M2M100Tokenizer(vocab_file=str(path / "vocab.json"),
                                spm_file=str(path / "sentencepiece.bpe.model"))
    # Language tokens and fairseq's "madeup words" follow the pieces; len(tokenizer) omits them.
    size = tokenizer.encoder_size + len(tokenizer.lang_code_to_id) + tokenizer.num_madeup_words
    config = M2M100Config(vocab_size=size, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                          decoder_start_token_id=2, max_position_embeddings=128, **MODEL_DIMS)
    torch.manual_seed(seed)
    model = M2M100ForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        decoder_start_token_id=2, bos_token_id=0, eos_token_id=2, pad_token_id=1, num_beams=1,
        max_length=MAX_OUTPUT,
    )
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


if __name__ == "__main__":  # python -m hanprompt.testing.mt_models DIR [--family marian|m2m100]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hanprompt.testing.mt_models",
                                     description="Write a tiny random-weight MT model (real tokenizer) to DIR.")
    parser.add_argument("path", metavar="DIR", help="the folder to write")
    parser.add_argument("--family", choices=["marian", "m2m100"], default="marian",
                        help="marian: an en->ko pair like opus-mt; m2m100: many languages (default: marian)")
    args = parser.parse_args()
    print((build_tiny_marian if args.family == "marian" else build_tiny_m2m100)(args.path))
