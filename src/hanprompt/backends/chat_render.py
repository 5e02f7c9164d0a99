"""Rendering a model's Jinja chat template, with the environment of transformers' ``apply_chat_template``.

The same environment as ``transformers.utils.chat_template_utils`` (transformers 4.56 to 5.x):
Jinja2's ``ImmutableSandboxedEnvironment`` with ``trim_blocks`` and ``lstrip_blocks``, the
``loopcontrols`` extension (``break``/``continue``) and a ``{% generation %}`` block tag (rendered
as its body); the globals ``raise_exception(message)`` (raises ``jinja2.TemplateError``) and
``strftime_now(format)`` (local time, ``datetime.now().strftime``); and a ``tojson`` filter that
is ``json.dumps`` with ``ensure_ascii=False`` (Hangul stays Hangul, ``<`` is not escaped) and its
``indent``, ``separators`` and ``sort_keys`` arguments. Templates get ``messages``, ``tools=None``,
``documents=None``, ``add_generation_prompt`` and the special tokens as variables.

It exists so that the gguf and openai backends render templates without importing transformers
(about 0.45 s on a 2-core CPU, docs/performance.md); ``tests/backends/test_chat_render.py``
checks that it gives byte-identical text to transformers on real templates.
"""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class _Generation(Extension):
    """``{% generation %}...{% endgeneration %}``: marks the assistant's text; renders as the body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    @staticmethod
    def _body(caller) -> str:
        return caller()


def _raise_exception(message: str):
    raise TemplateError(message)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | str | None = None, separators=None,
            sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    return env


@lru_cache(maxsize=16)
def _compiled(template: str):
    return _environment().from_string(template)


def render(template: str, messages: list[dict], add_generation_prompt: bool = True, **variables: Any) -> str:
    """The text of ``messages`` (a list of ``{"role", "content"}`` dicts) through chat ``template``.

    ``variables``: the template's other variables, such as ``bos_token`` and ``eos_token``.
    Raises jinja2.TemplateError when the template does not parse or fails (``raise_exception``).
    """
    return _compiled(template).render(
        messages=messages, tools=None, documents=None, add_generation_prompt=add_generation_prompt, **variables
    )
