"""Judges that are constrained to the verdict's JSON schema: a real llama.cpp server, and gguf."""
from __future__ import annotations

import json
import re
import sqlite3

import pytest

from hanprompt.backends import registry
from hanprompt.backends.base import GenParams
from hanprompt.experiments.judge import (SCORES, VERDICT_MAX_TOKENS, VERDICT_SCHEMA, VerdictError, check_reason,
                                          params_for, parse_verdict)

pytest.importorskip("llama_cpp")
pytest.importorskip("openai")

FILE = """\
name: judged
params: {{max_new_tokens: 8, temperature: 0}}
judge: {judge}
variants:
  - id: a
    prompt: "Recommend a Python book."
    checks:
      - {{type: llm-rubric, value: "{rubric}"}}
"""


def judged_run(cli, write, model, judge, home, rubric="recommends one concrete book"):
    path = write("exp.yaml", FILE.format(judge=judge, rubric=rubric))
    code, out, err = cli("run", path, "--model", model, "--json")
    assert code == 0, err
    (result,) = json.loads(out)
    with sqlite3.connect(home / "hanprompt.db") as conn:
        conn.row_factory = sqlite3.Row
        judges = [dict(r) for r in conn.execute("SELECT * FROM generations WHERE role = 'judge' ORDER BY id")]
    return result["checks"][0], judges


def assert_a_verdict(check, judges, spec, rubric="recommends one concrete book"):
    # Constrained to the schema, even a random-weight judge writes the verdict's shape, reason first. A
    # call is still refused when its reason has no word of its own, or when the verdict's token bound
    # cuts it (random bytes take a token each); the check then says so.
    assert 1 <= len(judges) <= 2
    for j in judges:
        assert json.loads(j["params"])["json_schema"] == json.dumps(VERDICT_SCHEMA)
        assert re.match(r'\{\s*"reason"\s*:\s*"', j["response"]), j["response"]
        if j["finish_reason"] == "length":
            assert j["output_tokens"] == VERDICT_MAX_TOKENS
            continue
        assert j["finish_reason"] == "eos"  # the grammar closed the JSON: the reason's maxLength
        verdict = parse_verdict(j["response"])
        assert verdict.score in SCORES
    judge = judges[-1]
    if check["score"] is None:  # no valid verdict in two calls
        assert len(judges) == 2 and check["passed"] is False
        assert check["reason"].startswith(f"no valid verdict from {spec} after one retry (")
        return
    verdict = parse_verdict(judge["response"])
    check_reason(verdict, rubric, "Recommend a Python book.")
    if len(judges) == 2:  # the first call was refused
        with pytest.raises(VerdictError):
            check_reason(parse_verdict(judges[0]["response"]), rubric)
    assert check["score"] == verdict.score and check["passed"] is verdict.passed
    assert check["reason"].endswith(f"({spec}: {'pass' if verdict.passed else 'fail'}, score {verdict.score:.2f})")


def test_an_openai_judge_on_a_llama_cpp_server(cli, write, tiny_model, judge_server, hanprompt_home, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = f"openai:judge@{judge_server}"
    check, judges = judged_run(cli, write, tiny_model, spec, hanprompt_home)
    assert_a_verdict(check, judges, spec)


def test_the_server_takes_the_json_object_form_after_refusing_json_schema(judge_server):
    backend = registry.load(f"openai:judge@{judge_server}")
    params = params_for(backend)
    completion = backend.generate([{"role": "user", "content": "Grade: 1 + 1 = 2"}], params)
    parse_verdict(completion.text)
    assert backend._schema_forms == ["json_object", None]  # llama-cpp-python's server: 422 to json_schema


def test_a_server_that_takes_json_schema_gets_it(stub):
    backend = registry.load(f"openai:echo@{stub.base_url}")
    backend.generate([{"role": "user", "content": "hi"}], GenParams(max_new_tokens=4, json_schema='{"type": "object"}'))
    backend.generate([{"role": "user", "content": "hi"}], GenParams(max_new_tokens=4))
    assert stub.response_formats == [
        {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True}},
        None,
    ]


def test_a_gguf_judge_with_a_grammar(cli, write, tiny_model, judge_gguf, hanprompt_home):
    spec = f"gguf:{judge_gguf}"
    check, judges = judged_run(cli, write, tiny_model, spec, hanprompt_home, rubric="존댓말로 책 한 권을 추천한다")
    assert_a_verdict(check, judges, spec, rubric="존댓말로 책 한 권을 추천한다")
    assert "한국어로" in json.loads(judges[0]["messages"])[0]["content"]
