"""logs --search and --model match literally (%, _ and \\ are characters) and NFC/NFD alike."""
from __future__ import annotations

import json
import unicodedata

import pytest

ROWS = [
    # (prompt, response, model)
    ("a_b underscore", "plain answer", "hf:/models/x%y"),
    ("percent", "100 퍼센트", "hf:/models/plain"),
    ("discount", "0% off today", "hf:/models/a_b"),
    ("back\\slash path", "C:\\temp", "hf:/models/other"),
    ("서울 question", unicodedata.normalize("NFD", "서울은 한국의 수도입니다."), "hf:/models/ko"),
    (unicodedata.normalize("NFD", "부산 질문"), "부산은 항구입니다.", "hf:/models/ko2"),
    ("slash a/b", "ab", "hf:/models/s"),
]

CASES = [
    ("_", ["a_b underscore"]),
    ("0%", ["discount"]),
    ("%", ["discount"]),
    ("\\", ["back\\slash path"]),
    ("\\temp", ["back\\slash path"]),
    ("a_b", ["a_b underscore"]),
    ("A_B", ["a_b underscore"]),  # letter case still ignored
    ("서울", ["서울 question"]),
    (unicodedata.normalize("NFD", "서울"), ["서울 question"]),
    ("부산", [unicodedata.normalize("NFD", "부산 질문")]),
    ("a/b", ["slash a/b"]),  # SQLAlchemy's own escape character is literal too
]

MODEL_CASES = [("_", ["hf:/models/a_b"]), ("%", ["hf:/models/x%y"]), ("x%y", ["hf:/models/x%y"]),
               ("ko", ["hf:/models/ko", "hf:/models/ko2"])]


def _fill(url: str) -> None:
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation, create_run

    engine = open_engine(url)
    run_id = create_run(engine, name="search", kind="experiment")
    with engine.begin() as conn:
        for prompt, response, model in ROWS:
            add_generation(conn, run_id, {"model": model, "backend": "hf", "prompt": prompt, "response": response})


def _check(url: str) -> None:
    from hanprompt.store import open_engine
    from hanprompt.store.runs import iter_generations, list_generations

    engine = open_engine(url)
    for term, prompts in CASES:
        found = sorted(g["prompt"] for g in list_generations(engine, search=term, limit=None))
        assert found == sorted(prompts), term
        assert sorted(g["prompt"] for g in iter_generations(engine, search=term)) == sorted(prompts), term
    for term, models in MODEL_CASES:
        assert sorted(g["model"] for g in list_generations(engine, model=term)) == models, term
    stored = [g["response"] for g in list_generations(engine, search="서울")]
    assert stored == [unicodedata.normalize("NFD", "서울은 한국의 수도입니다.")]  # kept as generated


def test_literal_search_on_sqlite():
    from hanprompt import settings

    url = settings.db_url()
    _fill(url)
    _check(url)


@pytest.mark.postgres
def test_literal_search_on_postgresql(pg_url):
    _fill(pg_url)
    _check(pg_url)


def test_logs_search_through_the_cli(cli):
    from hanprompt import settings

    _fill(settings.db_url())
    code, out, err = cli("logs", "--search", "_", "--json")
    assert code == 0, err
    assert [r["prompt"] for r in json.loads(out)] == ["a_b underscore"]
    code, out, err = cli("logs", "export", "--search", unicodedata.normalize("NFD", "서울"), "--format", "jsonl")
    assert code == 0 and [json.loads(line)["prompt"] for line in out.splitlines()] == ["서울 question"]
