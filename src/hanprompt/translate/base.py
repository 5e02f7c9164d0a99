"""The one translator contract, and the registry that resolves ``mt:``, ``llm:`` and ``ct2:`` specs.

A translator turns a batch of texts into translations with timings. Texts are split into
sentences (see ``segment``), the sentences translated in batches, and each text rebuilt; the
time of a batch is shared among its sentences by length, so a text's ``seconds`` add up to the
time actually spent.
"""
from __future__ import annotations

import abc
import importlib
import json
import time
from dataclasses import dataclass
from typing import Callable, ClassVar

from hanprompt.errors import UsageError, arg
from hanprompt.translate.languages import Language
from hanprompt.textio import nfc
from hanprompt.translate.segment import batches, split_text

#: translator prefix -> "module:class", imported only when used
TRANSLATORS: dict[str, str] = {
    "mt": "hanprompt.translate.mt:MTTranslator",
    "llm": "hanprompt.translate.llm:LLMTranslator",
    "ct2": "hanprompt.translate.ct2:CT2Translator",
}
DEFAULT_TRANSLATOR = "mt:Helsinki-NLP/opus-mt-tc-big-en-ko"

_loaded: dict[tuple[str, str], "Translator"] = {}

#: (segments done, segments in all, translator spec), called after each batch; the run's
#: progress callback has the same shape
Progress = Callable[[int, int, str], None]


@dataclass
class Translation:
    """One text's translation, how many segments it was cut into, and the seconds it took."""

    source: str
    translation: str
    seconds: float
    segments: int


class Translator(abc.ABC):
    """A loaded model that translates batches of sentences from one language to another."""

    prefix: ClassVar[str]
    spec: str
    batch_size: int = 16

    @classmethod
    @abc.abstractmethod
    def load(cls, name: str, **options) -> "Translator":
        """Load the model named ``name`` (a hub id or a local path)."""

    def check(self, source: Language, target: Language) -> None:
        """Raise UsageError when this model cannot translate ``source`` into ``target``."""

    @property
    def warnings(self) -> list[str]:
        """One-line warnings for the user about the loaded model (none by default)."""
        return []

    def instruction(self, source: Language, target: Language) -> str | None:
        """The instruction the model is prompted with (``llm:``), whose echo is no translation; None for
        models that are not prompted."""
        return None

    def too_long(self, segment: str) -> bool:
        """Whether ``segment`` exceeds what the model reads at once (then it is cut further)."""
        return False

    @abc.abstractmethod
    def translate_segments(self, segments: list[str], source: Language, target: Language) -> list[str]:
        """Translate one batch of sentences, in order."""

    def translate(self, texts: list[str], source: Language, target: Language,
                  progress: Progress | None = None) -> list[Translation]:
        """Translate whole texts: split into sentences, translate them in batches, join back.

        Texts are translated in Unicode NFC (composed Hangul), the form tokenizers were trained on.
        ``progress(segments done, segments in all, self.spec)`` is called before the first batch
        and after each one.
        """
        self.check(source, target)
        texts = [nfc(text) for text in texts]
        layouts, counts, segments, owner = [], [], [], []
        for t, text in enumerate(texts):
            segs, layout = split_text(text, self.too_long, source.code)
            layouts.append(layout)
            counts.append(len(segs))
            segments.extend(segs)
            owner.extend([t] * len(segs))
        out = [""] * len(segments)
        seconds = [0.0] * len(texts)
        finished = 0
        if progress is not None:
            progress(0, len(segments), self.spec)
        for idx in batches(segments, self.batch_size):
            start = time.perf_counter()
            done = self.translate_segments([segments[i] for i in idx], source, target)
            spent = time.perf_counter() - start
            total_chars = sum(len(segments[i]) for i in idx) or 1
            for i, translation in zip(idx, done):
                out[i] = translation
                seconds[owner[i]] += spent * len(segments[i]) / total_chars
            finished += len(idx)
            if progress is not None:
                progress(finished, len(segments), self.spec)
        results, pos = [], 0
        for t, (text, layout, n) in enumerate(zip(texts, layouts, counts)):
            results.append(Translation(text, layout.join(out[pos:pos + n]), seconds[t], n))
            pos += n
        return results


def parse(spec: str) -> tuple[str, str]:
    """``mt:NAME`` -> ("mt", "NAME"); an unknown or missing prefix lists the valid ones."""
    spec = (spec or "").strip()
    prefix, sep, name = spec.partition(":")
    valid = ", ".join(f"{p}:<model>" for p in TRANSLATORS)
    if not sep or prefix not in TRANSLATORS:
        raise UsageError(f"{arg('translator', repr(spec))}: write one of {valid} (e.g. {DEFAULT_TRANSLATOR})")
    if not name.strip():
        raise UsageError(f"{arg('translator', repr(spec))} names no model: write {prefix}:<hub id or path>")
    return prefix, name.strip()


def load(spec: str, **options) -> Translator:
    """The translator for ``spec``, loaded once per process for each spec and options."""
    prefix, name = parse(spec)
    key = (f"{prefix}:{name}", json.dumps(options, sort_keys=True, default=str))
    if key not in _loaded:
        module, _, cls = TRANSLATORS[prefix].partition(":")
        _loaded[key] = getattr(importlib.import_module(module), cls).load(name, **options)
    return _loaded[key]


def clear_cache() -> None:
    """Forget loaded translators (tests; freeing memory)."""
    _loaded.clear()
