"""Running experiments on a tiny real model: batching, storage, cache, checks, comparison."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hanprompt.backends import registry
from hanprompt.backends.base import GenParams

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

FILE = """\
name: small
params: {max_new_tokens: 12, temperature: 0}
vars: {city: [Seoul, Busan]}
checks: [{max-tokens: 12}]
variants:
  - {id: short, prompt: "Hi"}
  - {id: long, prompt: "Please write a long and careful answer about the history of {{city}} and its food."}
  - {id: cot, style: chain-of-thought, task: "What is 12 times 7?", checks: [{regex: "^Answer:"}]}
  - {id: ko, style: brief, task: "한국의 여행지를 추천해 주세요.", checks: [{language: ko}]}
"""


def run_json(cli, *args):
    code, out, err = cli("run", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_batched_rows_equal_unbatched_greedy_rows(tiny_model):
    backend = registry.load(str(tiny_model))
    params = GenParams(max_new_tokens=20)
    prompts = ["Hi", "A much longer prompt that needs left padding in the batch, surely.", "서울", "What?"]
    requests = [([{"role": "user", "content": p}], params) for p in prompts]
    batched = backend.generate_batch(requests)
    for (messages, _), got in zip(requests, batched):
        alone = backend.generate(messages, params)
        assert got.text == alone.text
        assert got.output_tokens == alone.output_tokens
        assert got.input_tokens == alone.input_tokens
        assert got.finish_reason == alone.finish_reason


def test_runner_batch_sizes_give_the_same_results(cli, spec_file, tiny_model):
    path = spec_file(FILE)
    one = run_json(cli, path, "--model", tiny_model, "--max-concurrency", "1", "--no-cache")
    many = run_json(cli, path, "--model", tiny_model, "--max-concurrency", "8", "--no-cache")
    key = lambda r: (r["variant"], json.dumps(r["vars"]))  # noqa: E731
    assert {key(r): (r["response"], r["output_tokens"]) for r in one} == {
        key(r): (r["response"], r["output_tokens"]) for r in many}


def test_run_stores_one_run_with_every_cell_and_its_checks(cli, spec_file, tiny_model, log_db):
    results = run_json(cli, spec_file(FILE), "--model", tiny_model)
    assert len(results) == 5  # long is asked for two cities
    for r in results:
        assert {"variant", "model", "response", "output_tokens", "tokens_per_s", "cached", "checks"} <= set(r)
        assert r["cached"] is False and r["model"] == f"hf:{tiny_model}"
        assert 0 < r["output_tokens"] <= 12
    assert sorted(r["vars"].get("city", "") for r in results if r["variant"] == "long") == ["Busan", "Seoul"]
    cot = next(r for r in results if r["variant"] == "cot")
    assert cot["style"] == "chain-of-thought"
    assert [c["name"] for c in cot["checks"]] == ["max-tokens", "regex"]
    assert cot["checks"][0]["passed"] is True and cot["checks"][1]["passed"] is False
    assert log_db("runs", "kind = 'experiment' AND status = 'done' AND spec_hash IS NOT NULL") == 1
    assert log_db("generations", "cell_key IS NOT NULL AND cache_key IS NOT NULL") == 5
    assert log_db("checks") == 5 + 2


def test_second_run_is_served_from_the_cache(cli, spec_file, tiny_model, log_db):
    path = spec_file(FILE)
    first = run_json(cli, path, "--model", tiny_model)
    second = run_json(cli, path, "--model", tiny_model)
    assert all(r["cached"] is True for r in second)
    assert [r["response"] for r in second] == [r["response"] for r in first]
    assert [r["output_tokens"] for r in second] == [r["output_tokens"] for r in first]
    assert log_db("generations", "run_id = 2") == 5  # the second run is complete on its own
    fresh = run_json(cli, path, "--model", tiny_model, "--no-cache")
    assert all(r["cached"] is False for r in fresh)


def test_sampling_without_a_seed_is_never_cached(cli, spec_file, tiny_model):
    path = spec_file(FILE.replace("temperature: 0}", "temperature: 0.9}"))
    run_json(cli, path, "--model", tiny_model)
    assert all(r["cached"] is False for r in run_json(cli, path, "--model", tiny_model))
    seeded = spec_file(FILE.replace("temperature: 0}", "temperature: 0.9, seed: 5}"), "seeded.yaml")
    first = run_json(cli, seeded, "--model", tiny_model)
    second = run_json(cli, seeded, "--model", tiny_model)
    assert all(r["cached"] for r in second) and [r["response"] for r in first] == [r["response"] for r in second]


def test_greedy_repeats_are_generated_once(cli, spec_file, tiny_model):
    results = run_json(cli, spec_file(FILE), "--model", tiny_model, "--repeat", "3")
    assert len(results) == 15
    short = [r for r in results if r["variant"] == "short"]
    assert sorted(r["repeat_index"] for r in short) == [0, 1, 2]
    assert len({r["response"] for r in short}) == 1 and sum(not r["cached"] for r in short) == 1


def test_side_by_side_table_and_compare(cli, spec_file, tiny_model, tiny_model_plain):
    path = spec_file(FILE)
    code, out, err = cli("run", path, "--model", tiny_model, "--model", tiny_model_plain)
    assert code == 0, err
    for text in ("short", "long", "cot", "ko", "tiny-llama", "tiny-plain", "tok/s", "pass rate", "checks", "100% (1/1)"):
        assert text in out, text
    assert "compare again with: hanprompt compare 1" in err
    code, again, _ = cli("compare", "1")
    assert code == 0 and "pass rate" in again and "short" in again
    code, out, _ = cli("compare", "1", "--json")
    data = json.loads(out)
    assert data["variants"] == ["short", "long", "cot", "ko"] and len(data["models"]) == 2
    cot = next(c for c in data["cells"] if c["variant"] == "cot")
    assert cot["checked"] == 1 and cot["passed"] == 0 and cot["pass_rate"] == 0.0
    long = next(c for c in data["cells"] if c["variant"] == "long")
    assert long["n"] == 2 and long["pass_rate"] == 1.0


def test_compare_two_runs(cli, spec_file, tiny_model):
    run_json(cli, spec_file(FILE), "--model", tiny_model)
    changed = FILE.replace("max_new_tokens: 12", "max_new_tokens: 4").replace("max-tokens: 12", "max-tokens: 3")
    run_json(cli, spec_file(changed, "b.yaml"), "--model", tiny_model)
    code, out, err = cli("compare", "1", "2", "--json")
    assert code == 0, err
    rows = {v["variant"]: v for v in json.loads(out)["variants"]}
    short = rows["short"]
    assert short["a"]["pass_rate"] == 1.0 and short["b"]["pass_rate"] == 0.0
    assert short["delta"]["pass_rate"] == -1.0
    assert short["delta"]["output_tokens"] == short["b"]["output_tokens"] - short["a"]["output_tokens"] < 0
    code, table, _ = cli("compare", "1", "2")
    assert code == 0 and "-100 pt" in table and "run 1 → run 2" in table
    code, _, err = cli("compare", "1", "99")
    assert code == 2 and "no run with id 99" in err


def test_prompt_styles_example_runs_then_comes_from_the_cache(cli, tiny_model, tiny_embedder):
    example = EXAMPLES / "prompt-styles.yaml"
    code, out, err = cli("run", example, "--model", tiny_model, "--embedder", tiny_embedder, "--max-concurrency", "4")
    assert code == 0, err
    for variant in ("one-line", "five-line", "three-areas", "zero-shot", "few-shot", "chain-of-thought"):
        assert variant in out
    second = run_json(cli, example, "--model", tiny_model, "--embedder", tiny_embedder)
    assert len(second) >= 6 and all(r["cached"] for r in second)
    checks = {c["name"]: c for r in second for c in r["checks"]}
    assert "kinds of resource" in checks["python"]["reason"]  # examples/checks.py ran
    assert checks["llm-rubric"]["passed"] is None and checks["llm-rubric"]["reason"].startswith("not judged")
    assert checks["similar"]["reason"].startswith("cosine similarity") and checks["similar"]["score"] is not None


def test_korea_travel_example_expands(tiny_model):
    from hanprompt.experiments.matrix import expand
    from hanprompt.experiments.spec import load_spec

    cells = expand(load_spec(EXAMPLES / "korea-travel.yaml"))
    assert len({c.variant.id for c in cells}) >= 5
    assert any("한국" in c.messages[-1]["content"] for c in cells)


@pytest.mark.postgres
def test_run_and_cache_on_postgresql(cli, spec_file, tiny_model, pg_url):
    path = spec_file(FILE)
    first = run_json(cli, path, "--model", tiny_model, "--db", pg_url)
    second = run_json(cli, path, "--model", tiny_model, "--db", pg_url)
    assert len(first) == 5 and all(r["cached"] for r in second)
    code, out, _ = cli("compare", "1", "2", "--json", "--db", pg_url)
    assert code == 0 and len(json.loads(out)["variants"]) == 4
