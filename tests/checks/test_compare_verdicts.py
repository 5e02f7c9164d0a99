"""compare with intervals and verdicts, over runs stored in a real SQLite log."""
from __future__ import annotations

import json

import pytest

from hanprompt.experiments import stats


def store_run(rows, name="exp"):
    """Store an experiment run: rows of (variant, model, passed, score, params, cache_key, cached)."""
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.experiments import add_checks
    from hanprompt.store.runs import add_generation, create_run, finish_run

    engine = open_engine(settings.db_url(None))
    run_id = create_run(engine, name=name, kind="experiment")
    with engine.begin() as conn:
        for i, (variant, model, passed, score, params, key, cached) in enumerate(rows):
            gen = add_generation(conn, run_id, {
                "model": model, "backend": "hf", "variant": variant, "params": params, "cache_key": key,
                "cached": cached, "repeat_index": i, "vars": {}, "response": "응답", "output_tokens": 5,
                "tokens_per_s": 10.0})
            checks = [{"name": "contains", "spec": {"contains": "x"}, "passed": passed, "reason": "r", "score": None}]
            if score is not None:
                checks.append({"name": "speech-level", "spec": {"speech-level": "formal"}, "passed": score >= 0.5,
                               "reason": "r", "score": score})
            add_checks(conn, gen, checks)
    finish_run(engine, run_id)
    return run_id


SAMPLED = {"temperature": 0.8, "seed": None, "max_new_tokens": 8}
GREEDY = {"temperature": 0.0, "seed": None, "max_new_tokens": 8}


def sampled(variant, passes, scores=None, model="hf:m"):
    scores = scores or [None] * len(passes)
    return [(variant, model, p, s, SAMPLED, f"{variant}-{model}", False) for p, s in zip(passes, scores)]


def test_one_run_intervals_and_verdicts_against_the_first_variant(cli):
    run = store_run(sampled("one-line", [False] * 12, [0.2] * 6 + [0.3] * 6)
                    + sampled("detailed", [True] * 12, [0.9] * 6 + [1.0] * 6)
                    + sampled("brief", [True, False, True], [0.1, 0.4, 0.3]))
    code, out, err = cli("compare", run, "--json")
    assert code == 0, err
    data = json.loads(out)
    cells = {c["variant"]: c for c in data["cells"]}
    one = cells["one-line"]
    assert (one["independent"], one["passed"], one["checked"]) == (12, 0, 12)
    ci = one["pass_rate_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.clopper_pearson(0, 12)) and ci["n"] == 12
    assert ci["method"] == data["methods"]["pass_rate"]
    assert one["mean_score"] == pytest.approx(0.25)
    ci = one["mean_score_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.mean_interval([0.2] * 6 + [0.3] * 6)) and ci["n"] == 12
    verdicts = {v["b"]: v for v in data["verdicts"]}
    assert set(verdicts) == {"detailed", "brief"} and all(v["a"] == "one-line" for v in verdicts.values())
    assert verdicts["detailed"]["verdict"] == "B better"
    ci = verdicts["detailed"]["pass_rate_difference_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.newcombe(0, 12, 12, 12))
    assert (ci["n_a"], ci["n_b"], ci["minimum_n"]) == (12, 12, stats.MIN_VERDICT_N)
    brief = verdicts["brief"]  # three results: an interval that says so, and no verdict
    assert brief["verdict"].startswith("no verdict (below the minimum: 3 independent results") and brief["repeats_needed"] > 3
    assert brief["pass_rate_difference_ci"]["n_b"] == 3 and "below the minimum" in brief["pass_rate_difference_ci"]["note"]
    assert data["methods"]["pass_rate"].startswith("Clopper-Pearson") and "Newcombe" in data["methods"]["pass_rate_difference"]

    code, table, _ = cli("compare", run)
    assert code == 0
    assert "0% (0/12) [0%–26%]" in table and "score 0.25 [" in table
    assert "against one-line (A)" in table and "B better" in table and "no verdict" in table

    code, out, _ = cli("compare", run, "--baseline", "detailed", "--json")
    assert {v["b"]: v["verdict"] for v in json.loads(out)["verdicts"]}["one-line"] == "A better"
    code, _, err = cli("compare", run, "--baseline", "nope")
    assert code == 2 and "no variant 'nope' in this run; choose one of one-line, detailed, brief" in err


def test_greedy_copies_and_cache_hits_count_once(cli):
    copies = [("v", "hf:m", True, None, GREEDY, "same", i > 0) for i in range(5)]
    run = store_run(copies + sampled("w", [True, True]))
    code, out, _ = cli("compare", run, "--json")
    cells = {c["variant"]: c for c in json.loads(out)["cells"]}
    assert (cells["v"]["n"], cells["v"]["independent"], cells["v"]["checked"]) == (5, 1, 1)
    ci = cells["v"]["pass_rate_ci"]
    assert (ci["low"], ci["high"], ci["n"]) == (pytest.approx(0.025), 1.0, 1)
    (verdict,) = json.loads(out)["verdicts"]
    assert verdict["verdict"].startswith("no verdict (below the minimum: 1 independent result on a side")


def test_two_runs_per_variant_and_model(cli):
    a = store_run(sampled("v", [False] * 10, model="hf:x") + sampled("v", [True] * 3, model="hf:y"), "a")
    b = store_run(sampled("v", [True] * 10, model="hf:x") + sampled("v", [True, False, True], model="hf:y"), "b")
    code, out, err = cli("compare", a, b, "--json")
    assert code == 0, err
    data = json.loads(out)
    rows = {(v["variant"], v["model"]): v for v in data["variants"]}
    assert rows[("v", "hf:x")]["verdict"]["verdict"] == "B better"
    ci = rows[("v", "hf:x")]["verdict"]["pass_rate_difference_ci"]
    assert (ci["low"], ci["high"]) == pytest.approx(stats.newcombe(0, 10, 10, 10))
    assert rows[("v", "hf:y")]["verdict"]["verdict"].startswith("no verdict (below the minimum")
    assert "methods" in data
    code, table, _ = cli("compare", a, b)
    assert code == 0 and "B better" in table and f"is run {b} (B) better than run {a} (A)?" in table
    code, _, err = cli("compare", a, b, "--baseline", "v")
    assert code == 2 and "--baseline goes with one run" in err
    # Different models in the two runs: compared per variant over all models.
    c = store_run(sampled("v", [True] * 10, model="hf:z"), "c")
    code, out, _ = cli("compare", a, c, "--json")
    (row,) = json.loads(out)["variants"]
    assert row["model"] is None and row["a"]["checked"] == 13 and row["b"]["checked"] == 10
