"""hanprompt: a local-first prompt lab for open LLMs, with Korean as a first-class language.

The library behind the ``hanprompt`` command. Names are imported on first use, so that
``import hanprompt`` stays light (no torch until a model is loaded).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "ask": "hanprompt.generate",
    "GenParams": "hanprompt.backends.base",
    "load_model": "hanprompt.backends.registry",
    "run_experiment": "hanprompt.experiments.runner",
    "optimize": "hanprompt.experiments.optimize",
    "load_spec": "hanprompt.experiments.spec",
    "ModelEntry": "hanprompt.experiments.spec",
    "compare_run": "hanprompt.experiments.compare",
    "compare_runs": "hanprompt.experiments.compare",
    "translate_texts": "hanprompt.translate.service",
    "score_translations": "hanprompt.translate.service",
    "analyse_texts": "hanprompt.analysis.service",
    "analyse_store": "hanprompt.analysis.service",
    "WordOptions": "hanprompt.analysis.service",
    "run_bench": "hanprompt.bench.service",
    "BenchOptions": "hanprompt.bench.options",
    "open_engine": "hanprompt.store.db",
    "HanpromptError": "hanprompt.errors",
}
#: public names that differ from the name in their module
_RENAMED = {"load_model": "load", "score_translations": "score"}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hanprompt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
    globals()[name] = value
    return value
