"""Fixtures of the translation tests: tiny random-weight Marian and M2M100 models, built once."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "translation"


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory) -> Path:
    """A single-target (en -> ko) MarianMT model with trained SentencePiece tokenizers."""
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-ko")


@pytest.fixture(scope="session")
def tiny_marian_multi(tmp_path_factory) -> Path:
    """A multi-target Marian model that needs a >>kor<< / >>jpn<< token in front of the source."""
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-mul",
                             target_tokens=[">>kor<<", ">>jpn<<"], target_lang=None)


@pytest.fixture(scope="session")
def tiny_m2m100(tmp_path_factory) -> Path:
    """An M2M100 model with its 100 language tokens (__ko__, __en__, ...)."""
    from hanprompt.testing.mt_models import build_tiny_m2m100

    return build_tiny_m2m100(tmp_path_factory.mktemp("mt") / "m2m100")


@pytest.fixture
def count_rows(hanprompt_home):
    """Rows of a table in the default SQLite log (0 when the log or table does not exist)."""
    path = hanprompt_home / "hanprompt.db"

    def count(table: str) -> int:
        if not path.exists():
            return 0
        with sqlite3.connect(path, timeout=30) as conn:
            try:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    return count


@pytest.fixture
def default_engine():
    """The default log's engine (in this test's private home)."""
    from hanprompt import settings
    from hanprompt.store import open_engine

    return open_engine(settings.db_url())


def _convert(model: Path, output: Path, quantization: str) -> Path:
    """``model`` converted with CTranslate2's own converter, tokenizer files copied in."""
    from ctranslate2.converters import TransformersConverter

    from hanprompt.translate.ct2 import TOKENIZER_FILES

    files = [f for f in TOKENIZER_FILES if (model / f).is_file()]
    TransformersConverter(str(model), copy_files=files).convert(str(output), quantization=quantization)
    return output


def _m2m100_vocabulary(self, model, tokenizer):
    """The vocabulary CTranslate2's converter got from transformers 4: pieces, __xx__, madeup words."""
    tokens = [t for t, _ in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])]
    tokens += [tokenizer.id_to_lang_token[i] for i in sorted(tokenizer.id_to_lang_token)]
    return tokens + [f"madeupword{i}" for i in range(model.config.vocab_size - len(tokens))]


@pytest.fixture(scope="session")
def ct2_models(tmp_path_factory, tiny_marian, tiny_marian_multi, tiny_m2m100) -> dict[str, tuple[Path, Path]]:
    """family -> (transformers folder, its float32 CTranslate2 conversion); plus "int8".

    "marian" is the tiny Marian with its weights redrawn larger (std 0.1, the <pad> row kept
    zero as Marian starts decoding from it), so its greedy output depends on the input, which
    makes "same output as mt:" a real check. M2M100: transformers 5's tokenizer no longer lists
    the __xx__ language tokens in get_vocab(), which CTranslate2 4.x's converter reads, so it is
    given the vocabulary transformers 4 gave it (same ids; the conversion itself is unchanged).
    """
    import shutil

    import torch
    from ctranslate2.converters import transformers as ct2_transformers
    from transformers import AutoModelForSeq2SeqLM

    root = tmp_path_factory.mktemp("ct2")
    sharp = root / "marian-sharp"
    shutil.copytree(tiny_marian, sharp)
    model = AutoModelForSeq2SeqLM.from_pretrained(sharp)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        model.get_input_embeddings().weight[model.config.pad_token_id].zero_()
    model.save_pretrained(sharp)
    out = {"marian": (sharp, _convert(sharp, root / "marian-ct2", "float32")),
           "marian_multi": (tiny_marian_multi, _convert(tiny_marian_multi, root / "multi-ct2", "float32")),
           "int8": (sharp, _convert(sharp, root / "marian-int8", "int8"))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ct2_transformers.M2M100Loader, "get_vocabulary", _m2m100_vocabulary)
        out["m2m100"] = (tiny_m2m100, _convert(tiny_m2m100, root / "m2m100-ct2", "float32"))
    return out
