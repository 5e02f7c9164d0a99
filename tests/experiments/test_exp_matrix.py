"""Expanding a file into cells, their stable keys and the matrix hash."""
from __future__ import annotations

from hanprompt.experiments.matrix import expand, matrix_hash
from hanprompt.experiments.runner import model_entries
from hanprompt.experiments.spec import load_spec

FILE = """\
name: m
models: [hf:/m/a, hf:/m/b]
params: {max_new_tokens: 8, temperature: 0.8, seed: 10}
repeat: 2
vars: {city: [Seoul, Busan, Jeju], tone: warm}
variants:
  - {id: plain, prompt: "Hello"}
  - {id: city, prompt: "Visit {{city}}", params: {max_new_tokens: 4}}
  - {id: both, style: role, persona: "A {{tone}} guide", task: "{{city}}?"}
"""


def test_cells_are_models_x_variants_x_used_vars_x_repeats(spec_file):
    cells = expand(load_spec(spec_file(FILE)))
    # per model: plain 1 + city 3 + both 3 (tone has one value) = 7 prompts, x2 repeats, x2 models
    assert len(cells) == 2 * 7 * 2
    assert [c.model.spec for c in cells[:14]] == ["hf:/m/a"] * 14
    city = [c for c in cells if c.variant.id == "city" and c.model.spec == "hf:/m/a"]
    assert [c.vars["city"] for c in city] == ["Seoul", "Seoul", "Busan", "Busan", "Jeju", "Jeju"]
    assert city[2].messages == [{"role": "user", "content": "Visit Busan"}]
    assert city[0].params.max_new_tokens == 4 and city[0].params.temperature == 0.8
    both = next(c for c in cells if c.variant.id == "both")
    assert both.messages[0] == {"role": "system", "content": "A warm guide"}


def test_repeats_of_a_seeded_sampled_prompt_get_their_own_seed(spec_file):
    cells = [c for c in expand(load_spec(spec_file(FILE))) if c.variant.id == "plain" and c.model.spec == "hf:/m/a"]
    assert [c.params.seed for c in cells] == [10, 11]


def test_keys_are_stable_and_unique(spec_file):
    a = expand(load_spec(spec_file(FILE)))
    b = expand(load_spec(spec_file(FILE, "copy.yaml")))
    assert [c.key for c in a] == [c.key for c in b]
    assert len({c.key for c in a}) == len(a)
    assert matrix_hash(a) == matrix_hash(b)


def test_overrides_and_changes_change_the_matrix_hash(spec_file):
    loaded = load_spec(spec_file(FILE))
    base = matrix_hash(expand(loaded))
    assert len(expand(loaded, model_entries(["hf:/m/c"]), repeat=1)) == 7
    assert matrix_hash(expand(loaded, repeat=3)) != base
    assert matrix_hash(expand(load_spec(spec_file(FILE.replace("Hello", "Hi"), "b.yaml")))) != base
