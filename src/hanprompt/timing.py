"""Where the seconds of a command went: wall-clock time per phase, added up.

The phases of a generation command are ``import`` (torch and transformers), ``load`` (weights
and tokenizer), ``prefill`` (prompt processing up to each batch's first token), ``decode``
(every later step), ``store`` (database writes) and ``render`` (tables and JSON).
"""
from __future__ import annotations

import contextlib
import time
from typing import Iterator

PHASES = ("import", "load", "prefill", "decode", "store", "render")


class Phases:
    """Seconds per phase; ``add`` and ``measure`` accumulate, ``as_dict`` gives ``{"load_s": ...}``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    @contextlib.contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - t0)

    def merge(self, other: "Phases | dict | None") -> None:
        """Add another accumulator's seconds (or an ``as_dict`` result) into this one."""
        if other is None:
            return
        items = other.seconds.items() if isinstance(other, Phases) else (
            (k.removesuffix("_s"), v) for k, v in other.items() if v is not None)
        for phase, seconds in items:
            self.add(phase, seconds)

    def as_dict(self) -> dict[str, float]:
        """Known phases in their natural order, then any others: ``{"prefill_s": 0.41, ...}``."""
        order = [p for p in PHASES if p in self.seconds] + sorted(set(self.seconds) - set(PHASES))
        return {f"{p}_s": round(self.seconds[p], 4) for p in order}
