"""The ``llm-rubric`` check: a judge model grades a response against a rubric written in words.

The judge answers one JSON object ``{"reason": str, "pass": bool, "score": 0..1}``, constrained
to that schema where its backend can (see ``VERDICT_SCHEMA``), parsed strictly, and asked once
more when the first answer is not a valid verdict: not that object, or a reason that is empty
or only repeats the judge's instructions, the rubric, the question or the answer
(``check_reason``). A verdict takes at most ``VERDICT_MAX_TOKENS`` tokens. The prompt describes
the verdict's keys and shows no verdict. A rubric written in Korean gets a Korean judge prompt.
Every judge call is a generation of its own (role ``judge``), stored linked to the answer it
grades.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Callable

from hanprompt.backends.base import Backend, Completion, GenParams
from hanprompt.errors import one_line
from hanprompt.hangul import has_hangul

#: a reason long enough for one sentence, short enough that a constrained model closes its JSON
#: within ``VERDICT_MAX_TOKENS`` (120 characters: about 30 tokens of English, 60-120 of Korean in
#: tokenizers with Hangul merges)
REASON_MAX = 120
#: the scores a constrained judge may give: tenths, as an enum, because grammar converters
#: (llama.cpp's, and others) enforce an enum but not a number's minimum and maximum
SCORES = [i / 10 for i in range(11)]
#: "reason" first: a model constrained to the schema writes why before it decides
VERDICT_SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "minLength": 1, "maxLength": REASON_MAX},
        "pass": {"type": "boolean"},
        "score": {"type": "number", "enum": SCORES},
    },
    "required": ["reason", "pass", "score"],
    "additionalProperties": False,
}
#: the most tokens one verdict may take: the JSON's keys and values (about 20 tokens) and a
#: reason of at most ``REASON_MAX`` characters. A judge that cannot write a verdict fails in
#: at most two calls of this many tokens (the first and one retry); a verdict cut at this bound
#: (a tokenizer that spends a token per byte of Hangul, say) is invalid like any other.
VERDICT_MAX_TOKENS = 160
#: greedy, so that a verdict is reproducible and cached
JUDGE_PARAMS = GenParams(max_new_tokens=VERDICT_MAX_TOKENS, temperature=0.0)

# The prompts describe the verdict's shape, key by key, and never show a verdict: a small model
# constrained to the schema copies an example verdict ("pass": true and its placeholder reason)
# whatever the answer says.
_PROMPTS = {
    "en": {
        "system": (
            "You grade an answer written by an AI assistant against a rubric. Read the rubric, the question "
            "and the answer. Then reply with one JSON object and nothing else, with exactly three keys: "
            '"reason", a sentence of your own about this answer that names what in it meets or misses the '
            'rubric; "pass", true when the answer meets the rubric and false when it does not; "score", how '
            "well the answer meets the rubric, from 0 (not at all) to 1 (fully)."
        ),
        "user": "Rubric: {rubric}\n\nQuestion:\n{question}\n\nAnswer:\n{answer}",
        "retry": "That was not a valid verdict ({error}). Reply with only the JSON object, its keys "
                 '"reason" (your own sentence about this answer), "pass" and "score".',
    },
    "ko": {
        "system": (
            "당신은 AI 어시스턴트가 쓴 답변을 평가 기준에 따라 채점합니다. 평가 기준과 질문과 답변을 읽으세요. "
            "그런 다음 다른 말 없이 JSON 객체 하나로만 답하세요. 키는 정확히 세 개입니다: "
            '"reason"은 이 답변의 어떤 점이 기준을 충족하거나 충족하지 못하는지를 한국어로 직접 쓴 문장, '
            '"pass"는 답변이 기준을 충족하면 true, 충족하지 못하면 false, '
            '"score"는 답변이 기준을 얼마나 충족하는지를 0(전혀)에서 1(완전히) 사이의 숫자로 나타냅니다.'
        ),
        "user": "평가 기준: {rubric}\n\n질문:\n{question}\n\n답변:\n{answer}",
        "retry": "올바른 평가가 아닙니다 ({error}). JSON 객체 하나로만 다시 답하세요. 키는 "
                 '"reason"(이 답변에 대해 직접 쓴 문장), "pass", "score"입니다.',
    },
}


def language(rubric: str) -> str:
    """``ko`` for a rubric written in Korean (any Hangul in it), else ``en``."""
    return "ko" if has_hangul(rubric) else "en"


def judge_messages(rubric: str, question: str, answer: str) -> list[dict]:
    """The judge's chat: a system prompt in the rubric's language, then rubric, question and answer."""
    p = _PROMPTS[language(rubric)]
    return [{"role": "system", "content": p["system"]},
            {"role": "user", "content": p["user"].format(rubric=rubric, question=question, answer=answer)}]


#: how much of an invalid answer goes back to the judge: a verdict is short, and a rambling
#: answer must not push the retry out of the judge's context
SAID_MAX = 300


def retry_messages(messages: list[dict], said: str, error: str, rubric: str) -> list[dict]:
    """The same chat, the judge's invalid answer (its start), and a request to answer again as JSON."""
    return messages + [{"role": "assistant", "content": said[:SAID_MAX]},
                       {"role": "user", "content": _PROMPTS[language(rubric)]["retry"].format(error=error)}]


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float
    reason: str


class VerdictError(ValueError):
    """A judge's answer that is not a verdict; the message says what is wrong."""


_FENCE = re.compile(r"\s*```(?:json)?\s*\n?(.*?)\n?```\s*", re.S)


def parse_verdict(text: str) -> Verdict:
    """A verdict from exactly ``{"pass": bool, "score": 0..1, "reason": str}`` (a ```json fence allowed;
    any score from 0 to 1 is taken, whether or not it is one of ``SCORES``).

    Raises VerdictError naming the first problem: not JSON, not an object, a missing or extra
    key, a key of the wrong type, a score outside 0..1.
    """
    fenced = _FENCE.fullmatch(text or "")
    payload = (fenced.group(1) if fenced else text or "").strip()
    try:
        # strict=False: a raw newline or tab inside the reason (which some grammar converters let
        # through) is harmless; everything about the verdict's shape is still checked below.
        data = json.loads(payload, strict=False)
    except ValueError as e:
        raise VerdictError(f"not JSON: {one_line(e)}") from None
    if not isinstance(data, dict):
        raise VerdictError(f"a JSON {type(data).__name__}, not an object")
    missing = [k for k in ("pass", "score", "reason") if k not in data]
    extra = sorted(set(data) - {"pass", "score", "reason"})
    if missing or extra:
        raise VerdictError(", ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                     + ([f"unknown {', '.join(extra)}"] if extra else [])))
    if not isinstance(data["pass"], bool):
        raise VerdictError(f"pass is {data['pass']!r}, not true or false")
    score = data["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise VerdictError(f"score is {score!r}, not a number from 0 to 1")
    if not isinstance(data["reason"], str):
        raise VerdictError(f"reason is {data['reason']!r}, not text")
    return Verdict(data["pass"], float(score), data["reason"].strip())


def _instructions(rubric: str) -> str:
    """The judge's own instructions in the rubric's language (its system and retry prompts)."""
    p = _PROMPTS[language(rubric)]
    return p["system"] + "\n" + p["retry"].replace("{error}", "")


#: a reason with at least this share of its word runs from the judge's instructions repeats them
#: (``hanprompt.overlap.echo_share``)
ECHO_SHARE = 0.5


def check_reason(verdict: Verdict, rubric: str, question: str = "", answer: str = "") -> None:
    """Raise VerdictError when a verdict's reason says nothing of its own: it has no word; at
    least ``ECHO_SHARE`` of its runs of three words come from the judge's instructions; or every
    run of it comes from the rubric, the question or the answer (it only repeats one of them). A
    reason of one or two words counts as a run of its own (``hanprompt.overlap.echo_share``)."""
    from hanprompt.overlap import echo_share, words

    if not words(verdict.reason):
        raise VerdictError("the reason is empty; write what in the answer meets or misses the rubric")
    if echo_share(verdict.reason, _instructions(rubric)) >= ECHO_SHARE:
        raise VerdictError("the reason repeats the instructions; write what in this answer meets or misses the rubric")
    for name, text in (("rubric", rubric), ("question", question), ("answer", answer)):
        if echo_share(verdict.reason, text) == 1.0:
            raise VerdictError(f"the reason only repeats the {name}; write what in this answer meets or misses "
                               "the rubric")


@dataclass
class Attempt:
    """One judge call: what was sent, what came back, and whether it came from the cache."""

    judge: Backend
    messages: list[dict]
    params: GenParams
    completion: Completion
    cache_key: str
    cached: bool
    stored_id: int | None = None  # the generation that first stored it in this run


@dataclass
class Outcome:
    """A verdict (or why there is none) and the judge calls that led to it."""

    judge: Backend
    verdict: Verdict | None
    error: str | None
    attempts: list[Attempt] = field(default_factory=list)


Lookup = Callable[[list[str]], dict[str, Completion]]  # cache keys -> completions stored before


def judge_warnings(judge: Backend) -> list[str]:
    """The loaded judge's warnings for the user, one line each: a model without a chat template
    (a base model, most likely) gets one line saying what that means for its verdicts, in place of
    the backend's general no-template warning."""
    if judge.info.template != "plain":
        return list(judge.info.warnings)
    return [w for w in judge.info.warnings if "has no chat template" not in w] + [
        f"the judge {judge.spec} has no chat template (a base model?): its prompt is sent as plain text and its "
        f"verdicts are likely invalid or copied; measure it first with: hanprompt judge-check --judge {judge.spec}"
    ]


def params_for(judge: Backend) -> GenParams:
    """The judge's parameters, with the verdict schema where the backend can constrain to it."""
    if judge.supports_json_schema:
        # keys in the schema's order, not sorted: grammars follow it, so the reason comes first
        return JUDGE_PARAMS.model_copy(update={"json_schema": json.dumps(VERDICT_SCHEMA)})
    return JUDGE_PARAMS


def run_judge(judge: Backend, items: list[tuple[str, str, str]], lookup: Lookup | None = None) -> list[Outcome]:
    """Judge (rubric, question, answer) items in batches: one call each, then one retry for the invalid.

    Never raises for one item's sake: a chat that cannot fit the judge's context (the answer's
    end is cut first), a failed call or an invalid verdict leaves ``verdict`` None and says why
    in ``error``.
    """
    from hanprompt.backends.context import fit
    from hanprompt.errors import HanpromptError
    from hanprompt.experiments.cache import cache_key

    params = params_for(judge)
    outcomes = [Outcome(judge, None, None) for _ in items]
    chats = [judge_messages(*item) for item in items]
    pending = list(range(len(items)))
    for round_ in range(2):
        ready = []
        for i in pending:
            try:
                chats[i] = fit(judge, chats[i], params, truncate="right")
                ready.append(i)
            except HanpromptError:
                outcomes[i].error = (f"its chat with room for {params.max_new_tokens} new tokens does not fit "
                                     f"the judge's {judge.context_length:,}-token context")
        try:
            attempts = _generate(judge, [chats[i] for i in ready], params, lookup, cache_key)
        except HanpromptError as e:  # the judge itself failed (a server down, ...): these checks fail
            for i in ready:
                outcomes[i].error = str(e)
            break
        retry = []
        for i, attempt in zip(ready, attempts):
            outcomes[i].attempts.append(attempt)
            try:
                if attempt.completion.error:
                    raise VerdictError(attempt.completion.error)
                verdict = parse_verdict(attempt.completion.text)
                check_reason(verdict, *items[i])
                outcomes[i].verdict, outcomes[i].error = verdict, None
            except VerdictError as e:
                outcomes[i].error = str(e)
                if round_ == 0:
                    chats[i] = retry_messages(chats[i], attempt.completion.text, str(e), items[i][0])
                    retry.append(i)
        pending = retry
        if not pending:
            break
    return outcomes


def _generate(judge: Backend, chats: list[list[dict]], params: GenParams, lookup: Lookup | None,
              cache_key) -> list[Attempt]:
    keys = [cache_key(judge, chat, params) for chat in chats]
    hits = lookup(keys) if lookup is not None else {}
    todo = [i for i, k in enumerate(keys) if k not in hits]
    made = dict(zip(todo, judge.generate_batch([(chats[i], params) for i in todo]))) if todo else {}
    return [Attempt(judge, chat, params, hits[k] if k in hits else made[i], k, k in hits)
            for i, (chat, k) in enumerate(zip(chats, keys))]
