"""Benchmarks of models and placements, measured the way llama-bench does, with a roofline.

``run_bench(BenchOptions(models=(...)))`` measures load time, prefill and decode tokens/s,
TTFT, end-to-end latency, peak memory and MBU for every configuration and stores the run.

The names are imported on first use: a command that needs only a helper of this package
(``bench.bandwidth.cpu_threads`` when a GGUF model loads) does not import the whole bench.
"""
import importlib

_EXPORTS = {"BenchOptions": "hanprompt.bench.options", "BenchReport": "hanprompt.bench.service",
            "run_bench": "hanprompt.bench.service"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hanprompt.bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
