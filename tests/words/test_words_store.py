"""Word analyses of stored runs: streamed from the log, stored with the run, reused when asked again."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select


def counts(result: dict) -> dict[str, int]:
    return {row["word"]: row["count"] for row in result["top"]}


def table_count(url: str, table) -> int:
    from hanprompt.store import open_engine

    with open_engine(url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_run_from_the_tiny_model_is_analysed_stored_and_reused(cli, tiny_model, db):
    from hanprompt.store import open_engine
    from hanprompt.store.analyses import analyses_for_run
    from hanprompt.store.runs import get_run

    code, out, err = cli("ask", "제주도 여행지를 추천해 줘", "--model", tiny_model, "--max-new-tokens", "12", "--json")
    assert code == 0, err
    source = json.loads(out)["run_id"]

    code, out, err = cli("words", "--run", source, "--json", "--pos", "all", "--foreign")
    assert code == 0, err
    first = json.loads(out)
    assert first["documents"] == 1 and first["reused"] is False
    assert first["source_run_id"] == source and "stored as analysis" in err
    words_run = get_run(open_engine(db), first["run_id"])
    assert words_run["kind"] == "words" and words_run["status"] == "done"

    code, out, err = cli("words", "--run", source, "--json", "--pos", "all", "--foreign")
    again = json.loads(out)
    assert again["reused"] is True and again["analysis_id"] == first["analysis_id"]
    assert again["top"] == first["top"] and "reused stored analysis" in err
    stored = analyses_for_run(open_engine(db), source)
    assert [a["id"] for a in stored] == [first["analysis_id"]]
    assert stored[0]["result"]["top"] == first["top"]


def test_counts_from_a_stored_run_and_new_data_is_recounted(cli, words_json, store_run, ko, db):
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation
    from hanprompt.store.schema import analyses

    run_id = store_run(db, [ko["particles"], ko["jeju"], "", "실패한 응답"], errors=[None, None, None, "oom"])
    result, _ = words_json("--run", run_id, "--top", "50")
    assert result["documents"] == 3  # the failed generation is not counted
    assert counts(result)["한국"] == 4 and counts(result)["제주도"] == 1
    assert "실패" not in counts(result)

    with open_engine(db).begin() as conn:
        add_generation(conn, run_id, {"model": "hf:tiny", "backend": "hf", "response": ko["particles"]})
    fresh, _ = words_json("--run", run_id, "--top", "50")
    assert fresh["reused"] is False and fresh["analysis_id"] != result["analysis_id"]
    assert fresh["documents"] == 4 and counts(fresh)["한국"] == 8

    other, _ = words_json("--run", run_id, "--top", "5")  # other parameters: another analysis
    assert other["reused"] is False
    assert table_count(db, analyses) == 3


def test_by_variant_gives_one_result_per_group(words_json, store_run, ko, db, tmp_path):
    run_id = store_run(
        db, [ko["particles"], ko["particles"], ko["jeju"]], variants=["formal", "formal", "casual"]
    )
    result, err = words_json("--run", run_id, "--by", "variant", "--chart", tmp_path / "by.png", "--top", "30")
    groups = result["groups"]
    assert result["by"] == "variant" and list(groups) == ["formal", "casual"]
    assert groups["formal"]["documents"] == 2 and counts(groups["formal"])["한국"] == 8
    assert "한국" not in counts(groups["casual"]) and counts(groups["casual"])["성산"] == 2
    assert counts(result)["한국"] == 8
    assert (tmp_path / "by.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_experiment_by_name_uses_its_latest_run(words_json, store_run, ko, db):
    store_run(db, [ko["jeju"]], name="trip")
    latest = store_run(db, [ko["particles"]], name="trip")
    store_run(db, [ko["verbs"]], kind="ask", name="trip")  # not an experiment
    result, _ = words_json("--experiment", "trip", "--top", "50")
    assert result["source_run_id"] == latest and counts(result)["한국"] == 4
    assert "제주도" not in counts(result)


def test_all_stored_responses(words_json, store_run, ko, db):
    store_run(db, [ko["particles"]])
    store_run(db, [ko["particles"], ko["jeju"]], kind="ask")
    result, _ = words_json("--all", "--top", "50")
    assert result["documents"] == 3 and counts(result)["한국"] == 8
    assert result["source_run_id"] is None


def test_translation_field_reads_the_translations_table(words_json, store_run, ko, db):
    from hanprompt.store import open_engine
    from hanprompt.store.db import now
    from hanprompt.store.runs import create_run, list_generations
    from hanprompt.store.schema import translations

    source = store_run(db, ["Korea is cold in winter.", "Jeju has a volcano."])
    engine = open_engine(db)
    translate_run = create_run(engine, name="translate", kind="translate")
    gens = sorted(g["id"] for g in list_generations(engine, run_id=source))
    with engine.begin() as conn:
        for gen_id, text in zip(gens, [ko["particles"], ko["jeju"]]):
            conn.execute(translations.insert().values(
                run_id=translate_run, generation_id=gen_id, translator="test", source_lang="en",
                target_lang="ko", source="-", translation=text, created_at=now(),
            ))
    for run in (source, translate_run):  # the translated run or the translate run itself
        result, _ = words_json("--run", run, "--field", "translation", "--top", "50")
        assert result["documents"] == 2 and counts(result)["한국"] == 4 and counts(result)["성산"] == 2
    responses, _ = words_json("--run", source, "--top", "50")
    assert responses["total_tokens"] == 0  # English responses hold no Korean nouns


def test_empty_run_gives_a_note_and_stores_nothing(cli, store_run, db):
    from hanprompt.store.schema import analyses

    run_id = store_run(db, [])
    code, out, err = cli("words", "--run", run_id, "--json")
    assert code == 0 and json.loads(out)["top"] == [] and "nothing to count" in err
    assert table_count(db, analyses) == 0


@pytest.mark.postgres
def test_postgresql_streams_and_reuses(words_json, store_run, ko, pg_url):
    run_id = store_run(pg_url, [ko["particles"]] * 30, models=["hf:a"] * 15 + ["hf:b"] * 15)
    result, _ = words_json("--run", run_id, "--db", pg_url, "--by", "model", "--top", "5")
    assert counts(result)["한국"] == 120 and counts(result["groups"]["hf:b"])["한국"] == 60
    again, _ = words_json("--run", run_id, "--db", pg_url, "--by", "model", "--top", "5")
    assert again["reused"] is True and again["groups"] == result["groups"]


def test_a_judge_verdict_in_the_run_is_not_counted_as_an_answer(words_json, store_run, ko, db):
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation

    run_id = store_run(db, [ko["jeju"]])
    with open_engine(db).begin() as conn:
        answer = add_generation(conn, run_id, {"model": "hf:tiny", "backend": "hf", "response": ko["particles"]})
        add_generation(conn, run_id, {"model": "hf:judge", "backend": "hf", "role": "judge",
                                      "judged_generation_id": answer, "response": "판정: 통과 판정 판정"})
    result, _ = words_json("--run", run_id, "--top", "50")
    assert result["documents"] == 2  # the two answers; the verdict is not one
    assert "판정" not in counts(result) and counts(result)["한국"] == 4


def test_untranslated_run_names_the_run_and_the_translate_command(cli, store_run, db):
    run_id = store_run(db, ["Korea is cold in winter.", "Jeju has a volcano."])
    code, out, err = cli("words", "--run", run_id, "--field", "translation", "--json")
    assert code == 0 and json.loads(out)["top"] == []
    assert f"run {run_id} has 2 answer(s) but no translations yet" in err
    assert f"hanprompt translate --run {run_id} --to ko" in err
    code, _, err = cli("words", "--run", store_run(db, []), "--field", "translation")
    assert code == 0 and "holds no answers and no translations" in err and "translate --run" not in err
