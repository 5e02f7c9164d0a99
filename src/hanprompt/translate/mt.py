"""``mt:<hub id or path>``: sequence-to-sequence translation models through transformers.

MarianMT, M2M100 and NLLB-200 are recognised by their tokenizer, and their language handling is
applied automatically: a ``>>kor<<``-style prefix for multi-target Marian models, a source-language
setting and a forced first output token (``ko`` / ``kor_Hang``) for M2M100 and NLLB.
"""
from __future__ import annotations

import time
from pathlib import Path

from hanprompt.errors import BackendError, ModelNotFound, UsageError
from hanprompt.translate.base import Translator
from hanprompt.translate.languages import Language, family_code, language, marian_target_token


def _family(tokenizer) -> str:
    name = type(tokenizer).__name__
    if name.startswith("Marian"):
        return "marian"
    if name.startswith("Nllb"):
        return "nllb"
    if name.startswith("M2M100"):
        return "m2m100"
    return "generic"  # T5, mBART, ...: the source text goes in as it is


def _not_cached(name: str) -> ModelNotFound:
    return ModelNotFound(
        f"translation model {name!r} is not in the Hugging Face cache and cannot be downloaded here; "
        f"download it where there is network access (huggingface-cli download {name}), "
        "or pass --translator mt:PATH to a local model folder"
    )


class MTTranslator(Translator):
    """An encoder-decoder translation model (MarianMT, M2M100, NLLB-200, ...)."""

    prefix = "mt"

    def __init__(self, spec: str, model, tokenizer, num_beams: int, load_s: float):
        self.spec, self.model, self.tokenizer = spec, model, tokenizer
        self.family = _family(tokenizer)
        self.num_beams = num_beams
        self.load_s = load_s
        limits = [model.config.max_position_embeddings or 512]
        if 0 < (tokenizer.model_max_length or 0) < 100_000:
            limits.append(tokenizer.model_max_length)
        self.max_tokens = min(limits)

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, device: str | None = None, num_beams: int | None = None,
             batch_size: int | None = None) -> "MTTranslator":
        t0 = time.perf_counter()
        import transformers
        from transformers import AutoConfig, AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.models.auto.modeling_auto import MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES

        from hanprompt.backends.hub import from_pretrained, looks_like_path, resolve_device

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        local = looks_like_path(name)
        if local and not (Path(name).expanduser() / "config.json").is_file():
            raise ModelNotFound(
                f"{name} is not a model folder (no config.json in it); pass --translator mt:PATH "
                "to a folder written by save_pretrained(), or a hub id"
            )
        where = resolve_device(device)

        def fetch(factory, what, **kw):
            try:
                return from_pretrained(factory, name, local, kw, what)
            except ModelNotFound as e:
                raise (e if local else _not_cached(name)) from e

        config = fetch(AutoConfig, "config")
        if not getattr(config, "is_encoder_decoder", False) or (
            config.model_type not in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
        ):
            raise BackendError(
                f"mt:{name} is not a sequence-to-sequence translation model (its config is "
                f"{type(config).__name__}); use mt: with MarianMT, M2M100 or NLLB models, "
                f"or --translator llm:{name} to prompt a chat model"
            )
        tokenizer = fetch(AutoTokenizer, "tokenizer")
        model = fetch(AutoModelForSeq2SeqLM, "model", config=config)
        model.to(where).eval()
        beams = num_beams or getattr(model.generation_config, "num_beams", None) or 1
        translator = cls(f"mt:{name}", model, tokenizer, beams, time.perf_counter() - t0)
        if batch_size:
            translator.batch_size = batch_size
        return translator

    # ---- languages --------------------------------------------------------------------
    def check(self, source: Language, target: Language) -> None:
        tok = self.tokenizer
        if self.family == "marian":
            codes = list(getattr(tok, "supported_language_codes", None) or [])
            marian_target_token(target, codes, self.spec)  # raises when the target is missing
            pairs = [("--from", getattr(tok, "source_lang", None), source)]
            if not codes:
                pairs.append(("--to", getattr(tok, "target_lang", None), target))
            for flag, own, wanted in pairs:
                if own and self._known(own) and language(own).code != wanted.code:
                    raise UsageError(
                        f"{flag} {wanted.code}: {self.spec} translates {tok.source_lang} -> "
                        f"{tok.target_lang} only; choose a model for {source.code} -> {target.code}"
                    )
        elif self.family in ("m2m100", "nllb"):
            for lang in (source, target):
                if self._lang_id(lang) is None:
                    raise UsageError(
                        f"{self.spec} has no language token for {lang.name} "
                        f"({family_code(self.family, lang)}); choose another translator"
                    )

    @staticmethod
    def _known(code: str) -> bool:
        try:
            language(code)
            return True
        except UsageError:
            return False

    def _lang_id(self, lang: Language) -> int | None:
        code = family_code(self.family, lang)
        if self.family == "m2m100":
            return getattr(self.tokenizer, "lang_code_to_id", {}).get(code)
        token_id = self.tokenizer.convert_tokens_to_ids(code)
        return None if token_id in (None, self.tokenizer.unk_token_id) else token_id

    def _prefix(self, target: Language) -> str:
        if self.family != "marian":
            return ""
        codes = list(getattr(self.tokenizer, "supported_language_codes", None) or [])
        token = marian_target_token(target, codes, self.spec)
        return f"{token} " if token else ""

    # ---- translating ------------------------------------------------------------------
    def too_long(self, segment: str) -> bool:
        # Leave room for the language and end tokens the tokenizer adds.
        return len(self.tokenizer(segment, add_special_tokens=True)["input_ids"]) > self.max_tokens - 4

    def encode(self, segments: list[str], source: Language, target: Language):
        """Preprocess: the padded batch, with the target token or source language the family needs."""
        tok = self.tokenizer
        if self.family in ("m2m100", "nllb"):
            tok.src_lang = family_code(self.family, source)
        prefix = self._prefix(target)
        return tok([prefix + s for s in segments], return_tensors="pt", padding=True,
                   truncation=True, max_length=self.max_tokens)

    def generate_ids(self, segments: list[str], source: Language, target: Language) -> list[list[int]]:
        """Forward: the output token ids of each segment, language tokens included."""
        import torch

        batch = {k: v.to(self.model.device) for k, v in self.encode(segments, source, target).items()}
        gen: dict = {"num_beams": self.num_beams}
        if self.family in ("m2m100", "nllb"):
            gen["forced_bos_token_id"] = self._lang_id(target)
        # Korean output rarely needs more than twice the English tokens; never exceed the model
        # or the output length its generation config allows.
        limit = min(self.max_tokens, getattr(self.model.generation_config, "max_length", None) or self.max_tokens)
        gen["max_new_tokens"] = min(limit, 2 * batch["input_ids"].shape[1] + 16)
        with torch.inference_mode():
            return self.model.generate(**batch, **gen).tolist()

    def translate_segments(self, segments: list[str], source: Language, target: Language) -> list[str]:
        out = self.generate_ids(segments, source, target)
        # transformers 5 no longer counts M2M100's __ko__ tokens as special: drop them ourselves.
        drop = self._language_ids() | {self._lang_id(target) if self.family in ("m2m100", "nllb") else None}
        out = [[i for i in row if i not in drop] for row in out]
        return [t.strip() for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]

    def _language_ids(self) -> set[int]:
        if self.family == "m2m100":
            return set(getattr(self.tokenizer, "id_to_lang_token", {}))
        return set()
