"""translate --file / --references through the one reader: BOM, UTF-16, --encoding, line ends, NFC."""
from __future__ import annotations

import json
import unicodedata

import pytest

from hanprompt.translate.service import read_lines, score

REFS = ["박물관은 월요일에 문을 닫습니다.", "서울은 한국의 수도입니다."]


def test_a_bom_in_references_still_scores_100_against_itself(tmp_path):
    path = tmp_path / "ref.ko"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(REFS).encode() + b"\n")
    refs = read_lines(path, "--references")
    assert refs == REFS
    assert score(REFS, refs)["chrf"] == pytest.approx(100.0)


def test_nfd_hypotheses_score_like_nfc():
    nfd = [unicodedata.normalize("NFD", r) for r in REFS]
    assert score(nfd, REFS)["chrf"] == pytest.approx(100.0)


@pytest.mark.parametrize("data, lines", [
    (b"a\n\n", ["a", ""]),  # an empty last line is a line, like an empty first one
    (b"\na\n", ["", "a"]),
    (b"a\r\nb", ["a", "b"]),
    ("a\u2028b\n".encode(), ["a\u2028b"]),
])
def test_lines_are_counted_alike_at_both_ends(tmp_path, data, lines):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    assert read_lines(path) == lines


def test_translate_file_with_a_bom_sends_and_stores_no_bom(cli, tiny_marian, default_engine, tmp_path):
    from hanprompt.store.translations import list_translations

    src = tmp_path / "src.en"
    src.write_bytes(b"\xef\xbb\xbfThe museum is closed on Mondays.\nSeoul is big.\n")
    code, out, err = cli("translate", "--file", src, "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [r["source"] for r in rows] == ["The museum is closed on Mondays.", "Seoul is big."]
    stored = list_translations(default_engine, run_id=rows[0]["run_id"])
    assert not any(r["source"].startswith("\ufeff") for r in stored)


def test_references_with_an_empty_last_line_match_a_two_line_source(cli, tiny_marian, tmp_path):
    src, ref = tmp_path / "src.en", tmp_path / "ref.ko"
    src.write_text("Hello.\nGood night.\n", encoding="utf-8")
    ref.write_text("안녕하세요.\n\n", encoding="utf-8")
    code, out, err = cli("translate", "--file", src, "--references", ref, "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["segments"] == 2


def test_encoding_option_reads_legacy_files(cli, tiny_marian, tmp_path, count_rows):
    src, ref = tmp_path / "src.en", tmp_path / "ref.ko"
    src.write_text("Hello.\n", encoding="utf-8")
    ref.write_bytes("안녕하세요.\n".encode("cp949"))
    code, _, err = cli("translate", "--file", src, "--references", ref, "-t", f"mt:{tiny_marian}")
    assert code == 2 and count_rows("runs") == 0
    line = err.strip()
    assert "\n" not in line and "ref.ko is not valid utf-8 text (line 1)" in line and "--encoding" in line
    code, out, err = cli("translate", "--file", src, "--references", ref, "--encoding", "cp949",
                         "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    code, _, err = cli("translate", "--file", src, "--encoding", "klingon-8", "-t", f"mt:{tiny_marian}")
    assert code == 2 and "unknown encoding 'klingon-8'" in err and "--encoding" in err


def test_file_from_stdin(cli, tiny_marian, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\ufeffHello.\nBye.\n".encode())))
    code, out, err = cli("translate", "--file", "-", "-t", f"mt:{tiny_marian}", "--json")
    assert code == 0, err
    assert [r["source"] for r in json.loads(out)] == ["Hello.", "Bye."]
