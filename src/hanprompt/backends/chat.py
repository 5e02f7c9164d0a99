"""Chat templates: one set of rules for every backend that applies a template itself.

- A model with a template gets it, with the generation prompt added.
- A template that refuses a system role (``raise_exception(...)``) gets the system text folded
  into the first user message, then is applied again.
- A model without a template gets the messages as plain text, and its backend warns once.

Templates are rendered in the environment of transformers' ``apply_chat_template``
(:mod:`hanprompt.backends.chat_render`, without importing transformers), so a GGUF file and the
Hugging Face folder it came from give the same prompt text.
"""
from __future__ import annotations

from typing import Callable

from jinja2 import TemplateError

from hanprompt.backends.base import Messages
from hanprompt.errors import BackendError


def plain_text(messages: Messages) -> str:
    """The prompt of a model without a chat template: the messages' contents, blank-line separated."""
    return "\n\n".join(m["content"] for m in messages)


def no_template_warning(name: str) -> str:
    return (
        f"{name} has no chat template: prompts are sent as plain text, which chat-tuned "
        "models answer poorly"
    )


def fold_system(messages: Messages) -> Messages:
    """The messages without a system role: its text goes before the first user message's."""
    system, rest = messages[0]["content"], list(messages[1:])
    rest[0] = dict(rest[0], content=f"{system}\n\n{rest[0]['content']}")
    return rest


def apply_template(apply: Callable[[Messages], str], messages: Messages, spec: str) -> str:
    """``apply(messages)``, folding the system message into the user's when the template refuses it.

    Raises BackendError when the template fails for another reason.
    """
    try:
        return apply(messages)
    except TemplateError as e:  # e.g. raise_exception("System role not supported")
        if messages[0]["role"] != "system":
            raise BackendError(f"the chat template of {spec} failed: {e}") from e
        return apply_template(apply, fold_system(messages), spec)


def render_template(template: str, messages: Messages, **special_tokens: str) -> str:
    """Render a Jinja chat template exactly as transformers' ``apply_chat_template`` does.

    ``special_tokens`` are the template's variables such as ``bos_token`` and ``eos_token``.
    Raises jinja2.TemplateError when the template fails (see ``apply_template``).
    """
    from hanprompt.backends import chat_render

    return chat_render.render(template, messages, add_generation_prompt=True, **special_tokens)
