"""``{{var}}`` templates, rendered in a sandbox so an experiment file cannot run code."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from hanprompt.errors import InputError


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    # StrictUndefined: a misspelt variable is an error, never a silent empty string.
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def template_variables(text: str) -> set[str]:
    """The variable names ``text`` uses; InputError when its template syntax is broken."""
    env = _env()
    try:
        return set(meta.find_undeclared_variables(env.parse(text)))
    except TemplateSyntaxError as e:
        raise InputError(f"template syntax error: {e.message}; fix the {{{{ }}}} expression") from e


def render(text: str, variables: dict[str, Any]) -> str:
    """``text`` with its ``{{var}}`` expressions filled from ``variables``."""
    if "{" not in text:  # most prompts have no template: skip the parser
        return text
    try:
        return _env().from_string(text).render(**variables)
    except TemplateError as e:
        raise InputError(f"template error: {e}; define the variable under vars:") from e
