"""Model specs (``hf:…``, ``gguf:…``, ``openai:…``) resolved to loaded backends.

A model is loaded once per process and reused for every call with the same spec and options.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from dataclasses import dataclass

from hanprompt.backends.base import Backend, canonical
from hanprompt.errors import UsageError, arg

#: backend prefix -> "module:class", imported only when used (torch stays unimported until then)
BACKENDS: dict[str, str] = {
    "hf": "hanprompt.backends.hf:HFBackend",
    "gguf": "hanprompt.backends.gguf:GGUFBackend",
    "openai": "hanprompt.backends.openai_compat:OpenAIBackend",
}
DEFAULT_BACKEND = "hf"

_loaded: dict[tuple[str, str], Backend] = {}


@dataclass(frozen=True)
class ModelSpec:
    backend: str
    name: str

    def __str__(self) -> str:
        return f"{self.backend}:{self.name}"


def parse_spec(spec: str) -> ModelSpec:
    """``hf:path``, ``hf:org/name``, ``gguf:file.gguf``, ``openai:model@url``, an embedded model's name
    (``smollm2``, ``gemma3-270m``: gguf), or a bare path / hub id (hf)."""
    spec = (spec or "").strip()
    if not spec:
        raise UsageError(f"empty model spec: pass {arg('model', 'hf:<hub id or path>')}")
    prefix, sep, rest = spec.partition(":")
    # "C:\\models" or "./a:b" are paths, not prefixes: a prefix is a short word before ':'.
    if sep and prefix.isidentifier() and len(prefix) > 1 and not rest.startswith("\\"):
        if prefix not in BACKENDS:
            valid = ", ".join(f"{b}:" for b in BACKENDS)
            raise UsageError(f"unknown backend prefix {prefix + ':'!r} in {spec!r}; valid ones: {valid}")
        if not rest.strip():
            raise UsageError(f"model spec {spec!r} names no model: write {prefix}:<model>")
        if prefix == "openai":  # a malformed server URL fails before anything loads or is stored
            from hanprompt.backends.openai_compat import split_target

            model, url = split_target(rest.strip())
            return ModelSpec(prefix, f"{model}@{url}")
        return ModelSpec(prefix, rest.strip())
    from hanprompt.backends import embedded

    if embedded.is_alias(spec) and not Path(spec).exists():  # `smollm2`: the model that came with the install (a GGUF)
        return ModelSpec("gguf", spec.lower())
    return ModelSpec(DEFAULT_BACKEND, spec)


def with_threads(spec: str | ModelSpec, options: dict, threads: int | None) -> dict:
    """The loading ``options`` of ``spec`` with llama.cpp's CPU ``threads`` when it is a ``gguf:``
    model (replacing any of its own); other backends' options, or ``threads`` None, unchanged."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if threads is None or parsed.backend != "gguf":
        return options
    return dict(options, threads=threads)


def backend_class(prefix: str) -> type[Backend]:
    module, _, cls = BACKENDS[prefix].partition(":")
    return getattr(importlib.import_module(module), cls)


def _key(spec: str | ModelSpec, options: dict) -> tuple[str, str]:
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    return str(parsed), canonical(options)


def is_loaded(spec: str | ModelSpec, **options) -> bool:
    """Whether ``load(spec, **options)`` would reuse a model this process already holds."""
    return _key(spec, options) in _loaded


def release(spec: str | ModelSpec, **options) -> None:
    """Forget the model loaded for ``spec``; its memory (CUDA included) is freed once nothing else holds it.

    The backend is not closed: a caller still holding it can go on using it.
    """
    import gc
    import sys

    if _loaded.pop(_key(spec, options), None) is None:
        return
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def check(spec: str | ModelSpec, **options) -> None:
    """Raise the error loading ``spec`` would, where a backend can tell without loading the model
    (a missing folder, bad options); so a run can check every model before it writes anything."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    checker = getattr(backend_class(parsed.backend), "check", None)
    if checker is not None:
        checker(parsed.name, **options)


def load(spec: str | ModelSpec, **options) -> Backend:
    """The backend for ``spec``, loaded once per process for each spec and options."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    key = _key(parsed, options)
    if key not in _loaded:
        _loaded[key] = backend_class(parsed.backend).load(parsed.name, **options)
    return _loaded[key]


def clear_cache() -> None:
    """Forget loaded models (tests; freeing memory between experiments)."""
    _loaded.clear()
