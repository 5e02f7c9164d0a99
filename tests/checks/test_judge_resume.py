"""--resume RUN --judge NEW: verdicts missing, unparsed or of another judge are asked again; the
current judge's are kept; the command says how many of each."""
from __future__ import annotations

import sqlite3

from hanprompt.experiments.checks import stored_verdict

FILE = """\
name: judged
params: {{max_new_tokens: 8, temperature: 0}}
{judge}
variants:
  - id: a
    prompt: "Recommend a Python book."
    checks:
      - {{type: llm-rubric, value: "recommends one concrete book"}}
  - {{id: b, prompt: "Hi"}}
"""
VALID = '{"reason": "It names no book at all.", "pass": false, "score": 0.1}'


def rubric_check(home) -> dict:
    with sqlite3.connect(home / "hanprompt.db") as conn:
        conn.row_factory = sqlite3.Row
        (row,) = [dict(r) for r in conn.execute("SELECT * FROM checks WHERE name = 'llm-rubric'")]
    return row


def test_stored_verdicts_are_told_apart_by_their_judge():
    assert stored_verdict(None, "not judged: set judge: ...", "gguf:a") == "missing"
    assert stored_verdict(False, "no valid verdict from gguf:a after one retry (not JSON); it said: 'x'",
                          "gguf:b") == "unparsed"
    assert stored_verdict(False, "no verdict from gguf:a: the server is down", "gguf:a") == "unparsed"
    assert stored_verdict(True, "names SICP (gguf:a: pass, score 0.90)", "gguf:a") == "current"
    assert stored_verdict(True, "names SICP (gguf:a: pass, score 0.90)", "gguf:b") == "other"


def test_resume_with_a_new_judge_replaces_unparsed_and_other_verdicts(cli, write, tiny_model, tiny_judge,
                                                                      hanprompt_home, monkeypatch):
    from hanprompt.testing.openai_stub import StubServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write("exp.yaml", FILE.format(judge=f"judge: {tiny_judge}"))
    code, out, err = cli("run", path, "--model", tiny_model, "--json")
    assert code == 0, err
    assert rubric_check(hanprompt_home)["reason"].startswith("no valid verdict from")  # a random-weight judge
    with StubServer() as stub:
        new = f"openai:scripted@{stub.base_url}"
        stub.replies = [("Rubric:", VALID)]
        code, out, err = cli("run", path, "--resume", "1", "--judge", new)
        assert code == 0, err
        assert ("judge asked about 1 answer (0 missing, 1 replaced: unparsed or another judge's), 0 verdicts kept"
                in err)
        check = rubric_check(hanprompt_home)
        assert check["passed"] == 0 and check["reason"] == f"It names no book at all. ({new}: fail, score 0.10)"
        # the run now remembers its judge: a plain resume asks nothing and keeps the verdict
        code, out, err = cli("run", path, "--resume", "1")
        assert code == 0, err
        assert "judge asked about 0 answers (0 missing, 0 replaced: unparsed or another judge's), 1 verdict kept" in err
        assert stub.requests["scripted"] == 1
    # back to the first judge: the scripted judge's verdict is another judge's, so it is asked again
    code, out, err = cli("run", path, "--resume", "1", "--judge", tiny_judge)
    assert code == 0, err
    assert "judge asked about 1 answer (0 missing, 1 replaced" in err
    assert rubric_check(hanprompt_home)["reason"].startswith(f"no valid verdict from hf:{tiny_judge}")


def test_a_base_model_judge_gets_one_warning(cli, write, tiny_model, tiny_model_plain):
    path = write("exp.yaml", FILE.format(judge=f"judge: {tiny_model_plain}"))
    code, out, err = cli("run", path, "--model", tiny_model, "--json")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1, err
    assert "has no chat template (a base model?)" in warnings[0] and "hanprompt judge-check --judge" in warnings[0]
