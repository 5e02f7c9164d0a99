"""similar checks when their embedder is not here: the default one leaves them not judged (said once);
one the user named is an error naming both the flag and the file key."""
from __future__ import annotations

import json

import pytest

SPEC = """
name: offline-similar
models: ["hf:{model}"]
params: {{max_new_tokens: 4}}
checks:
  - min-words: 1
variants:
  - id: a
    prompt: "Say hello."
    checks:
      - similar: "Hello there."
"""


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from hanprompt.experiments import similarity

    monkeypatch.setattr(similarity, "_missing", {})


def test_the_default_embedder_missing_leaves_similar_not_judged_with_one_note(cli, spec_file, tiny_model, offline):
    path = spec_file(SPEC.format(model=tiny_model))
    code, out, err = cli("run", path, "--json")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "intfloat/multilingual-e5-small" in line]
    assert len(notes) == 1 and "--embedder PATH" in notes[0] and "hf download" in notes[0]
    result = json.loads(out)
    checks = [c for row in result for c in row["checks"]]
    similar = [c for c in checks if c["name"] == "similar"]
    assert similar and all(c["passed"] is None for c in similar)
    assert all(c["passed"] is not None for c in checks if c["name"] == "min-words")  # the rest still judged


def test_an_embedder_path_that_does_not_exist_names_the_flag_and_the_key(cli, spec_file, tiny_model, tmp_path):
    path = spec_file(SPEC.format(model=tiny_model))
    code, out, err = cli("run", path, "--embedder", tmp_path / "no-such-embedder")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--embedder" in err and "embedder:" in err
