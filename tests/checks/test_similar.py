"""similar checks through a tiny real sentence-transformers model."""
from __future__ import annotations

import json
import shutil

import pytest

from hanprompt.experiments import similarity
from hanprompt.experiments.checks import CheckEnv, run_checks
from hanprompt.experiments.spec import Check

REFERENCE = "서울은 한국의 수도입니다."


def similar(env, response, **spec):
    (result,) = run_checks([Check.model_validate({"similar": REFERENCE, **spec})], {"response": response}, env)
    return result


def test_identical_texts_score_1_and_the_threshold_decides(tiny_embedder):
    env = CheckEnv(embedder=str(tiny_embedder))
    same = similar(env, REFERENCE)
    assert same.passed and same.score == 1.0 and same.reason.startswith("cosine similarity 1.000 (at least 0.75;")
    other = "Numbers 0123456789 and symbols: {} [] () <> = + - * / # @ ! ? . , ; :"
    cosine = env.embedder(Check.model_validate({"similar": "x"})).cosine(REFERENCE, other)
    assert -1 <= cosine < 0.999
    assert similar(env, other, threshold=max(0.0, cosine - 0.01)).passed
    below = similar(env, other, threshold=min(1.0, cosine + 0.01))
    assert not below.passed and below.score == pytest.approx(max(0.0, cosine))
    assert f"cosine similarity {cosine:.3f}" in below.reason


def test_each_distinct_text_is_embedded_once_in_one_batch(tiny_embedder, monkeypatch):
    env = CheckEnv(embedder=str(tiny_embedder))
    embedder = env.embedder(Check.model_validate({"similar": "x"}))
    calls = []
    real = embedder.model.encode
    monkeypatch.setattr(embedder.model, "encode", lambda texts, **kw: calls.append(list(texts)) or real(texts, **kw))
    check = Check.model_validate({"similar": "제주도는 한국에서 가장 큰 섬입니다."})
    responses = ["가을 설악산", "부산 바다", "가을 설악산", "제주도는 한국에서 가장 큰 섬입니다."]
    env.warm([((check,), r) for r in responses])
    assert len(calls) == 1 and sorted(calls[0]) == sorted({check.similar, *responses})
    for r in responses:
        run_checks([check], {"response": r}, env)
    assert len(calls) == 1  # the checks use the vectors already made


def test_the_e5_family_gets_its_query_prefix(tiny_embedder, tmp_path):
    e5 = tmp_path / "multilingual-e5-small"
    shutil.copytree(tiny_embedder, e5)
    assert similarity.load_embedder(str(e5)).prompt == "query: "
    assert similarity.load_embedder(str(tiny_embedder)).prompt == ""
    assert similarity._E5.search("multilingual-e5-small") and not similarity._E5.search("bge-m3")


EXPERIMENT = """\
name: sim
params: {{max_new_tokens: 6, temperature: 0}}
{embedder}
variants:
  - id: a
    prompt: "Hi"
    checks:
      - {{type: similar, value: "서울은 한국의 수도입니다.", threshold: 0.0{check_embedder}}}
"""


def test_a_run_with_a_similarity_check(cli, write, tiny_model, tiny_embedder):
    path = write("exp.yaml", EXPERIMENT.format(embedder=f"embedder: {tiny_embedder}", check_embedder=""))
    code, out, err = cli("run", path, "--model", tiny_model, "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    (c,) = result["checks"]
    assert c["name"] == "similar" and c["passed"] is True and 0 <= c["score"] <= 1
    assert str(tiny_embedder) in c["reason"]


@pytest.mark.parametrize("embedder, message", [
    ("/nowhere/embedder", "embedder /nowhere/embedder does not exist"),
    ("{model}", "is not a sentence-transformers model (no modules.json)"),
    # named on the check, a hub embedder that cannot be had is an error (the default one, unnamed,
    # leaves the check not judged: tests/experiments/test_similar_offline.py)
    ("intfloat/multilingual-e5-small",
     "model 'intfloat/multilingual-e5-small' is neither in the local Hugging Face cache nor downloadable"),
])
def test_an_embedder_that_cannot_be_had_is_one_line_and_nothing_is_written(
        cli, write, tiny_model, hanprompt_home, monkeypatch, embedder, message):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no hub here: the default embedder is not cached
    setting = f", embedder: {embedder.format(model=tiny_model)}"
    path = write("exp.yaml", EXPERIMENT.format(embedder="", check_embedder=setting))
    code, out, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"{path}:8: variants[0].checks[0]: " in err and message in err
    if embedder.startswith("intfloat/"):
        assert "download intfloat/multilingual-e5-small" in err
    db = hanprompt_home / "hanprompt.db"
    if db.exists():
        import sqlite3

        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
