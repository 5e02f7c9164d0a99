"""Fixtures of the gguf: and openai: tests: a tiny GGUF, a real llama.cpp server, a stub server."""
from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture(autouse=True)
def no_api_key(monkeypatch):
    """A key in the developer's environment must not reach the test servers."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="session")
def tiny_gguf_plain(tiny_model_plain, tmp_path_factory):
    """The same kind of GGUF without a chat template."""
    from hanprompt.testing.gguf_models import write_gguf

    return write_gguf(tiny_model_plain, tmp_path_factory.mktemp("gguf") / "tiny-plain.gguf")


@pytest.fixture
def stub():
    """The OpenAI-compatible stub server (see hanprompt.testing.openai_stub), started for one test."""
    from hanprompt.testing.openai_stub import StubServer

    with StubServer() as server:
        yield server


@pytest.fixture
def rows(hanprompt_home):
    """Rows of a table of the default SQLite log as dicts ([] when the log does not exist)."""
    path = hanprompt_home / "hanprompt.db"

    def read(table: str = "generations", where: str = "1=1") -> list[dict]:
        if not path.exists():
            return []
        conn = sqlite3.connect(path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id")]
        except sqlite3.OperationalError:  # no tables yet
            return []
        finally:
            conn.close()

    read.path = path
    return read
