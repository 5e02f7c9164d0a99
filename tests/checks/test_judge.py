"""llm-rubric: verdicts parsed strictly, stored as judge generations, excluded from measures."""
from __future__ import annotations

import json
import sqlite3

import pytest

from hanprompt.experiments.judge import (VERDICT_MAX_TOKENS, VerdictError, judge_messages, language,
                                          parse_verdict, retry_messages)


def test_a_verdict_is_parsed_strictly():
    v = parse_verdict('{"pass": true, "score": 0.8, "reason": " names three books "}')
    assert (v.passed, v.score, v.reason) == (True, 0.8, "names three books")
    assert parse_verdict('```json\n{"pass": false, "score": 0, "reason": "x"}\n```').score == 0.0
    assert parse_verdict('{"pass": true, "score": 0.35, "reason": "two\nlines"}').reason == "two\nlines"
    for text, problem in [
        ("The answer is good.", "not JSON"),
        ('{"pass": true, "score": 0.8, "reason": "x"} and more', "not JSON"),
        ("[1]", "a JSON list, not an object"),
        ('{"pass": true, "score": 0.8}', "missing reason"),
        ('{"pass": true, "score": 0.8, "reason": "x", "notes": 1}', "unknown notes"),
        ('{"pass": "yes", "score": 0.8, "reason": "x"}', "pass is 'yes', not true or false"),
        ('{"pass": true, "score": 8, "reason": "x"}', "score is 8, not a number from 0 to 1"),
        ('{"pass": true, "score": true, "reason": "x"}', "score is True"),
        ('{"pass": true, "score": 1, "reason": 3}', "reason is 3, not text"),
    ]:
        with pytest.raises(VerdictError, match=problem.replace("[", r"\[")):
            parse_verdict(text)


def test_a_korean_rubric_gets_a_korean_judge_prompt():
    assert language("존댓말로 세 가지 자료를 추천한다") == "ko" and language("recommends three books") == "en"
    system, user = judge_messages("존댓말로 세 가지 자료를 추천한다", "파이썬 자료를 추천해 주세요.", "책을 읽으세요.")
    assert "JSON" in system["content"] and "한국어로" in system["content"]
    assert user["content"].startswith("평가 기준: 존댓말로 세 가지 자료를 추천한다") and "답변:\n책을 읽으세요." in user["content"]
    english = judge_messages("recommends three books", "Which books?", "Read SICP.")
    assert english[0]["content"].startswith("You grade an answer") and "Rubric: recommends three books" in english[1]["content"]
    again = retry_messages(english, "Sure!", "not JSON: Expecting value", "recommends three books")
    assert [m["role"] for m in again] == ["system", "user", "assistant", "user"]
    assert "not a valid verdict (not JSON: Expecting value)" in again[-1]["content"]


FILE = """\
name: judged
params: {{max_new_tokens: 8, temperature: 0}}
{judge}
variants:
  - id: a
    prompt: "Recommend a Python book."
    checks:
      - {{type: llm-rubric, value: "{rubric}", threshold: 0.5}}
      - {{contains: "x"}}
  - {{id: b, prompt: "Hi"}}
"""


def db_rows(home, query):
    with sqlite3.connect(home / "hanprompt.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(query)]


def run(cli, *args):
    code, out, err = cli("run", *args, "--json")
    assert code == 0, err
    return json.loads(out), err


def test_without_a_judge_the_rubric_is_not_judged_and_not_a_failure(cli, write, tiny_model, hanprompt_home):
    path = write("exp.yaml", FILE.format(judge="", rubric="recommends one concrete book"))
    results, _ = run(cli, path, "--model", tiny_model)
    a = next(r for r in results if r["variant"] == "a")
    rubric = a["checks"][0]
    assert rubric["name"] == "llm-rubric" and rubric["passed"] is None and rubric["score"] is None
    assert rubric["reason"].startswith("not judged: set judge:")
    code, out, _ = cli("compare", "1", "--json")
    cell = next(c for c in json.loads(out)["cells"] if c["variant"] == "a")
    assert cell["checked"] == 1  # the contains check decides alone
    summary = {c["name"]: c for c in cell["check_summary"]}
    assert summary["llm-rubric"]["judged"] == 0
    code, table, _ = cli("compare", "1")
    assert "not judged" in table
    assert db_rows(hanprompt_home, "SELECT count(*) AS n FROM generations WHERE role = 'judge'")[0]["n"] == 0


def test_a_judge_stores_its_calls_as_linked_generations_cached_and_excluded(cli, write, tiny_model, tiny_judge,
                                                                           hanprompt_home):
    # A random-weight judge writes no JSON: the check fails, says so, and the run goes on.
    path = write("exp.yaml", FILE.format(judge=f"judge: {tiny_judge}", rubric="recommends one concrete book"))
    results, _ = run(cli, path, "--model", tiny_model, "--repeat", "2")
    assert len(results) == 4  # two answers of a and of b: no judge rows among the results
    rubric = [r["checks"][0] for r in results if r["variant"] == "a"]
    for c in rubric:
        assert c["passed"] is False and c["score"] is None
        assert c["reason"].startswith(f"no valid verdict from hf:{tiny_judge} after one retry (")
    judges = db_rows(hanprompt_home, "SELECT * FROM generations WHERE role = 'judge' ORDER BY id")
    answers = {r["id"] for r in results if r["variant"] == "a"}
    assert {j["judged_generation_id"] for j in judges} == answers
    assert len(judges) == 4  # a first call and one retry per answer
    first, retry = judges[0], judges[1]
    assert json.loads(first["messages"])[0]["content"].startswith("You grade an answer")
    assert [m["role"] for m in json.loads(retry["messages"])] == ["system", "user", "assistant", "user"]
    assert judges[2]["cached"] and judges[2]["cached_from_id"] == first["id"]  # the greedy copy's verdict
    assert all(j["cell_key"] is None and j["variant"] is None for j in judges)
    # A second run asks the judge nothing new: every call comes from the cache.
    run(cli, path, "--model", tiny_model, "--repeat", "2")
    again = db_rows(hanprompt_home, "SELECT cached FROM generations WHERE role = 'judge' AND run_id = 2")
    assert len(again) == 4 and all(r["cached"] for r in again)
    code, out, _ = cli("compare", "1", "--json")
    assert all(c["n"] <= 2 for c in json.loads(out)["cells"])
    code, out, err = cli("words", "--run", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["documents"] == 4  # the answers, not the judge's verdicts


def test_resume_fills_in_missing_verdicts(cli, write, tiny_model, tiny_judge, hanprompt_home):
    path = write("exp.yaml", FILE.format(judge="", rubric="존댓말로 책 한 권을 추천한다"))
    run(cli, path, "--model", tiny_model)
    assert db_rows(hanprompt_home, "SELECT count(*) AS n FROM checks WHERE passed IS NULL")[0]["n"] == 1
    code, out, err = cli("run", path, "--resume", "1", "--judge", tiny_judge)
    assert code == 0, err
    assert "judge asked about 1 answer (1 missing, 0 replaced" in err
    assert db_rows(hanprompt_home, "SELECT count(*) AS n FROM checks WHERE passed IS NULL")[0]["n"] == 0
    judges = db_rows(hanprompt_home, "SELECT messages FROM generations WHERE role = 'judge' ORDER BY id")
    assert judges and "한국어로" in json.loads(judges[0]["messages"])[0]["content"]  # a Korean rubric
    (check,) = [c for c in db_rows(hanprompt_home, "SELECT * FROM checks") if c["name"] == "llm-rubric"]
    assert check["passed"] == 0 and check["reason"].startswith("no valid verdict")
    code, _, err = cli("run", path, "--resume", "1", "--judge", tiny_judge)
    # the unparsed verdict is asked again (the cache answers it the same), none is missing
    assert code == 0 and "judge asked about 1 answer (0 missing, 1 replaced" in err


def test_a_chat_too_long_for_the_judge_fails_the_check_not_the_run(cli, write, tiny_model):
    # The tiny model's 1,024 positions hold the first chat (the answer's end cut) but not the retry.
    path = write("exp.yaml", FILE.format(judge=f"judge: {tiny_model}", rubric="recommends one concrete book"))
    results, _ = run(cli, path, "--model", tiny_model)
    rubric = next(r for r in results if r["variant"] == "a")["checks"][0]
    assert rubric["passed"] is False
    assert f"(its chat with room for {VERDICT_MAX_TOKENS} new tokens does not fit the judge's 1,024-token context)" in rubric["reason"]


@pytest.mark.parametrize("judge, where, message", [
    ("judge: nope:model", 3, "unknown backend prefix 'nope:'"),
    ("judge: /no/such/model", 3, "/no/such/model"),
])
def test_a_judge_that_cannot_load_is_one_line_and_nothing_is_written(cli, write, tiny_model, hanprompt_home,
                                                                     judge, where, message):
    path = write("exp.yaml", FILE.format(judge=judge, rubric="x"))
    code, out, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"{path}:{where}: judge: " in err and message in err
    assert not (hanprompt_home / "hanprompt.db").exists() or not db_rows(hanprompt_home, "SELECT id FROM runs")


def test_bad_rubric_checks(cli, write, tiny_model):
    for check, message in [('{type: llm-rubric, value: "  "}', "llm-rubric needs the rubric's text"),
                           ("{type: llm-rubric}", "llm-rubric needs the rubric's text"),
                           ('{type: llm-rubric, value: "x", threshold: -0.1}', "greater than or equal to 0"),
                           ('{contains: "x", judge: "hf:a"}', "judge: goes with llm-rubric checks")]:
        path = write("exp.yaml", f"variants:\n  - id: a\n    prompt: hi\n    checks:\n      - {check}\n")
        code, _, err = cli("run", path, "--model", tiny_model)
        assert code == 2 and f"{path}:5" in err and message in err, err
    path = write("exp.yaml", FILE.format(judge="", rubric="x"))
    code, _, err = cli("run", path, "--model", tiny_model, "--judge", "nope:x")
    assert code == 2 and err.count("\n") == 1 and "unknown backend prefix 'nope:'" in err
