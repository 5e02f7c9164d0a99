"""What users write in experiment files reaches the model as written: YAML values, templates, limits."""
from __future__ import annotations

import json
import time
import unicodedata

import pytest

from hanprompt.experiments.checks import run_checks
from hanprompt.experiments.matrix import expand
from hanprompt.experiments.spec import Check, load_spec

TYPED = """\
name: typed
params: {max_new_tokens: 4, temperature: 0, seed: 010}
vars: {country: [kr, jp, no], answer: [yes, 아니요], version: [3.10], code: [010], big: [1e3], on: [on, off]}
variants:
  - id: 010
    prompt: "{{country}} {{answer}} {{version}} {{code}} {{big}} {{on}}"
  - id: no
    prompt: hi
    checks: [{contains: yes}, {min-words: 3}, {is-json: no}]
"""


def user_texts(cells) -> list[str]:
    return [c.messages[-1]["content"] for c in cells]


def test_yaml_values_reach_the_model_as_typed(spec_file):
    loaded = load_spec(spec_file(TYPED))
    spec = loaded.spec
    assert spec.vars == {"country": ["kr", "jp", "no"], "answer": ["yes", "아니요"], "version": ["3.10"],
                         "code": ["010"], "big": ["1e3"], "on": ["on", "off"]}
    assert [v.id for v in spec.variants] == ["010", "no"]
    texts = user_texts(expand(loaded))
    assert "no yes 3.10 010 1e3 on" in texts and "kr 아니요 3.10 010 1e3 off" in texts
    assert len(texts) == 3 * 2 * 2 + 1


def test_numbers_and_booleans_stay_numbers_where_the_schema_wants_them(spec_file):
    spec = load_spec(spec_file(TYPED + "repeat: 2\nmodels: [{spec: hf:x, max_memory: {0: 3GiB, cpu: 9GiB}, "
                                       "trust_remote_code: yes}]\n")).spec
    assert spec.params.max_new_tokens == 4 and spec.params.temperature == 0.0
    assert spec.params.seed == 10  # decimal, as typed: not octal 8
    assert spec.repeat == 2
    assert spec.models[0].max_memory == {0: "3GiB", "cpu": "9GiB"} and spec.models[0].trust_remote_code is True
    # a GPU index beside "cpu" (keys that do not sort together) still makes a cell key and a model's options key
    from hanprompt.backends import registry

    loaded = load_spec(spec_file(TYPED + "models: [{spec: hf:x, device: auto, max_memory: {0: 3GiB, cpu: 9GiB}}]\n"))
    keys = [c.key for c in expand(loaded)]
    assert len(set(keys)) == len(keys) == 3 * 2 * 2 + 1
    assert registry._key("hf:x", loaded.spec.models[0].options) == registry._key("hf:x", {
        "device": "auto", "max_memory": {"cpu": "9GiB", 0: "3GiB"}})
    contains, words, is_json = spec.variants[1].checks
    assert contains.contains == "yes" and words.min_words == 3 and is_json.is_json is False


TEXT_BAD = [
    ("variants:\n  - id: a\n    prompt:\n", ["exp.yaml:3", "variants[0].prompt", "empty value"]),
    ("variants:\n  - id: a\n    prompt: '  '\n", ["exp.yaml:3", "variants[0].prompt", "empty value"]),
    ("variants:\n  - id: a\n    prompt: {{city}}\nvars: {city: [a]}\n",
     ["exp.yaml:3", "unquoted {{", "in quotes", 'prompt: "{{city}} ..."']),
    ("variants:\n  - id: a\n    prompt: {text: hi}\n",
     ["exp.yaml:3", "variants[0].prompt", "a mapping where text is expected", "quotes"]),
    ("variants:\n  - id: a\n    prompt: hi\n    system: [be, kind]\n",
     ["exp.yaml:4", "variants[0].system", "a list where text is expected"]),
    ("vars:\n  c: [kr, ~]\nvariants:\n  - {id: a, prompt: '{{c}}'}\n",
     ["exp.yaml:2", "vars.c[1]", "empty value where text is expected"]),
    ("vars:\n  c: {a: b}\nvariants:\n  - {id: a, prompt: '{{c}}'}\n", ["exp.yaml:2", "vars.c", "a mapping"]),
    ("variants:\n  - id:\n    prompt: hi\n", ["exp.yaml:2", "variants[0].id", "empty value"]),
    ("checks: [{contains: }]\nvariants:\n  - {id: a, prompt: hi}\n", ["exp.yaml:1", "checks[0].contains", "empty"]),
    ("variants:\n  - id: a\n    messages:\n      - role: user\n        content:\n",
     ["exp.yaml:5", "variants[0].messages[0].content", "empty value"]),
    ("variants:\n  - id: a\n    style: multi-task\n    tasks: [a, ~]\n", ["exp.yaml:4", "variants[0].tasks[1]", "empty"]),
    ("params: {max_new_tokens: lots}\nvariants:\n  - {id: a, prompt: hi}\n",
     ["exp.yaml:1", "params.max_new_tokens", "integer", "'lots'"]),
    ("variants:\n  - id: a\n    prompt: 'Tell me about {{ undeclared }}'\n",
     ["exp.yaml:3", "undefined template variable 'undeclared'", "vars:", "{{ '{{' }}"]),
    ("vars: {c: [a]}\nvariants:\n  - id: a\n    prompt: '{{ c | nosuchfilter }}'\n",
     ["exp.yaml:4", "No filter named 'nosuchfilter'"]),
]


@pytest.mark.parametrize("text, expected", TEXT_BAD, ids=[
    "null-prompt", "blank-prompt", "unquoted-template", "mapping-prompt", "list-system", "null-var", "mapping-var", "null-id",
    "null-check", "null-content", "null-task", "text-for-number", "undeclared", "unknown-filter",
])
def test_bad_text_values_are_one_line_with_file_line_key(cli, spec_file, tiny_model, log_db, text, expected):
    code, out, err = cli("run", spec_file(text), "--model", tiny_model)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    for part in expected:
        assert part in err, (part, err)
    assert log_db("runs") == 0


LITERAL = """\
name: literal
params: {max_new_tokens: 2, temperature: 0}
vars: {city: [서울]}
variants:
  - id: css
    prompt: "Style {#main} .card { color: red } and close #} then {% raw %} and {{ city }}"
  - id: braces
    prompt: "Handlebars: {{#each items}} x {{/each}}, a stray {{ and {{}} and {{ '{{' }} kept"
"""


def test_template_syntax_in_prompt_text_stays_literal(spec_file):
    texts = user_texts(expand(load_spec(spec_file(LITERAL))))
    assert texts == [
        "Style {#main} .card { color: red } and close #} then {% raw %} and 서울",
        "Handlebars: {{#each items}} x {{/each}}, a stray {{ and {{}} and {{ kept",
    ]


def test_ask_and_run_send_the_same_text(cli, spec_file, tiny_model, log_db):
    import sqlite3

    prompt = "The CSS selector {#main} ... #} and {% if %}: explain them."
    path = spec_file(f"params: {{max_new_tokens: 2, temperature: 0}}\nvariants:\n  - id: a\n    prompt: '{prompt}'\n")
    assert cli("run", path, "--model", tiny_model, "--json")[0] == 0
    assert cli("ask", prompt, "--model", tiny_model, "--max-new-tokens", "2", "--json")[0] == 0
    with sqlite3.connect(log_db.path) as conn:
        rows = conn.execute("SELECT messages, prompt FROM generations ORDER BY id").fetchall()
    (run_messages, run_prompt), (ask_messages, ask_prompt) = rows
    assert json.loads(run_messages) == json.loads(ask_messages) == [{"role": "user", "content": prompt}]
    assert run_prompt == ask_prompt


def test_nfd_and_nfc_prompts_are_the_same_prompt(spec_file):
    nfd = unicodedata.normalize("NFD", "서울은 어때요?")
    loaded = load_spec(spec_file(f"vars: {{c: ['{nfd}']}}\nvariants:\n  - {{id: a, prompt: '{{{{c}}}} {nfd}'}}\n"))
    (text,) = user_texts(expand(loaded))
    assert text == "서울은 어때요? 서울은 어때요?"


def test_an_nfd_check_passes_against_an_nfc_answer():
    nfd = unicodedata.normalize("NFD", "서울")
    record = {"response": "수도는 서울입니다.", "output_tokens": 3, "total_s": 0.1}
    checks = [Check(contains=nfd), Check(icontains=nfd), Check(regex=nfd + "입니다"), Check(**{"not-contains": nfd})]
    assert [r.passed for r in run_checks(checks, record)] == [True, True, True, False]
    nfd_answer = dict(record, response=unicodedata.normalize("NFD", record["response"]))
    assert run_checks([Check(contains="서울")], nfd_answer)[0].passed


@pytest.mark.parametrize("data", [
    "\ufeff" + LITERAL,
], ids=["bom"])
def test_experiment_files_with_a_bom_load(spec_file, tmp_path, data):
    path = tmp_path / "bom.yaml"
    path.write_bytes(data.encode("utf-8"))
    assert load_spec(path).spec.name == "literal"
    path.write_bytes(LITERAL.encode("utf-16"))
    assert load_spec(path).spec.name == "literal"


def test_run_encoding_option(cli, tmp_path, tiny_model, log_db):
    path = tmp_path / "cp949.yaml"
    path.write_bytes("name: 한국\nparams: {max_new_tokens: 2, temperature: 0}\nvariants:\n  - {id: a, prompt: 안녕}\n"
                     .encode("cp949"))
    code, _, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and "not valid utf-8 text (line 1)" in err and "--encoding" in err and err.count("\n") == 1
    assert log_db("runs") == 0
    code, out, err = cli("run", path, "--model", tiny_model, "--encoding", "cp949", "--json")
    assert code == 0, err
    assert log_db("runs", "name = '한국'") == 1


# Hostile sizes: each a one-line error with the limit and the fix, exit 2, nothing written.
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
) + "variants:\n  - {id: a, prompt: hi}\n"


def nested(depth: int) -> str:
    return f"vars: {{deep: {'[' * depth}x{']' * depth}}}\nvariants:\n  - {{id: a, prompt: hi}}\n"


HOSTILE = [
    (LAUGHS, ["exp.yaml:", "more than 100,000 nodes", "the limit is 100,000", "aliases"]),
    ("a: &a [*a]\nvariants:\n  - {id: a, prompt: hi}\n", ["exp.yaml:1", "more than 100 levels", "alias"]),
    (nested(20_000), ["exp.yaml:1", "more than 100 levels", "the limit is 100", "flatten"]),
    (nested(99), ["exp.yaml:1", "more than 100 levels"]),  # the file's mapping and vars: make 101
    ("vars: {c: [a]}\nvariants:\n  - id: a\n    prompt: \"{{ 'x' * 300000000 }}\"\n",
     ["exp.yaml:3", "1,000,000 bytes (1 MB)", "produce less text"]),
    ("vars: {c: ['abc']}\nvariants:\n  - id: a\n    prompt: '{{c}}'\n    checks: [{contains: \"{{ c * 400000 }}\"}]\n",
     ["exp.yaml:3", "1,000,000 bytes (1 MB)"]),
]


@pytest.mark.parametrize("text, expected", HOSTILE, ids=[
    "billion-laughs", "self-alias", "nested-20000", "nested-101-levels", "template-300MB", "check-template-1.2MB",
])
def test_hostile_sizes_are_refused_quickly(cli, spec_file, tiny_model, log_db, text, expected):
    path = spec_file(text)
    code, out, err = cli("run", path, "--model", tiny_model)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    for part in expected:
        assert part in err, (part, err)
    assert log_db("runs") == 0


def test_the_limits_themselves_are_allowed(spec_file):
    # 100 levels, 100,000 nodes and 1 MB of rendered text are fine.
    from hanprompt.experiments import yamlfile

    data, _ = yamlfile.load("[" * 100 + "x" + "]" * 100, "deep.yaml")
    assert data is not None
    with pytest.raises(yamlfile.YamlLimitError, match="deep.yaml:1: .*more than 100 levels"):
        yamlfile.load("[" * 101 + "x" + "]" * 101, "deep.yaml")
    wide = "a: &a [" + ", ".join(["x"] * 998) + "]\nb: [" + ", ".join(["*a"] * 99) + "]\n"  # 99,904 nodes
    assert len(yamlfile.load(wide, "wide.yaml")[0]["b"]) == 99
    with pytest.raises(yamlfile.YamlLimitError, match="100,000 nodes"):
        yamlfile.load(wide.replace("99", "101").replace(", ".join(["*a"] * 99), ", ".join(["*a"] * 101)), "w.yaml")
    loaded = load_spec(spec_file("variants:\n  - id: a\n    prompt: \"{{ 'x' * 999999 }}\"\n"))
    (text,) = user_texts(expand(loaded))
    assert len(text) == 999_999


def test_an_alias_bomb_fails_in_well_under_a_second_of_work(spec_file):
    from hanprompt.experiments.spec import SpecError

    start = time.process_time()
    with pytest.raises(SpecError, match="100,000 nodes"):
        load_spec(spec_file(LAUGHS))
    assert time.process_time() - start < 5  # the unbounded version never finishes
