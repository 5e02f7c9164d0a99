"""A real llama.cpp OpenAI-compatible server (``python -m llama_cpp.server``) for tests and benchmarks.

Started on 127.0.0.1 with a free port and ``--interrupt_requests False`` (by default the server
cuts a streaming request short when another one arrives). It needs ``llama-cpp-python[server]``.
"""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """``with LlamaServer(path) as server: server.base_url`` -> ``http://127.0.0.1:PORT/v1``."""

    def __init__(self, model: str | Path, *, alias: str = "tiny", n_ctx: int = 1024, threads: int = 1,
                 log: str | Path | None = None, startup_s: float = 180.0):
        self.model, self.alias, self.n_ctx, self.threads = Path(model), alias, n_ctx, threads
        self.log = Path(log) if log else self.model.with_suffix(".server.log")
        self.startup_s = startup_s
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
            "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads), "--interrupt_requests", "False",
        ]

    def start(self) -> "LlamaServer":
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                self.process = None
                raise RuntimeError(f"llama_cpp.server exited while starting; its log ends:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if json.load(r).get("data"):
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama_cpp.server did not answer within {self.startup_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
