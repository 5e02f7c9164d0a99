"""Prompt experiments: a spec file expanded into a matrix, run batched and cached, then compared."""
from hanprompt.experiments.runner import RunInterrupted, RunSummary, model_entries, run_experiment
from hanprompt.experiments.spec import ExperimentSpec, LoadedSpec, SpecError, load_spec

__all__ = ["ExperimentSpec", "LoadedSpec", "RunInterrupted", "RunSummary", "SpecError", "load_spec", "model_entries", "run_experiment"]
