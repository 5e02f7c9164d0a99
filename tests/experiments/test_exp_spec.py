"""The experiment file: the smallest valid file, and every bad input through the CLI."""
from __future__ import annotations

import json
import sqlite3

import pytest

from hanprompt.experiments.spec import load_spec

SMALLEST = """\
name: speed
params: {max_new_tokens: 48, temperature: 0}
variants:
  - id: v0
    prompt: "What is the capital of England?"
"""


def test_smallest_file_loads_with_defaults(spec_file):
    loaded = load_spec(spec_file(SMALLEST))
    spec = loaded.spec
    assert loaded.name == "speed"
    assert spec.repeat == 1 and spec.models == [] and spec.vars == {}
    assert spec.params.max_new_tokens == 48 and spec.variants[0].prompt.startswith("What")


def test_full_file_with_models_styles_vars_translate(spec_file):
    loaded = load_spec(spec_file("""\
        name: full
        models:
          - hf:/models/a
          - {spec: hf:/models/b, device: cpu, dtype: float32}
        params: {max_new_tokens: 8}
        repeat: 2
        vars: {city: [Seoul, Busan], tone: friendly}
        checks: [is-json, {max-words: 5}]
        translate: {to: ko, translator: "mt:/models/opus"}
        variants:
          - {id: a, style: role, persona: "A {{tone}} guide", task: "Visit {{city}}?", params: {temperature: 0.7, seed: 3}}
          - {id: b, messages: [{role: system, content: s}, {role: user, content: u}]}
    """))
    spec = loaded.spec
    assert [m.spec for m in spec.models] == ["hf:/models/a", "hf:/models/b"]
    assert spec.models[1].options == {"device": "cpu", "dtype": "float32"}
    assert [c.name for c in spec.checks] == ["is-json", "max-words"]
    assert spec.translate.to == "ko" and spec.translate.from_ == "en"
    assert spec.variants[0].params.seed == 3


BAD = [
    # (file text, what the one-line error must say)
    ("name: x\nvariants: [\n  - id: a\n", ["exp.yaml:3", "YAML syntax error"]),
    ("name: x\nvariants:\n  - id: a\n    promt: hi\n", ["exp.yaml:4", "variants[0].promt", "did you mean 'prompt'"]),
    ("name: x\nparms: {}\nvariants:\n  - {id: a, prompt: hi}\n", ["exp.yaml:2", "did you mean 'params'"]),
    ("name: x\nvariants:\n  - id: a\n    style: chain-of-thougt\n    task: t\n",
     ["exp.yaml:4", "unknown style 'chain-of-thougt'", "did you mean 'chain-of-thought'"]),
    ("name: x\nvariants:\n  - id: a\n    prompt: 'Hi {{nmae}}'\nvars: {name: [a]}\n",
     ["exp.yaml:4", "undefined template variable 'nmae'", "vars:"]),
    ("name: x\nvariants:\n  - {id: a, prompt: hi}\n  - {id: a, prompt: ho}\n",
     ["exp.yaml:4", "duplicate variant id 'a'"]),
    ("name: x\nvariants: []\n", ["exp.yaml:2", "no variants"]),
    ("name: x\nparams: {max_new_tokens: 8}\n", ["exp.yaml:1", "no variants"]),
    ("name: x\nrepeat: 0\nvariants:\n  - {id: a, prompt: hi}\n", ["exp.yaml:2", "repeat", "greater than or equal to 1", "(or set --repeat for the run)"]),
    ("name: x\nvariants:\n  - id: a\n    style: few-shot\n    task: t\n", ["exp.yaml:3", "needs examples"]),
    ("name: x\nvariants:\n  - id: a\n    prompt: hi\n    checks: [{contians: x}]\n",
     ["exp.yaml:5", "did you mean 'contains'"]),
    ("name: x\nvariants:\n  - id: a\n    prompt: hi\n    checks: [{regex: '('}]\n", ["exp.yaml:5", "invalid regex"]),
    ("- just\n- a list\n", ["exp.yaml:1", "mapping"]),
    ("name: x\nvars: {city: []}\nvariants:\n  - {id: a, prompt: hi}\n", ["exp.yaml:2", "empty list"]),
]


@pytest.mark.parametrize("text, expected", BAD, ids=[
    "yaml-syntax", "unknown-key", "unknown-top-key", "unknown-style", "undefined-var", "duplicate-ids",
    "empty-variants", "no-variants", "repeat-0", "style-missing-field", "unknown-check", "bad-regex", "not-mapping",
    "empty-vars",
])
def test_bad_file_is_one_line_exit_2_nothing_written(cli, spec_file, tiny_model, log_db, text, expected):
    path = spec_file(text)
    code, out, err = cli("run", path, "--model", tiny_model)
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("hanprompt: error: "), err
    for part in expected:
        assert part in err, (part, err)
    assert log_db("runs") == 0


@pytest.mark.parametrize("args, expected", [
    (["--repeat", "0"], "--repeat must be from 1 to 10,000, not 0 (repeat: in the file)"),
    (["--max-concurrency", "0"], "--max-concurrency must be from 1 to 1,024"),
    (["--resume", "999"], "no run with id 999"),
    (["--dtype", "float32"], "--dtype applies to a --model, and the file lists its own models; pass --model too, "
                             "or set dtype: under models: in the file"),
    (["--ctx-size", "64", "--gpu-layers", "0"], "--gpu-layers, --ctx-size apply to a --model, and the file"),
])
def test_bad_options(cli, spec_file, tiny_model, log_db, args, expected):
    path = spec_file(SMALLEST)
    model = ["--model", tiny_model]
    if args[0] in ("--dtype", "--ctx-size"):  # loading flags, no --model, and a file that lists its models
        path, model = spec_file(f"models: [{tiny_model}]\n{SMALLEST}"), []
    code, out, err = cli("run", path, *model, *args)
    assert code == 2 and expected in err and err.count("\n") == 1, err
    assert log_db("runs") == 0


def test_loading_flags_without_model_apply_to_the_default_model(cli, spec_file, tiny_model, log_db, monkeypatch):
    """A file without models: runs on the default model, as ask does; --dtype and the like apply to it."""
    monkeypatch.setenv("HANPROMPT_MODEL", str(tiny_model))
    path = spec_file(SMALLEST.replace("48", "4"))
    code, _, err = cli("run", path, "--dtype", "float32")
    assert code == 0, err
    code, _, err = cli("run", path, "--device", "no-such-device")  # reaches the model, which refuses it
    assert code == 2 and "--device" in err and "apply to a --model" not in err and err.count("\n") == 1, err
    with sqlite3.connect(log_db.path) as conn:
        spec = json.loads(conn.execute("SELECT spec FROM runs").fetchone()[0])
    assert spec["overrides"]["models"] == [{"spec": str(tiny_model), "dtype": "float32"}]


def test_missing_file(cli, tmp_path, log_db):
    code, _, err = cli("run", tmp_path / "nope.yaml")
    assert code == 2 and "does not exist" in err
    assert log_db("runs") == 0


def test_resume_with_a_different_matrix_is_refused(cli, spec_file, tiny_model, log_db):
    path = spec_file(SMALLEST.replace("48", "4"))
    assert cli("run", path, "--model", tiny_model)[0] == 0
    before = (log_db("runs"), log_db("generations"), log_db("checks"))
    path.write_text(SMALLEST.replace("48", "4").replace("England", "France"))
    code, out, err = cli("run", path, "--model", tiny_model, "--resume", "1")
    assert code == 2 and "does not expand to the matrix of run 1" in err and err.count("\n") == 1, err
    assert (log_db("runs"), log_db("generations"), log_db("checks")) == before
    assert log_db("runs", "status = 'done'") == 1


def test_resume_of_a_run_that_is_not_an_experiment(cli, spec_file, tiny_model, log_db):
    assert cli("ask", "hi", "--model", tiny_model, "--max-new-tokens", "2")[0] == 0
    code, _, err = cli("run", spec_file(SMALLEST), "--model", tiny_model, "--resume", "1")
    assert code == 2 and "not an experiment" in err
    assert log_db("runs") == 1


def test_a_loading_error_names_the_file_key_beside_the_flag(cli, spec_file, tiny_model, log_db):
    path = spec_file(f'models:\n  - {{spec: "{tiny_model}", dtype: float16, device: cpu}}\n'
                     'variants:\n  - {id: a, prompt: hi}\n')
    code, out, err = cli("run", path)
    assert code == 2 and err.count("\n") == 1, err
    assert "--dtype float16 on CPU is refused" in err and "(dtype:, device: under models: in the file)" in err
    assert log_db("runs") == 0
