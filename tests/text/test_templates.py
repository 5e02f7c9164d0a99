"""Prompt templates: only {{ expressions }} render; every other brace is text; sizes are bounded."""
from __future__ import annotations

import pytest

from hanprompt.errors import InputError
from hanprompt.prompts.template import MAX_RENDERED_BYTES, TemplateLimitError, render, template_variables

V = {"city": "서울", "n": "3", "items": ["a", "b"]}


@pytest.mark.parametrize("text, rendered", [
    ("CSS: {#main} .x { color: red } #} done", "CSS: {#main} .x { color: red } #} done"),
    ("Jinja: {% if x %}y{% endif %} and {# comment #}", "Jinja: {% if x %}y{% endif %} and {# comment #}"),
    ("Handlebars: {{#each items}}x{{/each}}", "Handlebars: {{#each items}}x{{/each}}"),
    ("stray {{ and {{}} and {{ }} and }} and {{", "stray {{ and {{}} and {{ }} and }} and {{"),
    ("JS object {{ a: 1 }}", "JS object {{ a: 1 }}"),
    ("visit {{ city }} now", "visit 서울 now"),
    ("{{city|upper}}-{{ items|join(', ') }}", "서울-a, b"),
    ("{{ n|int + 1 }} {{ 2 ** 10 }}", "4 1024"),
    ("escape: {{ '{{' }} city }}", "escape: {{ city }}"),
    ("{{{city}}}", "{서울}"),
    ("a   {{- city -}}   b", "a서울b"),
    ("{{ '}}' }}", "}}"),
])
def test_only_expressions_render(text, rendered):
    assert render(text, V) == rendered


def test_variables_are_those_of_expressions_only():
    assert template_variables("{#x#} {% if y %} {{#z}} {{ city }} {{ items|join }} {{ range(3)|list }}") == {
        "city", "items"}


@pytest.mark.parametrize("text, message", [
    ("{{ undeclared }}", "'undeclared' is undefined"),
    ("{{ city.upper() }}", "use a filter instead"),
    ("{{ '{:>9}'.format(city) }}", "unsafe"),
    ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ("{{ ''.__class__.__mro__ }}", "template error"),
])
def test_mistakes_are_one_line_errors(text, message):
    with pytest.raises(InputError, match=message) as e:
        render(text, V)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text", [
    "{{ 'x' * 300000000 }}",
    "{{ 300000000 * 'x' }}",
    "{{ ['x'] * 300000000 }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'x' | indent(1000000000) }}",
    "{{ '%999999999s' % 'x' }}",
    "{{ '%s' | format('x' * 999999 ~ 'y' * 999999) }}",
    "{{ ('x' * 999999) | replace('', 'yy') }}",
    "{{ ('x' * 999999) ~ ('y' * 999999) }}",
    "{{ ('x' * 600000) + ('y' * 600000) }}",
    "{{ ['x' * 999999, 'y'] | join('z' * 999999) }}",
    "{{ [1] | batch(1000000000, 'x') | list }}",
    "{{ [1] | slice(1000000000) | list }}",
    "{{ 'ab' | wordwrap(1, wrapstring='x' * 999999) }}",
    "{{ {'a': 'x' * 999999} | tojson(indent=9) }}",
    "{{ 10 ** 1000000000 }}",
    "{{ 9 ** 4000 * 9 ** 4000 }}",
])
def test_growing_operations_are_refused_before_they_run(text):
    with pytest.raises(TemplateLimitError) as e:
        render(text, V)
    assert "the limit" in str(e.value) or "over the limit" in str(e.value)


def test_the_rendered_text_is_at_most_1_mb():
    assert MAX_RENDERED_BYTES == 1_000_000
    assert len(render("{{ 'x' * 1000000 }}", V)) == 1_000_000
    with pytest.raises(TemplateLimitError, match="1,000,000 bytes"):
        render("{{ '한' * 400000 }}", V)  # 400,000 characters, 1.2 MB of UTF-8
    with pytest.raises(TemplateLimitError):
        render("a{{ 'x' * 1000000 }}", V)  # the literal text counts too
