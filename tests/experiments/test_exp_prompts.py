"""Built-in styles and sandboxed templates."""
from __future__ import annotations

import pytest

from hanprompt.errors import InputError
from hanprompt.prompts import STYLES, Example, build_messages, render, template_variables


def test_zero_shot_is_the_task_alone():
    assert build_messages("zero-shot", task="Name a fruit.") == [{"role": "user", "content": "Name a fruit."}]


def test_few_shot_puts_examples_as_earlier_turns():
    msgs = build_messages("few-shot", task="3+3?", examples=[Example("1+1?", "2"), Example("2+2?", "4")])
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user"]
    assert [m["content"] for m in msgs] == ["1+1?", "2", "2+2?", "4", "3+3?"]


def test_role_uses_the_persona_as_system_message():
    msgs = build_messages("role", task="Hi", persona="You are a tutor.")
    assert msgs == [{"role": "system", "content": "You are a tutor."}, {"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("style, marker", [
    ("chain-of-thought", "step by step"), ("brief", "three sentences"), ("detailed", "in detail"),
])
def test_instruction_styles_append_their_instruction(style, marker):
    (msg,) = build_messages(style, task="Why is the sky blue?")
    assert msg["content"].startswith("Why is the sky blue?\n\n") and marker in msg["content"]


def test_korean_task_gets_korean_instructions():
    (msg,) = build_messages("chain-of-thought", task="하늘은 왜 파란가요?")
    assert "단계별로" in msg["content"] and "step" not in msg["content"]


def test_multi_task_numbers_the_tasks():
    (msg,) = build_messages("multi-task", task="Help me with:", tasks=["models", "Django", "cloud"])
    assert msg["content"].startswith("Help me with:\n\n1. models\n2. Django\n3. cloud\n")


def test_system_goes_first_except_for_role():
    msgs = build_messages("brief", task="Hi", system="Be kind.")
    assert msgs[0] == {"role": "system", "content": "Be kind."}
    assert set(STYLES) == {"zero-shot", "few-shot", "chain-of-thought", "role", "brief", "detailed", "multi-task"}


def test_template_variables_and_render():
    assert template_variables("Go to {{city}} in {{ season }}") == {"city", "season"}
    assert render("Go to {{city}}", {"city": "서울"}) == "Go to 서울"
    with pytest.raises(InputError, match="undefined"):
        render("Go to {{city}}", {})
    # A '{{' that does not hold an expression is text, not a syntax error.
    assert template_variables("Go to {{city") == set() and render("Go to {{city", {}) == "Go to {{city"


def test_templates_are_sandboxed():
    with pytest.raises(InputError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
