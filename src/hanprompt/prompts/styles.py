"""Built-in prompt styles: each turns a task (and its extras) into chat messages.

The added instructions follow the task's language: a task written in Korean gets Korean
instructions, so a style never mixes languages into a Korean prompt.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hanprompt.hangul import has_hangul

Messages = list[dict]


@dataclass(frozen=True)
class Example:
    """One demonstration for the few-shot style."""

    input: str
    output: str


_TEXT = {
    "en": {
        "cot": "Think step by step: work through the problem first, then give the final answer "
        "on a last line that starts with 'Answer:'.",
        "brief": "Answer briefly, in at most three sentences, without preamble.",
        "detailed": "Answer in detail: explain your reasoning, give concrete examples and steps, "
        "and organise the answer with headings or lists.",
        "multi_intro": "Please address each of the following:",
        "multi_outro": "Answer each part under its own numbered heading.",
    },
    "ko": {
        "cot": "단계별로 생각해 보세요. 먼저 문제를 차근차근 풀고, 마지막 줄에 '답:'으로 시작하는 최종 답을 쓰세요.",
        "brief": "서론 없이 세 문장 이내로 짧게 답하세요.",
        "detailed": "자세히 답하세요. 근거를 설명하고 구체적인 예와 단계를 들며, 제목이나 목록으로 정리하세요.",
        "multi_intro": "다음 각 항목에 답해 주세요:",
        "multi_outro": "각 항목을 번호가 붙은 제목 아래에 따로 답하세요.",
    },
}


def _lang(text: str) -> str:
    return "ko" if has_hangul(text) else "en"


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _zero_shot(task: str, **_) -> Messages:
    return [_user(task)]


def _few_shot(task: str, examples: list[Example], **_) -> Messages:
    out: Messages = []
    for ex in examples:  # demonstrations as earlier turns: what chat models were tuned on
        out += [_user(ex.input), {"role": "assistant", "content": ex.output}]
    return out + [_user(task)]


def _chain_of_thought(task: str, **_) -> Messages:
    return [_user(f"{task}\n\n{_TEXT[_lang(task)]['cot']}")]


def _role(task: str, persona: str, **_) -> Messages:
    return [{"role": "system", "content": persona}, _user(task)]


def _brief(task: str, **_) -> Messages:
    return [_user(f"{task}\n\n{_TEXT[_lang(task)]['brief']}")]


def _detailed(task: str, **_) -> Messages:
    return [_user(f"{task}\n\n{_TEXT[_lang(task)]['detailed']}")]


def _multi_task(task: str | None, tasks: list[str], **_) -> Messages:
    text = _TEXT[_lang(" ".join([task or "", *tasks]))]
    lines = [task or text["multi_intro"], ""]
    lines += [f"{i}. {t}" for i, t in enumerate(tasks, 1)]
    return [_user("\n".join(lines + ["", text["multi_outro"]]))]


#: style name -> (builder, the extra fields it requires)
STYLES: dict[str, tuple[Callable[..., Messages], tuple[str, ...]]] = {
    "zero-shot": (_zero_shot, ("task",)),
    "few-shot": (_few_shot, ("task", "examples")),
    "chain-of-thought": (_chain_of_thought, ("task",)),
    "role": (_role, ("task", "persona")),
    "brief": (_brief, ("task",)),
    "detailed": (_detailed, ("task",)),
    "multi-task": (_multi_task, ("tasks",)),
}


def build_messages(
    style: str,
    *,
    task: str | None = None,
    examples: list[Example] | None = None,
    persona: str | None = None,
    tasks: list[str] | None = None,
    system: str | None = None,
) -> Messages:
    """The messages of ``style`` applied to ``task``; ``system`` (if any) goes first."""
    builder, _ = STYLES[style]
    messages = builder(task=task, examples=examples or [], persona=persona, tasks=tasks or [])
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}] + messages
    return messages
