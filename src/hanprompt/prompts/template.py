"""``{{ expression }}`` templates in prompt text, rendered in a bounded sandbox; all else is literal.

Prompts are text first: a prompt about CSS (``{#main}``), Jinja itself (``{% if %}``) or a
Handlebars template (``{{#each}}``) must reach the model as written. So only ``{{ ... }}`` spans
that parse as one Jinja2 expression are templates; ``{#``, ``#}``, ``{%``, ``%}`` and any ``{{``
that does not hold an expression stay literal text. An expression is rendered by Jinja2's
sandbox (filters allowed, no methods, no statements), with its variables from the experiment's
``vars:``; a name that is not declared is an error, never an empty string. To send ``{{``
literally before something that looks like an expression, write ``{{ '{{' }}``.

Sizes are bounded: a rendered value may hold at most :data:`MAX_RENDERED_BYTES` bytes of UTF-8,
and operations that multiply sizes (``*``, ``**``, ``%``, ``+``, ``~`` and the filters that pad,
repeat or join) are refused before they run when their result would pass that limit, so
``{{ 'x' * 300000000 }}`` fails at once instead of allocating.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from hanprompt.errors import InputError

MAX_RENDERED_BYTES = 1_000_000
_MAX_CLOSERS = 64  # '}}' candidates tried for one '{{' before it is taken as literal text


class TemplateLimitError(InputError):
    """A template value larger than MAX_RENDERED_BYTES."""


def _too_big(size: float) -> TemplateLimitError:
    return TemplateLimitError(
        f"a template value would hold about {int(min(size, 1e18)):,} characters, over the limit of "
        f"{MAX_RENDERED_BYTES:,} bytes (1 MB); make the {{{{ }}}} expression produce less text"
    )


def _size(value: Any, depth: int = 0) -> int:
    """About how many characters ``value`` prints as (a cheap upper estimate for limits)."""
    if isinstance(value, str | bytes | range):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2
    if isinstance(value, float):
        return 24
    if isinstance(value, dict):
        value = list(value.items())
    if isinstance(value, list | tuple | set | frozenset):
        if depth > 20:
            return len(value) * 8
        return 2 + sum(_size(v, depth + 1) + 2 for v in value)
    return 64


def _check(size: float) -> None:
    if size > MAX_RENDERED_BYTES:
        raise _too_big(size)


MAX_DIGITS = 4300  # Python prints no longer integer (sys.int_info.default_max_str_digits)


def _check_digits(digits: float) -> None:
    if digits > MAX_DIGITS:
        raise TemplateLimitError(
            f"a template number would have about {int(min(digits, 1e18)):,} digits, over the limit of "
            f"{MAX_DIGITS:,}; make the {{{{ }}}} expression smaller")


_WIDTH = re.compile(r"%[#0\- +]*(\d+|\*)?(?:\.(\d+|\*))?")


def _check_format(fmt: Any, args: Any) -> None:
    """``fmt % args``: refuse widths or precisions past the limit (``'%999999999s'``)."""
    if not isinstance(fmt, str):
        return
    values = args if isinstance(args, tuple) else (args,)
    total = len(fmt) + sum(_size(v) for v in values)
    for m in _WIDTH.finditer(fmt):
        for group in m.groups():
            if group and group.isdigit():
                total += int(group)
    if any(g == "*" for m in _WIDTH.finditer(fmt) for g in m.groups()):
        total += sum(abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool))
    _check(total)


def _binop_size(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if isinstance(n, int) and not isinstance(n, bool) and isinstance(seq, str | list | tuple):
                _check(_size(seq) * max(n, 0))
        if isinstance(left, int) and isinstance(right, int):
            _check_digits((left.bit_length() + right.bit_length()) * 0.302)
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _check_digits(right * math.log10(abs(left)))
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _check(_size(left) + _size(right))
    elif operator == "%":
        _check_format(left, right)


def _bounded_filters(filters: dict) -> dict:
    """Jinja2's filters, with those that can multiply a value's size checked before they run."""
    out = dict(filters)
    center, indent, fmt, replace, join = (filters[k] for k in ("center", "indent", "format", "replace", "join"))
    batch, slice_, wordwrap, tojson = (filters[k] for k in ("batch", "slice", "wordwrap", "tojson"))

    def b_center(value, width=80):
        _check(max(_size(value), width if isinstance(width, int) else 0))
        return center(value, width)

    def b_indent(s, width=4, first=False, blank=False):
        pad = width if isinstance(width, int) else len(str(width))
        _check(_size(s) + (str(s).count("\n") + 1) * max(pad, 0))
        return indent(s, width, first, blank)

    def b_format(value, *args, **kwargs):
        _check_format(str(value), args)
        _check(_size(value) + sum(_size(v) for v in kwargs.values()))
        return fmt(value, *args, **kwargs)

    def b_replace(eval_ctx, s, old, new, count=None):
        s, old, new = str(s), str(old), str(new)
        n = s.count(old) if old else len(s) + 1
        if count is not None:
            n = min(n, max(count, 0))
        _check(len(s) + n * max(len(new) - len(old), 0))
        return replace(eval_ctx, s, old, new, count)

    def b_join(eval_ctx, value, d="", attribute=None):
        items = list(value)
        if attribute is None:
            _check(sum(_size(v) for v in items) + len(str(d)) * max(len(items) - 1, 0))
        return join(eval_ctx, items, d, attribute)

    def b_batch(value, linecount, fill_with=None):
        _check(linecount if isinstance(linecount, int) else 0)
        return batch(value, linecount, fill_with)

    def b_slice(value, slices, fill_with=None):
        _check(slices if isinstance(slices, int) else 0)
        return slice_(value, slices, fill_with)

    def b_wordwrap(environment, s, width=79, break_long_words=True, wrapstring=None, break_on_hyphens=True):
        extra = len(wrapstring) if isinstance(wrapstring, str) else 1
        _check(len(str(s)) + (len(str(s)) // max(int(width), 1) + 1) * extra)
        return wordwrap(environment, s, width, break_long_words, wrapstring, break_on_hyphens)

    def b_tojson(eval_ctx, value, indent=None):
        _check(_size(value) * (1 + (indent if isinstance(indent, int) and indent > 0 else 0)))
        return tojson(eval_ctx, value, indent)

    # Jinja2 passes the context to filters marked as needing it; keep the marks.
    for wrapper, original in ((b_replace, replace), (b_join, join), (b_wordwrap, wordwrap), (b_tojson, tojson)):
        wrapper.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    out.update(center=b_center, indent=b_indent, format=b_format, replace=b_replace, join=b_join,
               batch=b_batch, slice=b_slice, wordwrap=b_wordwrap, tojson=b_tojson)
    return out


class _Codegen(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame) -> None:  # ``a ~ b``: checked like ``+``
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox with no method calls and with size checks on growing operations."""

    code_generator_class = _Codegen
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        # StrictUndefined: a misspelt variable is an error, never a silent empty string.
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        self.globals.pop("lipsum", None)  # lipsum(n) loops n times
        self.filters = _bounded_filters(self.filters)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # Methods ('x'.ljust(10**9), s.replace(...)) could grow a value unchecked; filters are checked.
        return not callable(value) and super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        return None  # str.format / format_map are methods too: refused like the others (use | format)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _binop_size(operator, left, right)
        return super().call_binop(context, operator, left, right)

    @staticmethod
    def bounded_concat(values: tuple) -> str:
        texts = [str(v) for v in values]
        _check(sum(map(len, texts)))
        return "".join(texts)


@lru_cache(maxsize=1)
def _env() -> _Sandbox:
    return _Sandbox()


@dataclass(frozen=True)
class _Expr:
    """One ``{{ ... }}`` span that is an expression."""

    source: str  # the span as written, braces included
    names: frozenset[str]
    error: str | None  # why it cannot be rendered (an unknown filter), found when parsed
    strip_before: bool  # ``{{-``: whitespace before the span is removed, as Jinja2 does
    strip_after: bool  # ``-}}``


def _expression(inner: str) -> frozenset[str] | str | None:
    """The variable names of ``{{inner}}`` when it is one expression; None when it is not one.

    An expression that parses but cannot compile (an unknown filter) gives the error's text.
    """
    if not inner.strip() or inner.strip() in ("-", "+", "--"):
        return None
    env = _env()
    try:
        ast = env.parse("{{" + inner + "}}")
    except TemplateSyntaxError:
        return None
    body = ast.body
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    exprs = [n for n in body[0].nodes if not isinstance(n, nodes.TemplateData)]
    if len(exprs) != 1 or len(body[0].nodes) != 1:
        return None
    try:
        return frozenset(meta.find_undeclared_variables(ast)) - frozenset(env.globals)
    except TemplateSyntaxError as e:  # TemplateAssertionError: "No filter named 'x'."
        return e.message or str(e)


@lru_cache(maxsize=4096)
def _parts(text: str) -> tuple[str | _Expr, ...]:
    """``text`` cut into literal strings and expressions."""
    out: list[str | _Expr] = []
    literal_from = pos = 0
    while (start := text.find("{{", pos)) >= 0:
        found = None
        close = start + 2
        for _ in range(_MAX_CLOSERS):
            close = text.find("}}", close)
            if close < 0:
                break
            names = _expression(text[start + 2:close])
            if names is not None:
                found = (close + 2, names)
                break
            close += 1
        if found is None:
            pos = start + 1  # literal; '{{{x}}}' still finds the expression one brace on
            continue
        end, names = found
        source = text[start:end]
        error = names if isinstance(names, str) else None
        out.append(text[literal_from:start])
        out.append(_Expr(source, frozenset() if error else names, error, source.startswith("{{-"),
                         source.endswith("-}}")))
        literal_from = pos = end
    out.append(text[literal_from:])
    return tuple(out)


@lru_cache(maxsize=4096)
def _compiled(source: str):
    return _env().from_string(source)


def _check_expr(part: _Expr) -> None:
    if part.error:  # an unknown filter or test: clearly meant as an expression
        raise InputError(f"template error in {part.source}: {part.error} Fix the expression "
                         "(filters: upper, lower, title, trim, replace, join, default, ...)")


def template_variables(text: str) -> set[str]:
    """The variable names the ``{{ }}`` expressions of ``text`` use.

    Text that is not an expression is literal and uses none. Raises InputError when an
    expression names an unknown filter or test.
    """
    names: set[str] = set()
    for part in _parts(text):
        if isinstance(part, _Expr):
            _check_expr(part)
            names |= part.names
    return names


def has_template(text: str) -> bool:
    """Whether ``text`` holds any ``{{ }}`` expression (otherwise it renders as itself)."""
    return "{{" in text and any(isinstance(p, _Expr) for p in _parts(text))


def render(text: str, variables: dict[str, Any]) -> str:
    """``text`` with each ``{{ expression }}`` replaced by its value; everything else kept as written.

    Raises InputError for an undefined variable or a failing expression, and TemplateLimitError
    (an InputError) when a value would pass MAX_RENDERED_BYTES.
    """
    if "{{" not in text:  # most prompts have no template: skip the parser
        return text
    pieces: list[str] = []
    size = 0
    strip_next = False
    for part in _parts(text):
        if isinstance(part, str):
            pieces.append(part.lstrip() if strip_next else part)
        else:
            if part.strip_before and pieces:
                pieces[-1] = pieces[-1].rstrip()
            pieces.append(_render_one(part, variables))
            strip_next = part.strip_after
            continue
        strip_next = False
    for piece in pieces:
        size += len(piece.encode("utf-8"))
    if size > MAX_RENDERED_BYTES:
        raise _too_big(size)
    return "".join(pieces)


def _render_one(part: _Expr, variables: dict[str, Any]) -> str:
    _check_expr(part)
    try:
        return _compiled(part.source).render(**variables)
    except UndefinedError as e:
        raise InputError(f"template error in {part.source}: {e}; define the variable under vars:, "
                         "or write {{ '{{' }} to send {{ as text") from None
    except SecurityError as e:
        raise InputError(f"template error in {part.source}: {e}; use a filter instead, e.g. {{{{ x | upper }}}}") from None
    except TemplateError as e:
        raise InputError(f"template error in {part.source}: {e}; fix the expression") from None
    except (ArithmeticError, ValueError, TypeError, MemoryError, RecursionError) as e:
        raise InputError(f"template error in {part.source}: {type(e).__name__}: {e}; fix the expression") from None
