"""Fitting a request into the model's context window: refused with both numbers, or cut when asked.

A prompt of P tokens that asks for N new tokens needs P + N ≤ the model's context length C;
otherwise a model either fails deep inside its forward pass or, worse, runs for minutes on
positions it was never trained for. The check runs before anything is generated or stored.
"""
from __future__ import annotations

from typing import Literal

from hanprompt.backends.base import Backend, GenParams, Messages
from hanprompt.errors import UsageError, arg

Truncate = Literal["left", "right"]
TRUNCATE_SIDES = ("left", "right")


def overflow_error(backend: Backend, prompt_tokens: int, max_new_tokens: int) -> UsageError:
    """The one-line refusal of a prompt that, with ``max_new_tokens``, does not fit the context."""
    context = backend.context_length
    return UsageError(
        f"the prompt is {prompt_tokens:,} tokens and {arg('max_new_tokens')} is {max_new_tokens:,}: "
        f"{prompt_tokens + max_new_tokens:,} exceeds the {context:,}-token context of {backend.spec}; "
        f"shorten the prompt, lower {arg('max_new_tokens')}, or pass "
        f"{arg('truncate', choices=TRUNCATE_SIDES)} to cut the prompt"
    )


def check_max_new_tokens(backend: Backend, params: GenParams) -> None:
    """Raise UsageError when ``max_new_tokens`` alone leaves no room in the context for a prompt."""
    context = backend.context_length
    if params.max_new_tokens >= context:
        raise UsageError(
            f"{arg('max_new_tokens')} {params.max_new_tokens:,} does not fit the {context:,}-token context of "
            f"{backend.spec} (the prompt needs room too); set {arg('max_new_tokens')} below {context:,}"
        )


def fit(backend: Backend, messages: Messages, params: GenParams, truncate: Truncate | None = None) -> Messages:
    """``messages`` when their prompt plus ``params.max_new_tokens`` fits ``backend.context_length``.

    With ``truncate``, the last user message is cut from the ``left`` (its start goes) or the
    ``right`` (its end goes) until the templated prompt fits, and the cut messages are returned.
    Backends that cannot count tokens (``count_tokens`` gives None) are only checked for
    ``max_new_tokens``. Raises UsageError with both numbers when the request does not fit.
    """
    if truncate is not None and truncate not in TRUNCATE_SIDES:
        raise UsageError(f"{arg('truncate', repr(truncate))}: use {arg('truncate', choices=TRUNCATE_SIDES)}")
    check_max_new_tokens(backend, params)
    budget = backend.context_length - params.max_new_tokens
    prompt_tokens = backend.count_tokens(backend.render(messages))
    if prompt_tokens is None or prompt_tokens <= budget:
        return messages
    if truncate is None:
        raise overflow_error(backend, prompt_tokens, params.max_new_tokens)
    return _cut(backend, messages, params, budget, truncate)


def _cut(backend: Backend, messages: Messages, params: GenParams, budget: int, side: Truncate) -> Messages:
    index = max(i for i, m in enumerate(messages) if m["role"] == "user")
    content = messages[index]["content"]

    def with_kept(n: int) -> Messages:
        kept = content[len(content) - n:] if side == "left" else content[:n]
        return [dict(m, content=kept) if i == index else m for i, m in enumerate(messages)]

    def fits(n: int) -> bool:
        return backend.count_tokens(backend.render(with_kept(n))) <= budget

    if not fits(1):
        rest = backend.count_tokens(backend.render(with_kept(0)))
        raise UsageError(
            f"{arg('truncate', side)}: even with the prompt cut to nothing, the template and other messages "
            f"take {rest:,} tokens, and with {arg('max_new_tokens')} {params.max_new_tokens:,} that exceeds the "
            f"{backend.context_length:,}-token context of {backend.spec}; lower {arg('max_new_tokens')}"
        )
    low, high = 1, len(content)  # fits(low) holds, fits(high) does not: find the most that fits
    while high - low > 1:
        middle = (low + high) // 2
        if fits(middle):
            low = middle
        else:
            high = middle
    return with_kept(low)
