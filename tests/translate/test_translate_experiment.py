"""An experiment's translate: section translates every response as the run goes."""
from __future__ import annotations

import textwrap


def test_an_experiment_translates_its_responses(cli, tiny_model, tiny_marian, tmp_path, default_engine):
    from hanprompt.store.runs import list_generations, list_runs
    from hanprompt.store.translations import list_translations

    exp = tmp_path / "exp.yaml"
    exp.write_text(textwrap.dedent(f"""\
        name: translated
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 10, temperature: 0}}
        translate: {{to: ko, translator: "mt:{tiny_marian}"}}
        variants:
          - {{id: capital, prompt: "What is the capital of England?"}}
          - {{id: travel, prompt: "Recommend travel destinations in Korea."}}
        """), encoding="utf-8")
    code, out, err = cli("run", exp, "--json")
    assert code == 0, err
    (run,) = list_runs(default_engine, kind="experiment")
    generations = list_generations(default_engine, run_id=run["id"], limit=None)
    translations = list_translations(default_engine, run_id=run["id"])
    assert len(generations) == 2
    assert sorted(t["generation_id"] for t in translations) == sorted(g["id"] for g in generations)
    by_gen = {g["id"]: g for g in generations}
    for t in translations:
        assert t["source"] == by_gen[t["generation_id"]]["response"]
        assert (t["translator"], t["source_lang"], t["target_lang"]) == (f"mt:{tiny_marian}", "en", "ko")


def test_every_cell_and_every_translation_is_visible_in_every_view(cli, tiny_model, tiny_marian, tmp_path):
    import json

    exp = tmp_path / "exp.yaml"
    exp.write_text(textwrap.dedent(f"""\
        name: visible
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 8, temperature: 0}}
        repeat: 2
        translate: {{to: ko, translator: "mt:{tiny_marian}"}}
        variants:
          - {{id: capital, prompt: "What is the capital of {{{{country}}}}?"}}
        vars: {{country: [England, France, "[bold]Korea[/bold]"]}}
        """), encoding="utf-8")
    code, out, err = cli("run", exp, "--json")
    assert code == 0, err
    results = json.loads(out)
    assert len(results) == 6
    for r in results:
        (t,) = r["translations"]
        assert t["translator"] == f"mt:{tiny_marian}" and t["target_lang"] == "ko"
        assert t["translation"] and 0 <= t["hangul_share"] <= 1
    run_id = results[0]["run_id"]

    code, out, err = cli("compare", run_id)  # piped: every value whole
    assert code == 0, err
    by_country = {}
    for r in results:
        by_country.setdefault(r["vars"]["country"], r)
    for country, r in by_country.items():
        assert f"country={country}" in out  # one row per vars value, markup printed as text
        assert " ".join(r["response"].split()) in out
        assert " ".join(r["translations"][0]["translation"].split()) in out
    assert out.count("2 repeats") == 3

    code, out, err = cli("compare", run_id, "--json")
    data = json.loads(out)
    assert [len(p["ids"]) for p in data["prompts"]] == [2, 2, 2]
    assert all(r["translations"] for r in data["results"])

    code, out, err = cli("logs", "show", results[0]["id"])
    assert code == 0, err
    assert f"--- translation en -> ko by mt:{tiny_marian}" in out and results[0]["translations"][0]["translation"] in out
    code, out, err = cli("logs", "show", results[0]["id"], "--json")
    assert json.loads(out)["translations"][0]["translation"] == results[0]["translations"][0]["translation"]
