"""Language codes: the simple ones users type, and what each model family calls them.

Marian multi-target models expect a target token such as ``>>kor<<`` at the start of the source;
M2M100 uses ``ko`` and NLLB ``kor_Hang``, both as the forced first token of the output.
"""
from __future__ import annotations

from dataclasses import dataclass

from hanprompt.errors import UsageError, arg


@dataclass(frozen=True)
class Language:
    code: str  # the simple code users type: ko, en, ...
    name: str
    m2m100: str
    nllb: str
    marian: tuple[str, ...]  # target-token names, most specific first: >>kor_Hang<<, >>kor<<, ...


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        Language("ko", "Korean", "ko", "kor_Hang", ("kor_Hang", "kor", "ko")),
        Language("en", "English", "en", "eng_Latn", ("eng", "en")),
        Language("ja", "Japanese", "ja", "jpn_Jpan", ("jpn_Jpan", "jpn", "ja")),
        Language("zh", "Chinese", "zh", "zho_Hans", ("cmn_Hans", "zho_Hans", "zho", "cmn", "zh")),
        Language("fr", "French", "fr", "fra_Latn", ("fra", "fr")),
        Language("de", "German", "de", "deu_Latn", ("deu", "de")),
        Language("es", "Spanish", "es", "spa_Latn", ("spa", "es")),
    ]
}


#: the source and target language arguments as error messages name them (``--from``/``--to`` on the CLI)
SOURCE = arg("source_lang", flag="from")
TARGET = arg("target_lang", flag="to")


def supported() -> str:
    """The supported codes, for error messages: ``en (English), ko (Korean), ...``."""
    return ", ".join(f"{lang.code} ({lang.name})" for lang in LANGUAGES.values())


def language(code: str, flag: str | None = None) -> Language:
    """The language for a simple code or any family's own code (``kor_Hang``, ``kor``); ``flag`` is the
    argument an unknown code is blamed on (:func:`hanprompt.errors.arg`; default ``target_lang``, ``--to``)."""
    key = (code or "").strip()
    if key.lower() in LANGUAGES:
        return LANGUAGES[key.lower()]
    for lang in LANGUAGES.values():
        if key in (lang.m2m100, lang.nllb) or key in lang.marian:
            return lang
    raise UsageError(f"{flag or TARGET}: unknown language code {code!r}; supported: {supported()}")


def family_code(family: str, lang: Language) -> str:
    """The code ``family`` (m2m100 or nllb) uses for ``lang``."""
    if family == "m2m100":
        return lang.m2m100
    if family == "nllb":
        return lang.nllb
    raise ValueError(f"no language codes for family {family!r}")


def marian_target_token(lang: Language, model_tokens: list[str], model: str) -> str | None:
    """The ``>>xxx<<`` token a multi-target Marian model needs, or None for a single-target one."""
    if not model_tokens:
        return None
    for name in lang.marian:
        if f">>{name}<<" in model_tokens:
            return f">>{name}<<"
    shown = ", ".join(sorted(model_tokens)[:20])
    raise UsageError(
        f"{arg('target_lang', lang.code, flag='to')}: {model} has no target token for {lang.name}; it offers {shown}"
        " - pick one of those languages or another translator"
    )
