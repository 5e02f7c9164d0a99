"""Tokenizers for benchmarks: Korean token efficiency, and prompts of a chosen token length.

Korean efficiency compares the same content in Korean and English: the shipped passage
``data/bench-ko.txt`` and its English counterpart ``data/bench-en.txt``, written for this
project. Characters are Unicode code points, spaces and punctuation included.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Callable

from hanprompt.backends.registry import ModelSpec

Count = Callable[[str], int]  # text -> number of tokens, no special tokens added


def passages() -> dict[str, str]:
    """``{"ko": Korean passage, "en": its English counterpart}``, as shipped."""
    data = resources.files("hanprompt") / "data"
    return {lang: (data / f"bench-{lang}.txt").read_text(encoding="utf-8").strip() for lang in ("ko", "en")}


def _hf_counter(name: str) -> Count:
    from transformers import AutoTokenizer

    from hanprompt.backends.hub import from_pretrained, looks_like_path

    tokenizer = from_pretrained(AutoTokenizer, name, looks_like_path(name), {}, "tokenizer")
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _gguf_counter(name: str) -> Count:
    """llama.cpp's tokenizer of a GGUF file: the vocabulary alone is loaded, no weights, no context."""
    import logging
    import weakref

    import llama_cpp

    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)  # llama.cpp's loading chatter
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(Path(name).expanduser()).encode(), params)
    if not model:
        raise ValueError(f"llama.cpp cannot read the vocabulary of {name}")
    vocab = llama_cpp.llama_model_get_vocab(model)

    def count(text: str) -> int:
        data = text.encode("utf-8")
        # with no room for tokens, llama_tokenize returns minus the number it needs
        return -llama_cpp.llama_tokenize(vocab, data, len(data), None, 0, False, True) if data else 0

    weakref.finalize(count, llama_cpp.llama_model_free, model)
    return count


_COUNTERS: dict[str, Callable[[str], Count]] = {"hf": _hf_counter, "gguf": _gguf_counter}


def counter(spec: ModelSpec) -> tuple[Count | None, str | None]:
    """(token counter for the model's own tokenizer, or None and why not)."""
    make = _COUNTERS.get(spec.backend)
    if make is None:
        return None, f"the tokenizer of {spec.backend}: models is not known here"
    try:
        return make(spec.name), None
    except (ImportError, OSError, ValueError) as e:  # a model that is missing altogether raises
        return None, f"cannot load the tokenizer: {str(e).splitlines()[0] if str(e) else type(e).__name__}"


def korean_efficiency(count: Count) -> dict:
    """Tokens per 100 characters of the Korean passage and its English counterpart.

    ``ko_en_ratio`` is Korean tokens / English tokens for the same content: how many times
    more tokens (time and money) Korean costs with this tokenizer.
    """
    out: dict = {}
    for lang, text in passages().items():
        tokens = count(text)
        out[lang] = {"chars": len(text), "tokens": tokens, "tokens_per_100_chars": 100 * tokens / len(text)}
    out["ko_en_ratio"] = out["ko"]["tokens"] / out["en"]["tokens"] if out["en"]["tokens"] else None
    return out


def efficiency_rows(korean: dict) -> list[dict]:
    """The Korean token-efficiency table, one dict per tokenizer, as the CLI and the report show it.

    ``korean`` maps a model spec to ``korean_efficiency``'s dict or ``{"error": why}``; each row
    has ``tokenizer``, ``ko_per_100_chars``, ``en_per_100_chars``, ``ko_en_ratio`` (None where
    unknown) and ``error`` (why the tokenizer could not be had, else None).
    """
    rows = []
    for model, k in korean.items():
        if not k or "error" in k:
            rows.append({"tokenizer": model, "ko_per_100_chars": None, "en_per_100_chars": None,
                         "ko_en_ratio": None, "error": (k or {}).get("error", "not counted")})
            continue
        rows.append({"tokenizer": model, "ko_per_100_chars": k["ko"]["tokens_per_100_chars"],
                     "en_per_100_chars": k["en"]["tokens_per_100_chars"], "ko_en_ratio": k["ko_en_ratio"],
                     "error": None})
    return rows


def filler_messages(count: Count | None, render: Callable[[list[dict]], str], target: int,
                    variant: int = 0) -> list[dict]:
    """Chat messages whose rendered prompt is as close to ``target`` tokens as fits, not over.

    ``count`` counts a rendered prompt (``Backend.count_tokens``, or a tokenizer's count). The
    user turn is ``variant``'s number, then the Korean passage word by word from a place that
    ``variant`` also picks: prompts of different variants differ from their first words, so no
    prompt cache (llama.cpp's prefix reuse, a server's prefix caching) skips a prefill. The
    longest prefix that keeps the templated prompt within ``target`` tokens is found by
    bisection; without a tokenizer, one word per four target tokens (the server reports the
    real count).
    """
    words = passages()["ko"].split()

    def messages(k: int) -> list[dict]:
        text = " ".join([f"{variant}."] + [words[(variant + i) % len(words)] for i in range(k)])
        return [{"role": "user", "content": text}]

    if count is None:
        return messages(max(1, target // 4))
    low, high = 1, max(1, target)  # every word is at least one token
    while low < high:
        mid = (low + high + 1) // 2
        if count(render(messages(mid))) <= target:
            low = mid
        else:
            high = mid - 1
    return messages(low)
