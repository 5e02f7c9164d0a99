"""A model folder of another kind given to ask: one line naming the command that takes it, exit 2."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory):
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "tiny-marian")


def test_a_translation_model_names_translate(cli, tiny_marian):
    code, out, err = cli("ask", "hi", "--model", tiny_marian)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"hanprompt translate -t mt:{tiny_marian}" in err


def test_an_embedding_model_names_the_embedder_flag(cli, tiny_embedder):
    code, out, err = cli("ask", "hi", "--model", tiny_embedder)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"--embedder {tiny_embedder}" in err


def test_a_hub_model_that_cannot_be_had_points_to_what_works_offline(cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, err = cli("ask", "hi", "--model", "Qwen/Qwen2.5-0.5B-Instruct")
    assert code == 2
    assert err.count("\n") == 1 and "--model smollm2" in err and "hf download Qwen/Qwen2.5-0.5B-Instruct" in err


def test_logs_on_an_empty_log_point_to_the_embedded_model(cli):
    code, out, err = cli("logs")
    assert code == 0
    assert 'hanprompt ask "What is the capital of England?"' in err and "offline" in err
