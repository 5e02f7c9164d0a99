"""python checks: the user's own function, resolved relative to the experiment file."""
from __future__ import annotations

import json

import pytest

from hanprompt.experiments.checks import CheckEnv, run_checks
from hanprompt.experiments.spec import Check

USER_CHECKS = '''
import math

def mentions_seoul(response, context):
    return "서울" in response

def length_score(response, context):
    return min(1.0, len(response) / 20)

def graded(response, context):
    return {"pass": context["variant"] == "good", "score": 0.8, "reason": f"graded {context['variant']}"}

def broken(response, context):
    return 1 / 0

def rambling(response, context):
    print("debugging output")
    return [1, 2]

def too_big(response, context):
    return 1.5

def chatty(response, context):
    print("hello from the user's code")
    return True
'''


def check(env, value, response="서울은 한국의 수도입니다.", **extra):
    (result,) = run_checks([Check.model_validate({"type": "python", "value": value, **extra})],
                           {"response": response, "variant": "good", "vars": {}}, env)
    return result


@pytest.fixture
def env(write):
    path = write("lib/checks.py", USER_CHECKS)
    return CheckEnv(path.parent.parent)


def test_bool_score_and_dict_returns(env):
    ok = check(env, "file://lib/checks.py:mentions_seoul")
    assert (ok.passed, ok.score, ok.reason) == (True, None, "mentions_seoul returned True")
    assert not check(env, "lib/checks.py:mentions_seoul", "Busan").passed  # file:// is optional
    long = check(env, "file://lib/checks.py:length_score", "x" * 15)
    assert (long.passed, long.score) == (True, 0.75) and "score 0.75 (at least 0.50)" in long.reason
    strict = check(env, "file://lib/checks.py:length_score", "x" * 15, threshold=0.9)
    assert (strict.passed, strict.score) == (False, 0.75)
    graded = check(env, "file://lib/checks.py:graded")
    assert (graded.passed, graded.score, graded.reason) == (True, 0.8, "graded good")


def test_exceptions_and_bad_returns_are_failed_checks(env, capsys):
    broken = check(env, "file://lib/checks.py:broken")
    assert not broken.passed and broken.reason == "broken raised ZeroDivisionError: division by zero"
    rambling = check(env, "file://lib/checks.py:rambling")
    assert not rambling.passed and "rambling returned list; return True/False, a score from 0 to 1" in rambling.reason
    too_big = check(env, "file://lib/checks.py:too_big")
    assert not too_big.passed and "1.5 is not a number from 0 to 1" in too_big.reason
    assert check(env, "file://lib/checks.py:chatty").passed
    out, err = capsys.readouterr()
    assert out == "" and "hello from the user's code" in err  # stdout stays for --json


EXPERIMENT = """\
name: py
params: {max_new_tokens: 6, temperature: 0}
checks:
  - {type: python, value: "file://lib/checks.py:length_score", threshold: 0.1}
variants:
  - {id: good, prompt: "Hi"}
  - id: other
    prompt: "Hello there"
    checks: [{python: "file://lib/checks.py:graded"}]
"""


def test_a_run_stores_scores_and_reasons(cli, write, tiny_model):
    write("lib/checks.py", USER_CHECKS)
    path = write("exp.yaml", EXPERIMENT)
    code, out, err = cli("run", path, "--model", tiny_model, "--json")
    assert code == 0, err
    results = {r["variant"]: r for r in json.loads(out)}
    other = results["other"]["checks"]
    assert [c["name"] for c in other] == ["python", "python"]
    assert other[1] == {"name": "python", "spec": {"python": "file://lib/checks.py:graded"}, "passed": False,
                        "reason": "graded other", "score": 0.8}
    assert 0 <= other[0]["score"] <= 1
    code, out, _ = cli("compare", "1", "--json")
    cells = {c["variant"]: c for c in json.loads(out)["cells"]}
    assert cells["other"]["mean_score"] == pytest.approx((other[0]["score"] + 0.8) / 2)
    code, table, _ = cli("compare", "1")
    assert "score " in table and "checks (independent responses)" in table
    assert "graded other" in table and "0.80" in table  # each check's reason and score


@pytest.mark.parametrize("value, message", [
    ("file://lib/missing.py:f", "python check file {dir}/lib/missing.py does not exist"),
    ("file://lib/checks.py:nope", "lib/checks.py has no function 'nope' (functions there: mentions_seoul"),
    ("file://lib/checks.py", "names no function; write file://FILE.py:FUNCTION"),
    ("file://lib/syntax.py:f", "importing {dir}/lib/syntax.py failed: SyntaxError"),
])
def test_a_missing_file_or_function_is_one_line_with_file_and_line(cli, write, tiny_model, hanprompt_home, value,
                                                                    message):
    write("lib/checks.py", USER_CHECKS)
    write("lib/syntax.py", "def f(:\n")
    path = write("exp.yaml", f"""\
        name: py
        variants:
          - id: a
            prompt: hi
            checks:
              - {{type: python, value: "{value}"}}
        """)
    code, out, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"{path}:6: variants[0].checks[0]: " in err and message.format(dir=path.parent) in err
    assert not (hanprompt_home / "hanprompt.db").exists() or _runs(hanprompt_home) == 0


def _runs(home) -> int:
    import sqlite3

    with sqlite3.connect(home / "hanprompt.db") as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def test_threshold_outside_0_1_and_misplaced_keys(cli, write, tiny_model):
    for extra, message in [("threshold: 1.5", "less than or equal to 1"),
                           ("threshold: 0.5, contains: x", "exactly one of"),
                           ("embedder: x", "embedder: goes with similar checks, not with python")]:
        path = write("exp.yaml", f'variants:\n  - {{id: a, prompt: hi, checks: [{{python: "c.py:f", {extra}}}]}}\n')
        code, _, err = cli("run", path, "--model", tiny_model)
        assert code == 2 and message in err and f"{path}:2" in err, err
    path = write("exp.yaml", 'variants:\n  - {id: a, prompt: hi, checks: [{contains: x, threshold: 0.5}]}\n')
    code, _, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and "threshold: goes with llm-rubric, similar, python, not with contains" in err
