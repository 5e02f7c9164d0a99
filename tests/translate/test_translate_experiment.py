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
