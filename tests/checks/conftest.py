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
