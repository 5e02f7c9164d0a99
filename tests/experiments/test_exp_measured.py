"""Measured vs cached: every result says where it came from; speeds come from measurements only."""
from __future__ import annotations

import json
import re
import shutil
import weakref

FILE = """\
name: timed
params: {max_new_tokens: 8, temperature: 0}
checks: [{max-latency-ms: 600000}]
variants:
  - {id: a, prompt: "Hi"}
  - {id: b, prompt: "Tell me about Jeju."}
"""


def run_json(cli, *args):
    code, out, err = cli("run", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_cache_hits_name_their_origin_and_are_not_speeds(cli, spec_file, tiny_model):
    path = spec_file(FILE)
    first = run_json(cli, path, "--model", tiny_model, "--repeat", "2")
    measured = [r for r in first if not r["cached"]]
    assert len(measured) == 2  # greedy repeats are copies of one generation each
    by_id = {r["id"]: r for r in first}
    for r in first:
        if r["cached"]:  # a copy names the generation it copies, in this run
            origin = by_id[r["cached_from_id"]]
            assert not origin["cached"] and origin["variant"] == r["variant"]
            assert r["timings"] is None
            assert r["checks"][0]["reason"].startswith("cached: ") and "measured in run 1" in r["checks"][0]["reason"]
        else:
            assert r["cached_from_id"] is None
            assert set(r["timings"]) >= {"prefill_s", "decode_s"}
            assert not r["checks"][0]["reason"].startswith("cached")
    second = run_json(cli, path, "--model", tiny_model, "--repeat", "2")
    assert all(r["cached"] for r in second)
    origins = {r["id"] for r in measured}
    assert {r["cached_from_id"] for r in second} == origins  # the measuring rows of run 1, not copies
    latency = second[0]["checks"][0]
    assert latency["passed"] and latency["reason"].startswith("cached: ") and "ms measured in run 1" in latency["reason"]

    code, out, err = cli("compare", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["run"]["generated"] == 0 and data["run"]["cached"] == 4
    assert all(c["tokens_per_s"] is None and c["measured"] == 0 for c in data["cells"])
    code, table, _ = cli("compare", "2")
    assert "cached" in table and "tok/s" not in table.split("pass rate")[0]

    code, out, _ = cli("compare", "1", "2", "--json")
    diff = json.loads(out)
    assert all(v["b"]["tokens_per_s"] is None and v["a"]["tokens_per_s"] > 0 for v in diff["variants"])
    assert any("run 2 generated nothing" in w for w in diff["warnings"])
    code, table, _ = cli("compare", "1", "2")
    assert code == 0 and "cached" in table.split("run 1 → run 2")[1] and "generated nothing" in table
    assert "A: run 1 · experiment timed" in table and "2 generated, 2 reused" in table


def test_compare_names_each_side_and_warns_when_they_differ(cli, spec_file, tiny_model, tiny_model_plain):
    run_json(cli, spec_file(FILE), "--model", tiny_model)
    run_json(cli, spec_file(FILE.replace("name: timed", "name: other"), "other.yaml"), "--model", tiny_model_plain)
    code, out, err = cli("compare", "1", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["a"]["name"] == "timed" and data["b"]["name"] == "other"
    assert data["a"]["models"] == [f"hf:{tiny_model}"] and data["b"]["models"] == [f"hf:{tiny_model_plain}"]
    assert len(data["warnings"]) == 2
    assert "different experiments" in data["warnings"][0] and "different models" in data["warnings"][1]
    code, table, _ = cli("compare", "1", "2")
    assert "experiment timed" in table and "experiment other" in table and "warning:" in table
    run_json(cli, spec_file(FILE), "--model", tiny_model, "--no-cache")
    code, out, _ = cli("compare", "1", "3", "--json")
    assert json.loads(out)["warnings"] == []


def test_the_summary_counts_distinct_generations(cli, spec_file, tiny_model):
    path = spec_file(FILE)
    code, _, err = cli("run", path, "--model", tiny_model, "--repeat", "3")
    assert code == 0, err
    assert "run 1: 6 results from 2 generations run now, 4 greedy repeats copied from them" in err
    code, _, err = cli("run", path, "--model", tiny_model, "--repeat", "3")
    assert "run 2: 6 results from 0 generations run now, 6 served from the cache" in err


def test_unseeded_sampling_has_no_cache_key(cli, spec_file, tiny_model, log_db):
    path = spec_file(FILE.replace("temperature: 0}", "temperature: 0.9}"))
    run_json(cli, path, "--model", tiny_model, "--repeat", "2")
    assert log_db("generations", "cache_key IS NULL AND cached = 0") == 4
    assert all(not r["cached"] for r in run_json(cli, path, "--model", tiny_model, "--repeat", "2"))


def test_debug_reports_the_phase_split(cli, spec_file, tiny_model):
    code, _, err = cli("run", spec_file(FILE), "--model", tiny_model, "--no-cache", "--debug")
    assert code == 0, err
    line = next(x for x in err.splitlines() if x.startswith("hanprompt: phases: "))
    for phase in ("prefill", "decode", "store", "render", "other", "process"):
        assert f"{phase} " in line, phase
    from hanprompt.backends import cpu_linear

    kernels = r"(oneDNN packed linear x\d+, measured|plain nn\.Linear \(oneDNN packed measured) [0-9.]+x"
    if cpu_linear.available():  # which linear layers the measurement at load chose, and its factor
        assert any(re.match(rf"hanprompt: hf:\S+: {kernels}", x) for x in err.splitlines()), err
    code, _, err = cli("ask", "Hi", "--model", tiny_model, "--max-new-tokens", "3", "--debug")
    assert code == 0, err
    line = next(x for x in err.splitlines() if x.startswith("hanprompt: phases: "))
    for phase in ("prefill", "decode", "store", "render"):
        assert f"{phase} " in line, phase
    if cpu_linear.available():  # the stats line says it too
        assert re.search(rf"cpu float32 · {kernels}", err), err


def test_one_model_in_memory_at_a_time(spec_file, tiny_model, tmp_path):
    """With two models, the first is released (its weights freed) before the second loads."""
    from hanprompt.experiments import model_entries, run_experiment

    a, b = tmp_path / "model-a", tmp_path / "model-b"  # copies nothing else in this process holds
    shutil.copytree(tiny_model, a)
    shutil.copytree(tiny_model, b)
    alive: list[list[bool]] = []
    refs: list[weakref.ref] = []

    def on_loaded(backend):
        refs.append(weakref.ref(backend.model))
        alive.append([r() is not None for r in refs])

    summary = run_experiment(spec_file(FILE), models=model_entries([str(a), str(b)]), on_loaded=on_loaded)
    assert summary.status == "done" and summary.generated == 4
    assert alive == [[True], [False, True]]
    assert {"load_s", "prefill_s", "decode_s", "store_s"} <= set(summary.timings)


def test_logs_show_speeds_only_for_measured_rows(cli, spec_file, tiny_model):
    path = spec_file(FILE)
    first = run_json(cli, path, "--model", tiny_model)
    second = run_json(cli, path, "--model", tiny_model)
    assert not any(r["cached"] for r in first) and all(r["cached"] for r in second)
    code, out, err = cli("logs", "--limit", "10")
    assert code == 0, err
    rows = {line.split()[0]: line for line in out.splitlines()[1:] if line.split() and line.split()[0].isdigit()}
    for r in first:
        assert "cached" not in rows[str(r["id"])]
    for r in second:
        assert rows[str(r["id"])].split()[-2] == "cached"  # in the tok/s column, before the time
    code, out, err = cli("logs", "show", str(second[0]["id"]))
    assert code == 0, err
    assert f"served from the cache: not measured now; generation {second[0]['cached_from_id']} measured it" in out
    assert "tok/s" not in out  # the reused speed is not shown as this row's
    code, out, err = cli("logs", "show", str(first[0]["id"]))
    assert "tok/s" in out and "served from the cache" not in out
