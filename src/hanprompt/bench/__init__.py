"""Benchmarks of models and placements, measured the way llama-bench does, with a roofline.

``run_bench(BenchOptions(models=(...)))`` measures load time, prefill and decode tokens/s,
TTFT, end-to-end latency, peak memory and MBU for every configuration and stores the run.
"""
from hanprompt.bench.options import BenchOptions
from hanprompt.bench.service import BenchReport, run_bench

__all__ = ["BenchOptions", "BenchReport", "run_bench"]
