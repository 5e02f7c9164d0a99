"""A tiny sentence-transformers model with random weights, saved like one from the hub.

A real BERT architecture, a real WordPiece tokenizer trained here on Korean and English, and the
usual sentence-transformers modules (transformer, mean pooling, normalisation), so it loads
through ``SentenceTransformer(path)`` exactly as ``intfloat/multilingual-e5-small`` does.
"""
from __future__ import annotations

from pathlib import Path

from hanprompt.testing.corpus import SENTENCES


def train_wordpiece_tokenizer(vocab_size: int = 800):
    """A BERT-style ``PreTrainedTokenizerFast`` (WordPiece, [CLS] ... [SEP]) trained on the corpus."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tok.train_from_iterator(SENTENCES * 3, trainer=trainer)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        mask_token="[MASK]", model_max_length=128,
    )


def _modules():
    try:  # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:  # 3.x - 5.x
        from sentence_transformers.models import Normalize, Pooling, Transformer
    return Transformer, Pooling, Normalize


def build_tiny_embedder(path: str | Path, *, hidden_size: int = 32, seed: int = 0) -> Path:
    """Save a random-weight sentence-transformers model (BERT, mean pooling, normalised) to ``path``."""
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    transformers.utils.logging.disable_progress_bar()
    path = Path(path)
    bert = path / "_bert"
    tokenizer = train_wordpiece_tokenizer()
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=hidden_size * 2, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(bert)
    tokenizer.save_pretrained(bert)
    Transformer, Pooling, Normalize = _modules()
    encoder = Transformer(str(bert), max_seq_length=128)
    dim = getattr(encoder, "get_embedding_dimension", None) or encoder.get_word_embedding_dimension  # < 6
    model = SentenceTransformer(modules=[encoder, Pooling(dim(), "mean"), Normalize()], device="cpu")
    model.save(str(path))
    import shutil

    shutil.rmtree(bert)
    return path


if __name__ == "__main__":  # python -m hanprompt.testing.embedders DIR
    import argparse

    parser = argparse.ArgumentParser(prog="python -m hanprompt.testing.embedders",
                                     description="Write a tiny random-weight sentence-transformers model to DIR.")
    parser.add_argument("path", metavar="DIR", help="the folder to write")
    print(build_tiny_embedder(parser.parse_args().path))
