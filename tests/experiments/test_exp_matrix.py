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
    matrix = expand(load_spec(spec_file(FILE)))
    # per model: plain 1 + city 3 + both 3 (tone has one value) = 7 prompts, x2 repeats, x2 models
    assert len(matrix) == 2 * 7 * 2
    cells = list(matrix)
    assert len(cells) == len(matrix)
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
    assert len({c.key for c in a}) == len(a) == len(list(a))
    assert matrix_hash(a) == matrix_hash(b)


def test_overrides_and_changes_change_the_matrix_hash(spec_file):
    loaded = load_spec(spec_file(FILE))
    base = matrix_hash(expand(loaded))
    assert len(expand(loaded, model_entries(["hf:/m/c"]), repeat=1)) == 7
    assert matrix_hash(expand(loaded, repeat=3)) != base
    assert matrix_hash(expand(load_spec(spec_file(FILE.replace("Hello", "Hi"), "b.yaml")))) != base


def _eager_hash(cells) -> str:
    """The matrix hash as it was first defined: the digest of one list of every cell."""
    import hashlib
    import json

    value = [[c.key, c.messages, c.params.model_dump()] for c in cells]
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


BIG = """\
name: big
models: [hf:/m/a, hf:/m/b]
params: {max_new_tokens: 8}
repeat: 3
vars: {a: [%s], b: [%s], c: [서울, "부산"]}
variants:
  - {id: ab, prompt: "{{a}} and {{b}}"}
  - {id: abc, prompt: "{{a}}, {{b}} or {{c}}?"}
  - {id: none, prompt: "안녕"}
"""


def test_the_matrix_is_expanded_lazily_and_hashed_as_one_list(spec_file):
    import itertools
    import types

    loaded = load_spec(spec_file(BIG % (", ".join(f"a{i}" for i in range(40)), ", ".join(f"b{i}" for i in range(30)))))
    matrix = expand(loaded)
    # counted without building a cell: 2 models x 3 repeats x (40*30 + 40*30*2 + 1)
    assert len(matrix) == 2 * 3 * (1200 + 2400 + 1) == 21606
    it = iter(matrix)
    assert isinstance(it, types.GeneratorType)
    first = list(itertools.islice(it, 4))
    assert [c.repeat_index for c in first] == [0, 1, 2, 0]  # a cell's repeats side by side
    assert first[0].vars == {"a": "a0", "b": "b0"} and first[3].vars == {"a": "a0", "b": "b1"}
    assert sum(1 for _ in matrix) == len(matrix)
    assert matrix.count_of(matrix.models[1]) == len(matrix) // 2
    assert [c.model.spec for c in itertools.islice(matrix.of(matrix.models[1]), 2)] == ["hf:/m/b"] * 2
    # streamed, the hash is byte for byte the digest of the whole list: stored runs still resume
    assert matrix_hash(matrix) == _eager_hash(list(matrix))
    small = expand(load_spec(spec_file(FILE, "small.yaml")))
    assert matrix_hash(small) == _eager_hash(list(small))
    assert matrix_hash(expand(loaded, [], repeat=1)) == _eager_hash(list(expand(loaded, [], repeat=1)))


def test_a_repeated_cell_is_found_on_the_file_not_by_keeping_every_key(spec_file):
    import pytest

    from hanprompt.errors import HanpromptError

    loaded = load_spec(spec_file(BIG % ("x, y", "p, q")))
    with pytest.raises(HanpromptError, match=r"holds the cell \(model hf:/m/c, variant 'ab', vars \{'a': 'x', 'b': 'p'\}\) "
                                             "twice"):
        expand(loaded, model_entries(["hf:/m/c", "hf:/m/d", "hf:/m/c"]))
    # the file's own repeats never reach the matrix: its loader refuses them with their line
    with pytest.raises(HanpromptError, match=r"big\.yaml:5: vars\.b\[2\]: repeated value 'p' \(first at vars\.b\[0\]\)"):
        load_spec(spec_file(BIG % ("x, y", "p, q, p"), "big.yaml"))
    loaded = load_spec(spec_file(BIG % ("x, y", "p, q"), "big.yaml"))
    assert len(expand(loaded)) == 2 * 3 * (4 + 8 + 1)
