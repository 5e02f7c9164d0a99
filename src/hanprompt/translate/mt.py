"""``mt:<hub id or path>``: sequence-to-sequence translation models through transformers.

MarianMT, M2M100 and NLLB-200 are recognised by their tokenizer, and their language handling
(see ``families``) is applied automatically: a ``>>kor<<``-style prefix for multi-target Marian
models, a source-language setting and a forced first output token (``ko`` / ``kor_Hang``) for
M2M100 and NLLB.
"""
from __future__ import annotations

import time
from pathlib import Path

from hanprompt.errors import BackendError, ModelNotFound, arg
from hanprompt.translate.base import Translator
from hanprompt.translate.families import (
    LANGUAGE_TOKEN_FAMILIES, LanguageHandling, model_max_tokens, tokenizer_family,
)
from hanprompt.translate.languages import Language


class MTTranslator(LanguageHandling, Translator):
    """An encoder-decoder translation model (MarianMT, M2M100, NLLB-200, ...)."""

    prefix = "mt"

    def __init__(self, spec: str, model, tokenizer, num_beams: int, load_s: float):
        self.spec, self.model, self.tokenizer = spec, model, tokenizer
        self.family = tokenizer_family(tokenizer)
        self.num_beams = num_beams
        self.load_s = load_s
        self.max_tokens = model_max_tokens(tokenizer, model.config.max_position_embeddings)

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
                f"{name} is not a model folder (no config.json in it); pass {arg('translator', 'mt:PATH')} "
                "to a folder written by save_pretrained(), or a hub id"
            )
        where = resolve_device(device)

        def fetch(factory, what, **kw):
            return from_pretrained(factory, name, local, kw, what, path_flag=arg("translator", "mt:PATH"))

        config = fetch(AutoConfig, "config")
        if not getattr(config, "is_encoder_decoder", False) or (
            config.model_type not in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
        ):
            raise BackendError(
                f"mt:{name} is not a sequence-to-sequence translation model (its config is "
                f"{type(config).__name__}); use mt: with MarianMT, M2M100 or NLLB models, "
                f"or {arg('translator', f'llm:{name}')} to prompt a chat model"
            )
        tokenizer = fetch(AutoTokenizer, "tokenizer")
        model = fetch(AutoModelForSeq2SeqLM, "model", config=config)
        model.to(where).eval()
        beams = num_beams or getattr(model.generation_config, "num_beams", None) or 1
        translator = cls(f"mt:{name}", model, tokenizer, beams, time.perf_counter() - t0)
        if batch_size:
            translator.batch_size = batch_size
        return translator

    # ---- translating ------------------------------------------------------------------
    def encode(self, segments: list[str], source: Language, target: Language):
        """Preprocess: the padded batch, with the target token or source language the family needs."""
        return self.tokenizer(self.source_texts(segments, source, target), return_tensors="pt",
                              padding=True, truncation=True, max_length=self.max_tokens)

    def generate_ids(self, segments: list[str], source: Language, target: Language) -> list[list[int]]:
        """Forward: the output token ids of each segment, language tokens included."""
        import torch

        batch = {k: v.to(self.model.device) for k, v in self.encode(segments, source, target).items()}
        gen: dict = {"num_beams": self.num_beams}
        if self.family in LANGUAGE_TOKEN_FAMILIES:
            gen["forced_bos_token_id"] = self.target_start_id(target)
        gen["max_new_tokens"] = self.output_limit(batch["input_ids"].shape[1],
                                                  getattr(self.model.generation_config, "max_length", None))
        with torch.inference_mode():
            return self.model.generate(**batch, **gen).tolist()

    def translate_segments(self, segments: list[str], source: Language, target: Language) -> list[str]:
        return self.decode(self.generate_ids(segments, source, target), target)
