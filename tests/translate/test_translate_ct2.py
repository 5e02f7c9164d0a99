"""ct2: translators on tiny models converted by CTranslate2's own converter."""
from __future__ import annotations

import json
import sys

import pytest

from conftest import EXAMPLES
from hanprompt.translate import base
from hanprompt.translate.languages import language

SRC, REF = EXAMPLES / "en-ko.en", EXAMPLES / "en-ko.ko"
EN, KO = language("en"), language("ko")
TEXTS = SRC.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("family", ["marian", "marian_multi", "m2m100"])
def test_float32_ct2_translates_exactly_like_mt(ct2_models, family):
    hf, ct2 = ct2_models[family]
    mt = [r.translation for r in base.load(f"mt:{hf}").translate(TEXTS, EN, KO)]
    translator = base.load(f"ct2:{ct2}", compute_type="float32")
    assert translator.family == {"marian_multi": "marian"}.get(family, family)
    out = [r.translation for r in translator.translate(TEXTS, EN, KO)]
    assert out == mt and all(out)
    if family == "marian":  # this model's output depends on its input, so equality means something
        assert len(set(out)) > 3


def test_the_language_tokens_reach_ctranslate2(ct2_models):
    _, multi = ct2_models["marian_multi"]
    t = base.load(f"ct2:{multi}", compute_type="float32")
    assert t.source_texts(["Hello."], EN, KO) == [">>kor<< Hello."]
    _, m2m = ct2_models["m2m100"]
    t = base.load(f"ct2:{m2m}", compute_type="float32")
    for code in ("ko", "ja"):
        rows = t.generate_tokens(TEXTS[:3], EN, language(code))
        assert [row[0] for row in rows] == [f"__{code}__"] * 3 and all(len(row) > 1 for row in rows)
        assert t.tokenizer.src_lang == "en"


def test_int8_is_the_cpu_default_and_translates(ct2_models):
    _, int8 = ct2_models["int8"]
    t = base.load(f"ct2:{int8}", batch_size=7)
    assert t.translator.compute_type.startswith("int8") and t.translator.device == "cpu"
    results = t.translate(TEXTS, EN, KO)
    assert all(r.translation.strip() and r.seconds > 0 for r in results)
    assert any("\uac00" <= ch <= "\ud7a3" for r in results for ch in r.translation)


def test_cli_compares_mt_and_ct2_on_the_reference_set(cli, ct2_models, default_engine):
    from hanprompt.store.translations import list_translations

    hf, ct2 = ct2_models["marian"]
    specs = [f"mt:{hf}", f"ct2:{ct2}"]
    code, out, err = cli("translate", "--file", SRC, "--references", REF, "-t", specs[0], "-t", specs[1], "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["translator"] for r in rows] == specs
    assert all(r["segments"] == len(TEXTS) and r["segments_per_s"] > 0 for r in rows)
    stored = list_translations(default_engine, run_id=rows[0]["run_id"])
    assert sorted({s["translator"] for s in stored}) == sorted(specs) and len(stored) == 2 * len(TEXTS)
    code, out, err = cli("translate", "--file", SRC, "--references", REF, "-t", specs[0], "-t", specs[1])
    assert code == 0, err
    table = out.splitlines()
    assert table[1].endswith(specs[0]) and table[2].endswith(specs[1])


def _refused(cli, count_rows, *args) -> str:
    code, out, err = cli("translate", "Hello.", *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert count_rows("runs") == 0 and count_rows("translations") == 0
    return err


def test_a_missing_folder_is_refused_with_the_converter_command(cli, count_rows, tmp_path):
    err = _refused(cli, count_rows, "-t", f"ct2:{tmp_path / 'nowhere'}")
    assert "no such folder" in err and "ct2-transformers-converter" in err


def test_a_transformers_folder_is_refused_with_its_exact_conversion(cli, count_rows, tiny_marian):
    err = _refused(cli, count_rows, "-t", f"ct2:{tiny_marian}")
    assert "not a CTranslate2 model (no model.bin" in err
    assert (f"ct2-transformers-converter --model {tiny_marian} --output_dir {tiny_marian}-ct2" in err
            and "--copy_files tokenizer_config.json vocab.json source.spm target.spm" in err)


def test_a_device_ctranslate2_lacks_is_refused(cli, count_rows, ct2_models):
    err = _refused(cli, count_rows, "-t", f"ct2:{ct2_models['int8'][1]}", "--device", "mps")
    assert "cpu or cuda" in err


def test_missing_ctranslate2_names_the_extra(cli, count_rows, ct2_models, monkeypatch):
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # what an environment without it imports
    err = _refused(cli, count_rows, "-t", f"ct2:{ct2_models['int8'][1]}", "--batch-size", "3")
    assert "pip install 'hanprompt[ct2]'" in err


def test_the_forced_language_token_counts_toward_the_limit(ct2_models):
    # transformers counts a forced first token among max_new_tokens; CTranslate2 must count its
    # target prefix the same way, or the two would stop one token apart.
    hf, ct2 = ct2_models["m2m100"]
    t = base.load(f"ct2:{ct2}", compute_type="float32", batch_size=5)
    mt = base.load(f"mt:{hf}", batch_size=5)
    t.max_length = 6  # this instance only (batch_size 5 makes it a separate cached translator)
    (row,) = t.generate_tokens(["Where is the station?"], EN, KO)
    (ids,) = mt.generate_ids(["Where is the station?"], EN, KO)
    assert row[0] == "__ko__" and row == mt.tokenizer.convert_ids_to_tokens(ids[1:7])  # ids[0]: start token
