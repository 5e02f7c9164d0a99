"""Checks: each one passing and failing, with its reason."""
from __future__ import annotations

import pytest

from hanprompt.experiments.checks import hangul_share, run_checks
from hanprompt.experiments.spec import Check


def check(spec, response, output_tokens=10, total_s=0.5):
    (result,) = run_checks([Check.model_validate(spec)], {
        "response": response, "output_tokens": output_tokens, "total_s": total_s})
    return result


@pytest.mark.parametrize("spec, good, bad", [
    ({"contains": "Python"}, "Learn Python", "learn python"),
    ({"icontains": "python"}, "Learn PYTHON", "Learn Rust"),
    ({"not-contains": "sorry"}, "Sure!", "I am sorry"),
    ({"regex": r"^\d+\."}, "1. first", "first"),
    ({"min-words": 3}, "one two three", "one two"),
    ({"max-words": 2}, "one two", "one two three"),
    ("is-json", '```json\n{"a": [1, 2]}\n```', "{a: 1}"),
    ({"language": "ko"}, "서울은 한국의 수도입니다 (Seoul).", "Seoul is the capital (서울)."),
    ({"language": "ko", "min-share": 0.2}, "Seoul is 서울 and 부산", "Seoul and Busan"),
])
def test_text_checks(spec, good, bad):
    ok, fail = check(spec, good), check(spec, bad)
    assert ok.passed and not fail.passed, (ok, fail)
    assert ok.reason and fail.reason and ok.reason != fail.reason


def test_max_tokens_and_latency():
    assert check({"max-tokens": 10}, "x", output_tokens=10).passed
    assert not check({"max-tokens": 10}, "x", output_tokens=11).passed
    assert check({"max-latency-ms": 600}, "x", total_s=0.5).passed
    result = check({"max-latency-ms": 400}, "x", total_s=0.5)
    assert not result.passed and "500 ms" in result.reason


def test_hangul_share_counts_letters_only():
    assert hangul_share("서울 123!!") == 1.0
    assert hangul_share("서울 ab") == 0.5
    assert hangul_share("") == 0.0


def test_stored_spec_of_a_check():
    assert check({"language": "ko"}, "한국").spec == {"language": "ko"}
    assert check("is-json", "1").spec == {"is-json": True}
