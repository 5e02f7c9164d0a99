"""Peak memory of one configuration: process RSS (psutil) and GPU memory, sampled in a thread."""
from __future__ import annotations

import threading
from typing import Callable


class PeakMemory:
    """A context manager that samples RSS (and optionally GPU memory in use) every ``interval`` s.

    Attributes after exit, in bytes: ``start_rss``, ``peak_rss``; ``start_vram`` and
    ``peak_vram`` when ``vram`` (a callable returning bytes in use, or None) was given.
    """

    def __init__(self, interval: float = 0.005, vram: Callable[[], int | None] | None = None):
        import psutil

        self._process = psutil.Process()
        self._interval = interval
        self._vram = vram
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.start_rss = self.peak_rss = 0
        self.start_vram: int | None = None
        self.peak_vram: int | None = None

    def _sample(self) -> None:
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        if self._vram is not None:
            used = self._vram()
            if used is not None:
                self.peak_vram = used if self.peak_vram is None else max(self.peak_vram, used)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> "PeakMemory":
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        if self._vram is not None:
            self.start_vram = self.peak_vram = self._vram()
        self._thread = threading.Thread(target=self._loop, name="hanprompt-peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    @property
    def vram_delta(self) -> int | None:
        """GPU memory this configuration took at its peak, over what was in use before it."""
        if self.peak_vram is None or self.start_vram is None:
            return None
        return self.peak_vram - self.start_vram
