"""The once-per-build check that quantized GGUF weights run on this CPU (backends.llama_probe)."""
from __future__ import annotations

import json
import signal

import pytest

from hanprompt.backends import llama_probe
from hanprompt.errors import BackendError

Q4_1 = 3  # llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_1


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANPROMPT_CACHE", str(folder))
    monkeypatch.setattr(llama_probe, "_checked", set())
    return folder


def test_the_installed_build_runs_the_real_q4_1_file_and_the_verdict_is_kept(smollm2_gguf, cache, monkeypatch):
    llama_probe.ensure_runs(smollm2_gguf, Q4_1, "Q4_1")
    verdicts = json.loads((cache / "llama-check.json").read_text())
    assert list(verdicts.values()) == [{"ok": True, "kind": "Q4_1"}]
    # kept: a later process does not start the child again (a child that would fail is never run)
    monkeypatch.setattr(llama_probe, "_checked", set())
    monkeypatch.setattr(llama_probe, "_CHILD", "raise SystemExit(3)")
    llama_probe.ensure_runs(smollm2_gguf, Q4_1, "Q4_1")


def test_unquantized_files_are_not_checked(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(llama_probe, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    llama_probe.ensure_runs(tmp_path / "any.gguf", 0, "F32")
    assert not (cache / "llama-check.json").exists()


def test_a_build_that_traps_is_one_error_line_with_the_rebuild_command(smollm2_gguf, cache, monkeypatch, cli_process):
    # The child really dies by SIGILL, as a -march=native build does on an AMX host: the trap is
    # raised by the child itself, since this machine's build (portable) does not trap.
    monkeypatch.setattr(llama_probe, "_CHILD", "import os, signal; os.kill(os.getpid(), signal.SIGILL)")
    with pytest.raises(BackendError) as caught:
        llama_probe.ensure_runs(smollm2_gguf, Q4_1, "Q4_1")
    message = str(caught.value)
    assert "\n" not in message
    assert "illegal instruction" in message and "Q4_1" in message
    assert llama_probe.REBUILD in message and "-DGGML_NATIVE=OFF" in message
    verdict = next(iter(json.loads((cache / "llama-check.json").read_text()).values()))
    assert verdict == {"ok": False, "signal": int(signal.SIGILL), "kind": "Q4_1"}
    # the CLI, in a new process reading that verdict: one line, exit 2, no signal
    done = cli_process("ask", "hi", "--model", f"gguf:{smollm2_gguf}", "--max-new-tokens", 2, "--no-log",
                       env={"HANPROMPT_CACHE": str(cache)})
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "illegal instruction" in lines[0] and "pip install" in lines[0]
