"""``ct2:<path>``: translation models converted to CTranslate2 (int8 on CPU by default).

The folder is written by CTranslate2's converter with the tokenizer files copied in::

    ct2-transformers-converter --model Helsinki-NLP/opus-mt-tc-big-en-ko --output_dir opus-ct2 \\
        --copy_files tokenizer_config.json vocab.json source.spm target.spm generation_config.json

The tokenizer (loaded with transformers) turns text into token strings, CTranslate2 translates
those, and the language handling of MarianMT, M2M100 and NLLB is the same as ``mt:``'s (see
``families``). A ``generation_config.json`` copied along supplies the beams and length limits.
"""
from __future__ import annotations

import time
from pathlib import Path

from hanprompt.errors import BackendError, DeviceError, ModelNotFound, UsageError, arg, one_line
from hanprompt.translate.base import Translator
from hanprompt.translate.families import LanguageHandling, model_max_tokens, tokenizer_family
from hanprompt.translate.languages import Language

#: files a transformers tokenizer (or generation config) may need; copied by the converter
TOKENIZER_FILES = (
    "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json", "vocab.json",
    "source.spm", "target.spm", "sentencepiece.bpe.model", "spiece.model", "generation_config.json",
)
INSTALL = "pip install 'hanprompt[ct2]'"


def converter_command(model: str | Path, output: str | Path) -> str:
    """The ``ct2-transformers-converter`` command that turns ``model`` into a ``ct2:`` folder."""
    folder = Path(model).expanduser()
    present = [f for f in TOKENIZER_FILES if (folder / f).is_file()] if folder.is_dir() else []
    files = present or ["tokenizer_config.json", "vocab.json", "source.spm", "target.spm",
                        "generation_config.json"]
    return (f"ct2-transformers-converter --model {model} --output_dir {output} "
            f"--quantization int8 --copy_files {' '.join(files)}")


def _ctranslate2():
    try:
        import ctranslate2
    except ImportError as e:
        raise BackendError(f"ct2: translators need CTranslate2, which is not installed; run {INSTALL}") from e
    return ctranslate2


def _check_folder(name: str) -> Path:
    from hanprompt.backends.hub import download_command, looks_like_path

    path = Path(name).expanduser()
    if not path.is_dir() and not looks_like_path(name):  # a hub id: ct2 reads converted folders only
        converted = name.rsplit("/", 1)[-1] + "-ct2"
        raise ModelNotFound(
            f"ct2:{name}: no such folder; ct2: reads a converted model folder, never the hub: download "
            f"the model where there is network access with `{download_command(name)}`, convert it with "
            f"{converter_command(name, converted)}, then pass {arg('translator', f'ct2:{converted}')}"
        )
    if not path.is_dir():
        raise ModelNotFound(
            f"ct2:{name}: no such folder; convert a model first, e.g. (a Marian model's files): "
            f"{converter_command('MODEL', name)}"
        )
    if not (path / "model.bin").is_file():
        raise ModelNotFound(
            f"ct2:{name} is not a CTranslate2 model (no model.bin in it); convert it with "
            f"{converter_command(name, str(path).rstrip('/') + '-ct2')}"
        )
    return path


def _device(ctranslate2, requested: str | None) -> str:
    cuda = ctranslate2.get_cuda_device_count() > 0
    if requested is None:
        return "cuda" if cuda else "cpu"
    if requested not in ("cpu", "cuda"):
        raise DeviceError(f"{arg('device', requested)}: CTranslate2 runs on cpu or cuda; use {arg('device', 'cpu')}")
    if requested == "cuda" and not cuda:
        raise DeviceError(f"{arg('device', 'cuda')}: CTranslate2 sees no CUDA device here; use {arg('device', 'cpu')}")
    return requested


class CT2Translator(LanguageHandling, Translator):
    """A CTranslate2 translation model with its transformers tokenizer."""

    prefix = "ct2"

    def __init__(self, spec: str, translator, tokenizer, *, num_beams: int, max_length: int | None,
                 min_length: int, load_s: float):
        self.spec, self.translator, self.tokenizer = spec, translator, tokenizer
        self.family = tokenizer_family(tokenizer)
        self.num_beams = num_beams
        self.max_length = max_length
        self.min_length = min_length
        self.load_s = load_s
        # The converted folder keeps no position limit; the tokenizer's (512 for Marian) applies.
        self.max_tokens = model_max_tokens(tokenizer, None)

    @classmethod
    def load(cls, name: str, device: str | None = None, compute_type: str | None = None,
             num_beams: int | None = None, batch_size: int | None = None,
             threads: int | None = None) -> "CT2Translator":
        t0 = time.perf_counter()
        ctranslate2 = _ctranslate2()
        path = _check_folder(name)
        where = _device(ctranslate2, device)
        compute = compute_type or ("int8" if where == "cpu" else "auto")
        supported = sorted(ctranslate2.get_supported_compute_types(where)) + ["auto", "default"]
        if compute not in supported:
            raise UsageError(f"compute type {compute!r} is not available on {where}; "
                             f"use one of {', '.join(supported)}")
        tokenizer, generation = _tokenizer_and_generation(path, name)
        try:
            translator = ctranslate2.Translator(str(path), device=where, compute_type=compute,
                                                intra_threads=threads or 0)
        except (RuntimeError, ValueError) as e:
            raise BackendError(
                f"ct2:{name}: CTranslate2 cannot load it ({one_line(e, 160)}); "
                f"convert it again with this CTranslate2 version: {converter_command('MODEL', name)}"
            ) from e
        beams = num_beams or getattr(generation, "num_beams", None) or 1
        translator = cls(f"ct2:{name}", translator, tokenizer, num_beams=beams,
                         max_length=getattr(generation, "max_length", None),
                         min_length=getattr(generation, "min_new_tokens", None) or 0,
                         load_s=time.perf_counter() - t0)
        if batch_size:
            translator.batch_size = batch_size
        return translator

    def generate_tokens(self, segments: list[str], source: Language, target: Language) -> list[list[str]]:
        """Forward: token strings in, token strings out, the target language token first where needed."""
        ids = self.tokenizer(self.source_texts(segments, source, target), truncation=True,
                             max_length=self.max_tokens)["input_ids"]
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in ids]
        start = self.target_start_id(target)
        prefix = [[self.tokenizer.convert_ids_to_tokens(start)] for _ in tokens] if start is not None else None
        # CTranslate2 counts the target prefix among the decoded tokens, as transformers counts a
        # forced first token among the new ones: the same limits give the same lengths.
        limit = self.output_limit(max(len(row) for row in ids), self.max_length)
        results = self.translator.translate_batch(
            tokens, target_prefix=prefix, beam_size=self.num_beams, max_decoding_length=limit,
            min_decoding_length=min(self.min_length, limit), max_input_length=self.max_tokens,
        )
        return [r.hypotheses[0] for r in results]

    def translate_segments(self, segments: list[str], source: Language, target: Language) -> list[str]:
        rows = self.generate_tokens(segments, source, target)
        return self.decode([self.tokenizer.convert_tokens_to_ids(row) for row in rows], target)


def _tokenizer_and_generation(path: Path, name: str):
    """The folder's transformers tokenizer, and its generation config when one was copied along."""
    import transformers
    from transformers import AutoTokenizer, GenerationConfig

    transformers.utils.logging.set_verbosity_error()
    fix = f"convert the model again with its tokenizer copied in: {converter_command('MODEL', name)}"
    if not any((path / f).is_file() for f in TOKENIZER_FILES if f != "generation_config.json"):
        raise ModelNotFound(f"ct2:{name} holds no tokenizer files; {fix}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path))
    except (OSError, ValueError, TypeError) as e:
        raise ModelNotFound(f"ct2:{name}: cannot load its tokenizer ({one_line(e, 120)}); {fix}") from e
    generation = None
    if (path / "generation_config.json").is_file():
        generation = GenerationConfig.from_pretrained(str(path))
    return tokenizer, generation
