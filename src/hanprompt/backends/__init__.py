"""Backends turn chat messages into completions: one contract, several engines."""
from hanprompt.backends.base import Backend, Completion, GenParams, LoadInfo
from hanprompt.backends.registry import BACKENDS, ModelSpec, load, parse_spec

__all__ = ["Backend", "Completion", "GenParams", "LoadInfo", "BACKENDS", "ModelSpec", "load", "parse_spec"]
