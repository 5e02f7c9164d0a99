"""``llm:<model spec>``: translation by prompting a chat model, keeping only the translation.

Chat models like to wrap a translation ("Here is the translation:", quotes, a note after it) or
repeat the source first; ``clean_output`` removes those so the score measures the translation.
"""
from __future__ import annotations

import re

from hanprompt.translate.base import Translator
from hanprompt.translate.languages import Language

SYSTEM = (
    "You are a professional translator. Translate the user's text from {source} into {target}. "
    "Reply with the {target} translation only: no explanation, no notes, no quotation marks."
)
# A first line that only announces the translation: "Here is the translation:", "번역:", "Sure! ..."
_PREAMBLE = re.compile(
    r"^\s*(sure|certainly|of course|okay|ok)\b[^\n]*$"
    r"|^\s*(here('s| is| are)|below is)\b[^\n]*(translat|korean|english|번역)[^\n]*$"
    r"|^\s*[^\n]{0,40}(translation|번역( 결과)?|한국어|korean|english)\s*(\([^)]*\))?\s*[:：]\s*",
    re.I,
)
_NOTE = re.compile(r"\n\s*(\(?notes?\b|\(?참고|\(?설명|\(?explanation\b|\*\*note)[\s\S]*$", re.I)
_QUOTES = [('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("「", "」"), ("『", "』"), ("«", "»")]


def clean_output(text: str, source: str) -> str:
    """The translation alone: no echoed source, preamble, trailing note or surrounding quotes."""
    out = text.strip()
    if source.strip() and out.startswith(source.strip()) and len(out) > len(source.strip()):
        out = out[len(source.strip()):].lstrip(" \n:-–—>")  # the model repeated the source first
    for _ in range(2):  # "Sure!\nHere is the translation:" has two preamble lines
        m = _PREAMBLE.match(out)
        if m and out[m.end():].strip():
            out = out[m.end():].strip()
    out = _NOTE.sub("", out).strip()
    for left, right in _QUOTES:
        if len(out) > 1 and out.startswith(left) and out.endswith(right) and source.strip()[:1] != left:
            out = out[1:-1].strip()
    return out


class LLMTranslator(Translator):
    """A chat model asked to translate, one prompt per sentence, batched by the backend."""

    prefix = "llm"
    max_new_tokens: int | None = None  # None: a budget from each segment's length

    def __init__(self, spec: str, backend):
        self.spec, self.backend = spec, backend

    @classmethod
    def load(cls, name: str, max_new_tokens: int | None = None, batch_size: int | None = None,
             **load_options) -> "LLMTranslator":
        from hanprompt.backends import registry

        translator = cls(f"llm:{name}", registry.load(name, **load_options))
        translator.max_new_tokens = max_new_tokens
        if batch_size:
            translator.batch_size = batch_size
        return translator

    @property
    def warnings(self) -> list[str]:
        """The chat model's load warnings (a model without a chat template, ...), as ``ask`` shows them."""
        return list(self.backend.info.warnings)

    def instruction(self, source: Language, target: Language) -> str:
        return SYSTEM.format(source=source.name, target=target.name)

    def messages(self, segment: str, source: Language, target: Language) -> list[dict]:
        """The chat messages that ask for one segment's translation."""
        return [{"role": "system", "content": self.instruction(source, target)}, {"role": "user", "content": segment}]

    def translate_segments(self, segments: list[str], source: Language, target: Language) -> list[str]:
        from hanprompt.backends.base import GenParams

        requests = []
        for s in segments:
            # Korean takes about as many tokens as English; leave room for a preamble to strip.
            budget = self.max_new_tokens or min(1024, 3 * len(s) // 2 + 64)
            messages = self.messages(s, source, target)
            prompt_tokens = self.backend.count_tokens(self.backend.render(messages)) or 0
            budget = max(1, min(budget, self.backend.context_length - prompt_tokens))  # within the context
            requests.append((messages, GenParams(max_new_tokens=budget)))
        completions = self.backend.generate_batch(requests)
        failed = next((c.error for c in completions if c.error is not None), None)
        if failed is not None:  # a server request that failed: no translation to keep
            from hanprompt.errors import BackendError

            raise BackendError(failed)
        return [clean_output(c.text, s) for c, s in zip(completions, segments)]
