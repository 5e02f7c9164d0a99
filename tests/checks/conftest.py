"""Fixtures of the check tests: experiment files beside the files they name."""
from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def write(tmp_path):
    """Write a file under the test's folder: write("exp.yaml", text) -> its path."""

    def put(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return put


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory):
    """A tiny random Llama with room for a judge's chat: 4,096 positions."""
    from hanprompt.testing.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "tiny-judge", max_position_embeddings=4096)


@pytest.fixture(scope="session")
def judge_gguf(tiny_judge, tmp_path_factory):
    """The tiny judge as a float32 GGUF."""
    from hanprompt.testing.gguf_models import write_gguf

    return write_gguf(tiny_judge, tmp_path_factory.mktemp("gguf") / "tiny-judge.gguf")


@pytest.fixture(scope="session")
def judge_server(judge_gguf):
    """A real llama.cpp server (llama-cpp-python's) serving the tiny judge as model ``judge``."""
    from hanprompt.testing.servers import LlamaServer

    with LlamaServer(judge_gguf, alias="judge", n_ctx=4096) as server:
        yield server.base_url


@pytest.fixture
def stub(monkeypatch):
    """The OpenAI-compatible stub server (hanprompt.testing.openai_stub), started for one test."""
    from hanprompt.testing.openai_stub import StubServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a developer's key must not reach it
    with StubServer() as server:
        yield server
