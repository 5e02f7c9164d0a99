"""Language handling of translation-model families, shared by every tokenizer-based translator.

MarianMT, M2M100 and NLLB-200 are recognised by their tokenizer. A multi-target Marian model reads
a ``>>kor<<``-style token in front of the source; M2M100 and NLLB read the source language from
the tokenizer and must start their output with the target language token (``__ko__`` /
``kor_Hang``). ``mt:`` (transformers) and ``ct2:`` (CTranslate2) translators both mix this in.
"""
from __future__ import annotations

from hanprompt.errors import UsageError, arg
from hanprompt.translate.languages import Language, family_code, language, marian_target_token

#: families whose output starts with a target-language token
LANGUAGE_TOKEN_FAMILIES = ("m2m100", "nllb")


def tokenizer_family(tokenizer) -> str:
    """``marian``, ``nllb``, ``m2m100`` or ``generic``, from the tokenizer's class."""
    name = type(tokenizer).__name__
    if name.startswith("Marian"):
        return "marian"
    if name.startswith("Nllb"):
        return "nllb"
    if name.startswith("M2M100"):
        return "m2m100"
    return "generic"  # T5, mBART, ...: the source text goes in as it is


def model_max_tokens(tokenizer, position_limit: int | None) -> int:
    """The longest input the model reads: its position limit and the tokenizer's, when set."""
    limits = [position_limit or 512]
    if 0 < (tokenizer.model_max_length or 0) < 100_000:
        limits.append(tokenizer.model_max_length)
    return min(limits)


class LanguageHandling:
    """Checks, source preparation, target tokens and decoding for a tokenizer's model family.

    Needs ``self.tokenizer``, ``self.spec``, ``self.family`` and ``self.max_tokens``.
    """

    tokenizer: object
    spec: str
    family: str
    max_tokens: int

    def check(self, source: Language, target: Language) -> None:
        tok = self.tokenizer
        if self.family == "marian":
            codes = list(getattr(tok, "supported_language_codes", None) or [])
            marian_target_token(target, codes, self.spec)  # raises when the target is missing
            pairs = [(("source_lang", "from"), getattr(tok, "source_lang", None), source)]
            if not codes:
                pairs.append((("target_lang", "to"), getattr(tok, "target_lang", None), target))
            for (name, flag), own, wanted in pairs:
                if own and self._known(own) and language(own).code != wanted.code:
                    raise UsageError(
                        f"{arg(name, wanted.code, flag=flag)}: {self.spec} translates {tok.source_lang} -> "
                        f"{tok.target_lang} only; choose a model for {source.code} -> {target.code}"
                    )
        elif self.family in LANGUAGE_TOKEN_FAMILIES:
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

    def too_long(self, segment: str) -> bool:
        # Leave room for the language and end tokens the tokenizer adds.
        return len(self.tokenizer(segment, add_special_tokens=True)["input_ids"]) > self.max_tokens - 4

    def source_texts(self, segments: list[str], source: Language, target: Language) -> list[str]:
        """The segments as the tokenizer must read them: source language set, target token in front."""
        if self.family in LANGUAGE_TOKEN_FAMILIES:
            self.tokenizer.src_lang = family_code(self.family, source)
        prefix = self._prefix(target)
        return [prefix + s for s in segments]

    def target_start_id(self, target: Language) -> int | None:
        """The token the output must start with (M2M100/NLLB's target language), or None."""
        return self._lang_id(target) if self.family in LANGUAGE_TOKEN_FAMILIES else None

    def output_limit(self, longest_input: int, max_length: int | None) -> int:
        """How many tokens to generate at most for a batch whose longest input has ``longest_input``."""
        # Korean output rarely needs more than twice the English tokens; never exceed the model
        # or the output length its generation config allows.
        limit = min(self.max_tokens, max_length or self.max_tokens)
        return min(limit, 2 * longest_input + 16)

    def decode(self, rows: list[list[int]], target: Language) -> list[str]:
        """Postprocess: output ids to text, without special or language tokens."""
        # transformers 5 no longer counts M2M100's __ko__ tokens as special: drop them ourselves.
        drop = self._language_ids() | {self.target_start_id(target)}
        rows = [[i for i in row if i not in drop] for row in rows]
        return [t.strip() for t in self.tokenizer.batch_decode(rows, skip_special_tokens=True)]

    def _language_ids(self) -> set[int]:
        if self.family == "m2m100":
            return set(getattr(self.tokenizer, "id_to_lang_token", {}))
        return set()
