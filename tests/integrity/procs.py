"""Watching a real hanprompt process: poll the database while it runs, freeze it at a chosen moment."""
from __future__ import annotations

import signal
import time


def wait_until(proc, condition, what: str, timeout: float = 300) -> None:
    """Poll ``condition()`` while ``proc`` lives; fail if it ends first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        assert proc.poll() is None, (what, proc.communicate())
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def freeze_when(proc, condition, what: str, timeout: float = 300) -> None:
    """Stop ``proc`` (SIGSTOP) at a moment when ``condition()`` holds, checked again once it is frozen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        wait_until(proc, condition, what, timeout=deadline - time.monotonic())
        proc.send_signal(signal.SIGSTOP)
        if condition():  # it cannot change any more
            return
        proc.send_signal(signal.SIGCONT)
    raise AssertionError(f"timed out waiting for {what}")
