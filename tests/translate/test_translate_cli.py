"""hanprompt translate: texts, files, runs, the comparison table, stored results, bad inputs."""
from __future__ import annotations

import json

import pytest
from sacrebleu.metrics import CHRF

from conftest import EXAMPLES

SRC, REF = EXAMPLES / "en-ko.en", EXAMPLES / "en-ko.ko"


def test_the_shipped_reference_set_has_50_aligned_pairs():
    en = SRC.read_text(encoding="utf-8").splitlines()
    ko = REF.read_text(encoding="utf-8").splitlines()
    assert len(en) == len(ko) >= 50 and all(line.strip() for line in en + ko)


def test_a_text_is_translated_and_stored_as_a_translate_run(cli, tiny_marian, default_engine):
    from hanprompt.store.runs import get_run
    from hanprompt.store.translations import list_translations

    code, out, err = cli("translate", "Hello there. How are you?", "--to", "ko", "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert {"translator", "source", "translation", "seconds"} <= set(row)
    assert row["translator"] == f"mt:{tiny_marian}" and row["segments"] == 2
    assert get_run(default_engine, row["run_id"])["kind"] == "translate"
    (stored,) = list_translations(default_engine, run_id=row["run_id"])
    assert stored["translation"] == row["translation"] and stored["generation_id"] is None


def test_run_translations_are_linked_to_its_generations(cli, tiny_model, tiny_marian, default_engine):
    from hanprompt.store.translations import list_translations

    ids = []
    for prompt in ("What is the capital of England?", "Recommend a city in Korea."):
        code, out, err = cli("ask", prompt, "--model", tiny_model, "--max-new-tokens", "12", "--json")
        assert code == 0, err
        ids.append(json.loads(out))
    run_id = ids[0]["run_id"]
    code, out, err = cli("translate", "--run", run_id, "--translator", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["generation_id"] == ids[0]["id"] and row["source"] == ids[0]["response"]
    (stored,) = list_translations(default_engine, run_id=run_id)
    assert stored["generation_id"] == ids[0]["id"] and stored["translator"] == f"mt:{tiny_marian}"
    assert list_translations(default_engine, run_id=ids[1]["run_id"]) == []


def test_comparison_table_for_two_translators_on_the_reference_set(cli, tiny_marian, tiny_m2m100, default_engine):
    from hanprompt.store.translations import list_scores, list_translations

    specs = [f"mt:{tiny_marian}", f"mt:{tiny_m2m100}"]
    code, out, err = cli("translate", "--file", SRC, "--references", REF, "-t", specs[0], "-t", specs[1])
    assert code == 0, err
    header, *rows = out.splitlines()[:3]
    assert header.split() == ["chrF++", "BLEU", "Hangul", "segments/s", "segments", "flagged", "translator"]
    assert "chrF++ signature: nrefs:1" in out and "BLEU signature: nrefs:1" in out and "nw:2" in out
    stored = list_scores(default_engine)
    assert [s["translator"] for s in stored] == specs
    refs = REF.read_text(encoding="utf-8").splitlines()
    for row, s in zip(rows, stored):
        hyps = [t["translation"] for t in list_translations(default_engine, run_id=s["run_id"], translator=s["translator"])]
        assert s["chrf"] == pytest.approx(CHRF(word_order=2).corpus_score(hyps, [refs]).score)
        assert s["segments"] == len(refs) and s["segments_per_s"] > 0 and 0 <= s["hangul_share"] <= 1
        flagged = [t for t in list_translations(default_engine, run_id=s["run_id"], translator=s["translator"])
                   if t["flag"] is not None]
        assert s["flagged"] == len(flagged)
        assert row.split() == [f"{s['chrf']:.1f}", f"{s['bleu']:.1f}", f"{s['hangul_share']:.0%}",
                               f"{s['segments_per_s']:.2f}", str(len(refs)), str(len(flagged)), s["translator"]]


def test_an_llm_translator_runs_through_the_cli(cli, tiny_model):
    code, out, err = cli("translate", "Thank you.", "-t", f"llm:{tiny_model}", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["translator"] == f"llm:{tiny_model}" and row["seconds"] > 0


def test_json_scores_per_translator_stored_in_postgresql(cli, tiny_marian, pg_url, tmp_path):
    from hanprompt.store import open_engine
    from hanprompt.store.translations import list_scores

    src, ref = tmp_path / "five.en", tmp_path / "five.ko"
    src.write_text("\n".join(SRC.read_text(encoding="utf-8").splitlines()[:5]), encoding="utf-8")
    ref.write_text("\n".join(REF.read_text(encoding="utf-8").splitlines()[:5]), encoding="utf-8")
    code, out, err = cli("translate", "--file", src, "--references", ref, "-t", f"mt:{tiny_marian}",
                         "--db", pg_url, "--json")
    assert code == 0, err
    (s,) = json.loads(out)
    assert {"translator", "chrf", "bleu", "hangul_share", "segments_per_s"} <= set(s) and s["segments"] == 5
    (stored,) = list_scores(open_engine(pg_url), run_id=s["run_id"])
    assert stored["chrf"] == pytest.approx(s["chrf"]) and stored["bleu_signature"] == s["bleu_signature"]


def _assert_refused(cli, count_rows, args, *needles):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err
    assert count_rows("runs") == 0 and count_rows("translations") == 0 and count_rows("translation_scores") == 0


def test_unknown_language_code_lists_the_supported_ones(cli, count_rows, tiny_marian):
    _assert_refused(cli, count_rows, ["translate", "Hello.", "--to", "kr", "-t", f"mt:{tiny_marian}"],
                    "unknown language code 'kr'", "ko (Korean)")


def test_a_model_that_is_not_seq2seq_is_refused(cli, count_rows, tiny_model):
    _assert_refused(cli, count_rows, ["translate", "Hello.", "-t", f"mt:{tiny_model}"],
                    "not a sequence-to-sequence", "llm:")


def test_an_empty_file_is_refused(cli, count_rows, tiny_marian, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    _assert_refused(cli, count_rows, ["translate", "--file", empty, "-t", f"mt:{tiny_marian}"], "is empty")


def test_references_of_another_length_are_refused(cli, count_rows, tiny_marian, tmp_path):
    short = tmp_path / "short.ko"
    short.write_text("\n".join(REF.read_text(encoding="utf-8").splitlines()[:10]) + "\n", encoding="utf-8")
    _assert_refused(cli, count_rows, ["translate", "--file", SRC, "--references", short, "-t", f"mt:{tiny_marian}"],
                    "--references has 10 lines but the source has 60")


def test_an_unknown_translator_prefix_is_refused(cli, count_rows):
    _assert_refused(cli, count_rows, ["translate", "Hello.", "-t", "google:x"], "mt:<model>", "llm:<model>")


def test_references_are_shown_side_by_side_and_all_of_them_in_json(cli, tiny_marian, tmp_path):
    src, ref = tmp_path / "s.en", tmp_path / "r.ko"
    src.write_text("Hello there.\nThe museum is closed.\nSeoul is big.\n", encoding="utf-8")
    ref.write_text("안녕하세요.\n박물관은 닫혔습니다.\n[red]서울은 크다[/red]\n", encoding="utf-8")
    code, out, err = cli("translate", "--file", src, "--references", ref, "-t", f"mt:{tiny_marian}", "--show", "2")
    assert code == 0, err
    assert "2 of 3 segments" in out and "Hello there." in out and "박물관은 닫혔습니다." in out
    assert "Seoul is big." not in out  # --show 2
    code, out, err = cli("translate", "--file", src, "--references", ref, "-t", f"mt:{tiny_marian}", "--json",
                         "--show", "1")
    (score,) = json.loads(out)
    segments = score["by_segment"]
    assert [s["source"] for s in segments] == ["Hello there.", "The museum is closed.", "Seoul is big."]
    assert segments[2]["reference"] == "[red]서울은 크다[/red]"  # stored text, printed whole, never markup
    for s in segments:
        assert s["chrf"] == pytest.approx(CHRF(word_order=2).sentence_score(s["translation"], [s["reference"]]).score)


def test_run_translations_are_labelled_with_generation_variant_and_model(cli, tiny_model, tiny_marian, tmp_path):
    import textwrap

    exp = tmp_path / "exp.yaml"
    exp.write_text(textwrap.dedent(f"""\
        name: labelled
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 6, temperature: 0}}
        variants:
          - {{id: capital, prompt: "What is the capital of {{{{country}}}}?"}}
        vars: {{country: [England, Korea]}}
        """), encoding="utf-8")
    code, out, err = cli("run", exp, "--json")
    assert code == 0, err
    results = json.loads(out)
    run_id = results[0]["run_id"]
    code, out, err = cli("translate", "--run", run_id, "-t", f"mt:{tiny_marian}")
    assert code == 0, err
    for r in results:
        assert f"-- generation {r['id']} · variant capital · country={r['vars']['country']} · hf:{tiny_model}" in out
    code, out, err = cli("run", exp, "--json")  # a second run (served from the cache) to translate again
    results = json.loads(out)
    code, out, err = cli("translate", "--run", results[0]["run_id"], "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["generation_id"], r["variant"], r["model"]) for r in rows} == {
        (r["id"], "capital", f"hf:{tiny_model}") for r in results}


def test_translators_report_progress_per_batch_through_the_library(tiny_marian, tmp_path):
    from hanprompt.store import open_engine
    from hanprompt.translate.service import translate_job

    calls = []
    texts = [f"Sentence number {i}." for i in range(5)]
    translate_job(texts, translators=[f"mt:{tiny_marian}"], engine=open_engine(f"sqlite:///{tmp_path / 'l.db'}"),
                  name="progress", options={"batch_size": 2}, progress=lambda *a: calls.append(a))
    spec = f"mt:{tiny_marian}"
    assert calls == [(0, 5, spec), (2, 5, spec), (4, 5, spec), (5, 5, spec)]
