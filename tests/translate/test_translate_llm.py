"""llm: translators: the prompt through the chat template, and keeping only the translation."""
from __future__ import annotations

import pytest

from hanprompt.translate import base
from hanprompt.translate.languages import language
from hanprompt.translate.llm import clean_output

SRC = "Seoul is the capital of Korea."


@pytest.mark.parametrize("raw", [
    "서울은 한국의 수도입니다.",
    "Here is the translation:\n서울은 한국의 수도입니다.",
    "Sure! Here's the Korean translation:\n\n\"서울은 한국의 수도입니다.\"",
    "번역: 서울은 한국의 수도입니다.",
    "Korean translation (formal): 서울은 한국의 수도입니다.",
    f"{SRC}\n서울은 한국의 수도입니다.",
    "“서울은 한국의 수도입니다.”\n\nNote: I used the formal style.",
    "「서울은 한국의 수도입니다.」",
])
def test_preambles_echoes_quotes_and_notes_are_removed(raw):
    assert clean_output(raw, SRC) == "서울은 한국의 수도입니다."


def test_a_translation_with_a_colon_is_kept():
    assert clean_output("서울은 수도입니다: 정말로.", SRC) == "서울은 수도입니다: 정말로."


def test_the_prompt_goes_through_the_chat_template(tiny_model):
    t = base.load(f"llm:{tiny_model}", max_new_tokens=8)
    messages = t.messages(SRC, language("en"), language("ko"))
    prompt = t.backend.render(messages)
    assert prompt.startswith("<|im_start|>system\n") and "from English into Korean" in prompt
    assert f"<|im_start|>user\n{SRC}<|im_end|>" in prompt
    results = t.translate([SRC, "Thank you. See you tomorrow."], language("en"), language("ko"))
    assert [r.segments for r in results] == [1, 2]
    assert all(SRC not in r.translation for r in results)
