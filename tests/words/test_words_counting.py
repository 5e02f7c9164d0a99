"""Counting Korean words from files: particles split off, stopwords, user words, naive split."""
from __future__ import annotations

import csv
import json
import subprocess
import sys


def counts(result: dict) -> dict[str, int]:
    return {row["word"]: row["count"] for row in result["top"]}


def test_particles_are_split_off(write, ko, words_json):
    result, _ = words_json(write("a.txt", ko["particles"]), "--top", "50")
    found = counts(result)
    assert found["한국"] == 4  # 한국의, 한국에서, 한국을, 한국은
    assert found["서울"] == 2  # 서울의, 서울에
    assert not [w for w in found if w.startswith(("한국", "서울")) and w not in ("한국", "서울")]
    assert {row["tag"] for row in result["top"]} <= {"NNG", "NNP"}
    assert "것" not in found  # a bound noun (NNB), never counted
    assert result["documents"] == 1
    assert result["total_tokens"] == sum(found.values())
    assert result["analyzer"].startswith("kiwipiepy")
    shares = {row["word"]: row["share"] for row in result["top"]}
    assert abs(shares["한국"] - 4 / result["total_tokens"]) < 1e-6


def test_top_n_is_ranked_by_count_then_word(write, ko, words_json):
    result, _ = words_json(write("a.txt", ko["particles"] * 3), "--top", "2")
    assert [row["word"] for row in result["top"]] == ["한국", "서울"]
    assert [row["count"] for row in result["top"]] == [12, 6]


def test_compare_naive_shows_the_old_split_beside(write, ko, words_json, cli):
    path = write("a.txt", ko["particles"])
    result, _ = words_json(path, "--compare-naive", "--top", "50")
    naive = counts(result["naive"])
    assert result["naive"]["analyzer"] == "whitespace split"
    # The old way sees four different "words" where Kiwi sees 한국 four times.
    assert {"한국의", "한국에서", "한국을", "한국은"} <= set(naive)
    assert "한국" not in naive
    code, out, _ = cli("words", path, "--compare-naive", "--top", "3")
    assert code == 0 and "naive" in out and "한국" in out


def test_default_and_user_stopwords(write, ko, words_json):
    text = "여행할 때 지도와 우산을 챙겼다. 비가 올 때 우산이 필요했다.\n"
    path = write("a.txt", text)
    default, _ = words_json(path)
    assert "때" not in counts(default) and counts(default)["우산"] == 2
    kept, _ = words_json(path, "--no-default-stopwords")
    assert counts(kept)["때"] == 2
    mine = write("stop.txt", "# my own list\n우산\n지도  # trailing comment\n")
    filtered, _ = words_json(path, "--stopwords", mine)
    assert not {"우산", "지도", "때"} & set(counts(filtered))
    assert "비" in counts(filtered)


def test_user_dictionary_keeps_names_whole(write, ko, words_json):
    path = write("jeju.txt", ko["jeju"])
    plain, _ = words_json(path, "--top", "50")
    assert "성산일출봉" not in counts(plain) and "한옥마을" not in counts(plain)
    user = write("user.dict", "# places\n성산일출봉\tNNP\t0\n한옥마을\tNNP\n\n")
    result, _ = words_json(path, "--user-dict", user, "--top", "50")
    found = counts(result)
    assert found["성산일출봉"] == 2 and found["한옥마을"] == 2
    assert "일출봉" not in found and "마을" not in found


def test_nouns_plus_verbs_count_dictionary_forms(write, ko, words_json):
    path = write("v.txt", ko["verbs"])
    nouns, _ = words_json(path, "--top", "50")
    assert "먹다" not in counts(nouns)
    result, _ = words_json(path, "--pos", "nouns+verbs", "--top", "50")
    found = counts(result)
    tags = {row["word"]: row["tag"] for row in result["top"]}
    assert found["먹다"] == 2 and tags["먹다"] == "VV"
    assert found["아름답다"] == 2 and tags["아름답다"] == "VA"  # 아름다웠다: an irregular (VA-I) stem
    assert found["국수"] == 2


def test_foreign_words_and_min_length(write, words_json):
    path = write("f.txt", "BTS 공연을 보러 서울에 갔다. BTS 노래를 들으며 산에 올랐다.\n")
    default, _ = words_json(path)
    assert "BTS" not in counts(default) and counts(default)["산"] == 1
    foreign, _ = words_json(path, "--foreign")
    assert counts(foreign)["BTS"] == 2
    longer, _ = words_json(path, "--min-length", "2")
    assert "산" not in counts(longer) and "서울" in counts(longer)


def test_several_files_are_several_documents(write, ko, words_json):
    a, b = write("a.txt", ko["particles"]), write("b.txt", ko["jeju"])
    result, _ = words_json(a, b, "--top", "100")
    assert result["documents"] == 2
    assert counts(result)["한국"] == 4 and counts(result)["제주도"] == 1


def test_cp949_file_with_encoding(write, ko, words_json):
    result, _ = words_json(write("cp.txt", ko["particles"], "cp949"), "--encoding", "cp949")
    assert counts(result)["한국"] == 4


def test_empty_input_gives_an_empty_result_and_a_note(write, words_json, cli):
    result, err = words_json(write("empty.txt", "\n  \n"))
    assert result["documents"] == 0 and result["total_tokens"] == 0 and result["top"] == []
    assert "nothing to count" in err
    code, _, err = cli("words", write("punct.txt", "... !!! ???\n"))
    assert code == 0 and "no words counted" in err


def test_one_document_is_one_document_and_the_note_names_flags_or_arguments(write, ko, cli):
    code, out, _ = cli("words", write("one.txt", ko["particles"].replace("\n", " ") + "\n"))
    assert code == 0 and "1 document · " in out and "1 documents" not in out
    code, _, err = cli("words", write("punct.txt", "... !!! ???\n"))
    assert code == 0 and "no words counted in 1 document:" in err
    assert "--min-length" in err and "--pos" in err and "min_length" not in err
    code, out, _ = cli("words", write("punct.txt", "... !!! ???\n"), "--json")
    assert code == 0 and "--min-length" in json.loads(out)["note"]  # the command line's --json too

    import hanprompt

    note = hanprompt.analyse_texts(["... !!! ???"]).note
    assert note.startswith("no words counted in 1 document:") and "min_length" in note and "--" not in note


def test_csv_output(write, ko, cli, tmp_path):
    out = tmp_path / "top.csv"
    code, _, err = cli("words", write("a.txt", ko["particles"]), "--compare-naive", "--top", "50", "--csv", out)
    assert code == 0, err
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    first = rows[0]
    assert (first["scope"], first["rank"], first["word"], first["count"]) == ("all", "1", "한국", "4")
    assert any(r["scope"] == "naive" and r["word"] == "한국의" for r in rows)


def test_stdin_in_a_real_process(ko):
    proc = subprocess.run(
        [sys.executable, "-m", "hanprompt", "words", "-", "--top", "1", "--json"],
        input=ko["particles"].encode(), capture_output=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b'"word": "\xed\x95\x9c\xea\xb5\xad"' in proc.stdout  # 한국 in UTF-8


def test_library_entry_point_on_texts(ko):
    from hanprompt.analysis.service import WordOptions, analyse_texts

    report = analyse_texts(iter([ko["particles"], "", ko["jeju"]]), WordOptions(top=3, naive=True))
    assert report.result["documents"] == 3
    assert report.result["top"][0] == {
        "word": "한국", "tag": "NNP", "count": 4, "share": report.result["top"][0]["share"]
    }
