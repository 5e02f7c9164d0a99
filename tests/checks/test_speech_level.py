"""Speech levels sentence by sentence, on answers written for this project, through real Kiwi."""
from __future__ import annotations

import pytest

from hanprompt.analysis.speech_level import analyse, judge_consistency, judge_level, level_of_ending
from hanprompt.experiments.checks import run_checks
from hanprompt.experiments.spec import Check

FORMAL = ("서울은 한국의 수도입니다. 경복궁은 조선 시대에 지어졌습니다. "
          "한강 공원에 가 보셨습니까? 저녁에는 야경을 꼭 보십시오. 함께 남산에 올라갑시다.")
POLITE = ("서울은 한국의 수도예요. 경복궁은 조선 시대에 지어졌어요. 한강 공원에 가 봤어요? "
          "저녁에는 야경을 꼭 보세요. 정말 아름답죠! 함께 남산에 올라갈까요?")
CASUAL = ("서울은 한국의 수도야. 경복궁은 조선 시대에 지어졌어. 한강 공원에 가 봤어? "
          "저녁에는 야경을 꼭 봐. 정말 아름답지! 내가 남산까지 데려다줄게.")
PLAIN = ("서울은 한국의 수도이다. 경복궁은 조선 시대에 지어졌다. 사람들은 한강 공원에서 쉰다. "
         "야경을 본 적이 있느냐? 함께 남산에 오르자. 서울의 밤은 참 아름답구나!")
MIXED = "서울은 한국의 수도입니다. 경복궁은 정말 멋있어요. 한강 공원에도 꼭 가 봐. 야경이 아름답습니다."
BULLETS = """## 서울 여행 추천
- 경복궁
- 한강 공원 산책
- 남산 타워에서 야경 보기
1. **북촌 한옥마을**: 전통 가옥이 모여 있는 곳입니다.
2. 광장시장: 빈대떡이 유명합니다.
메모: 일찍 출발함

```python
print("안녕하세요")  # 코드 안의 문장은 세지 않아
```
"""


def sentences(text):
    return analyse([text])[0]


@pytest.mark.parametrize("text, level", [(FORMAL, "formal"), (POLITE, "polite"), (CASUAL, "casual"), (PLAIN, "plain")])
def test_each_level_is_found_in_every_sentence(text, level):
    found = sentences(text)
    assert len(found) >= 5
    assert [s.level for s in found] == [level] * len(found), [(s.text, s.ending, s.level) for s in found]
    verdict = judge_level(found, level)
    assert verdict.passed and verdict.score == 1.0
    assert verdict.reason.startswith(f"{level} (") and f"{len(found)} of {len(found)} sentences" in verdict.reason
    assert judge_consistency(found).passed
    for other in {"formal", "polite", "casual", "plain"} - {level}:
        wrong = judge_level(found, other)
        assert not wrong.passed and wrong.score == 0.0


def test_mixed_levels_are_named_sentence_by_sentence_and_quoted():
    found = sentences(MIXED)
    assert [s.level for s in found] == ["formal", "polite", "casual", "formal"]
    formal = judge_level(found, "formal")
    assert not formal.passed and formal.score == 0.5
    assert "by sentence: formal, polite, casual, formal" in formal.reason
    assert "'경복궁은 정말 멋있어요.' (polite)" in formal.reason and "'한강 공원에도 꼭 가 봐.' (casual)" in formal.reason
    consistent = judge_consistency(found)
    assert not consistent.passed and consistent.score == 0.5
    assert consistent.reason.startswith("mixed: 2 formal (합쇼체), 1 polite (해요체), 1 casual (해체)")
    assert "야경이" not in consistent.reason  # the sentences at the main level are not offending


def test_bullets_headings_and_notes_are_skipped_and_counted():
    found = sentences(BULLETS)
    judged = [s for s in found if s.level]
    assert [s.level for s in judged] == ["formal", "formal"]
    assert {s.text for s in found if s.skipped == "no final ending"} >= {"## 서울 여행 추천", "- 경복궁", "- 한강 공원 산책"}
    assert [s.text for s in found if s.skipped == "nominal ending"] == ["- 남산 타워에서 야경 보기", "메모: 일찍 출발함"]
    assert not any("안녕하세요" in s.text for s in found)  # code is not prose
    verdict = judge_level(found, "formal")
    assert verdict.passed and verdict.score == 1.0
    assert "skipped 3 (no final ending), 2 (nominal ending)" in verdict.reason


def test_a_text_without_any_final_ending_fails_and_says_why():
    for verdict in (judge_level(sentences("- 경복궁\n- 남산"), "polite"), judge_consistency(sentences("Hello world"))):
        assert not verdict.passed and verdict.score is None
        assert verdict.reason.startswith("no sentence with a final ending to judge")


@pytest.mark.parametrize("form, level", [
    ("ᆸ니다", "formal"), ("습니까", "formal"), ("ᆸ시오", "formal"), ("ᆸ시다", "formal"),
    ("어요", "polite"), ("예요", "polite"), ("죠", "polite"), ("세요", "polite"), ("ᆯ까요", "polite"), ("요", "polite"),
    ("어", "casual"), ("야", "casual"), ("지", "casual"), ("ᆯ게", "casual"), ("는데", "casual"), ("잖아", "casual"),
    ("니까", "casual"),  # 비싸니까. is casual; only 습니까/ᆸ니까 are formal
    ("다", "plain"), ("는다", "plain"), ("냐", "plain"), ("니", "plain"), ("자", "plain"), ("어라", "plain"),
    ("구나", "plain"), ("ᆫ가", "plain"),
    ("오", None), ("소", None),  # 하오체 is outside the four levels
])
def test_ending_table(form, level):
    assert level_of_ending(form) == level


def test_as_experiment_checks_with_scores():
    record = {"response": MIXED, "output_tokens": 30, "total_s": 1.0}
    polite, consistent = run_checks(
        [Check.model_validate({"type": "speech-level", "value": "polite"}),
         Check.model_validate("consistent-speech-level")], record)
    assert (polite.name, polite.passed, polite.score) == ("speech-level", False, 0.25)
    assert polite.spec == {"speech-level": "polite"}
    assert (consistent.name, consistent.passed, consistent.score) == ("consistent-speech-level", False, 0.5)
    assert consistent.as_dict()["score"] == 0.5
    (formal,) = run_checks([Check.model_validate({"speech-level": "formal"})], {"response": FORMAL})
    assert formal.passed and formal.score == 1.0


def test_an_unknown_level_names_the_four(cli, tmp_path, hanprompt_home):
    path = tmp_path / "exp.yaml"
    path.write_text("variants:\n  - id: a\n    prompt: hi\n    checks:\n      - {type: speech-level, value: honorific}\n",
                    encoding="utf-8")
    code, out, err = cli("run", path, "--model", "/nowhere")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"{path}:5:" in err
    for name in ("formal (합쇼체)", "polite (해요체)", "casual (해체)", "plain (해라체)", "'honorific'"):
        assert name in err
    assert not (hanprompt_home / "hanprompt.db").exists()


def test_an_unknown_check_type_suggests_the_nearest():
    with pytest.raises(ValueError, match="unknown check type 'speech-levels'; did you mean 'speech-level'"):
        Check.model_validate({"type": "speech-levels", "value": "formal"})
