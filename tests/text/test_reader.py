"""The one reader (hanprompt.textio): byte-order marks, UTF-16, --encoding, line ends, NFC."""
from __future__ import annotations

import io
import sys
import unicodedata

import pytest

from hanprompt.errors import InputError
from hanprompt.textio import csv_cell, iter_lines, nfc, read_text, split_lines

KO = "서울은 한국의 수도입니다.\n부산은 항구 도시예요.\n"
NFD = unicodedata.normalize("NFD", KO)


@pytest.fixture
def write(tmp_path):
    def _write(data: bytes, name: str = "in.txt"):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return _write


@pytest.mark.parametrize("data", [
    KO.encode("utf-8"),
    b"\xef\xbb\xbf" + KO.encode("utf-8"),
    KO.encode("utf-16"),  # with the platform's byte-order mark
    b"\xff\xfe" + KO.encode("utf-16-le"),
    b"\xfe\xff" + KO.encode("utf-16-be"),
    b"\xff\xfe\x00\x00" + KO.encode("utf-32-le"),
    KO.replace("\n", "\r\n").encode("utf-8"),
    NFD.encode("utf-8"),
], ids=["utf8", "utf8-bom", "utf16", "utf16le-bom", "utf16be-bom", "utf32le-bom", "crlf", "nfd"])
def test_every_form_of_the_same_text_reads_the_same(write, data):
    path = write(data)
    assert read_text(path) == KO
    assert list(iter_lines(path)) == ["서울은 한국의 수도입니다.", "부산은 항구 도시예요."]


def test_the_bom_is_never_part_of_the_first_line(write):
    lines = list(iter_lines(write(b"\xef\xbb\xbfThe museum is closed.\n")))
    assert lines == ["The museum is closed."] and not lines[0].startswith("\ufeff")


def test_other_encodings_need_encoding(write):
    path = write("한국의 수도\n".encode("cp949"))
    with pytest.raises(InputError) as e:
        read_text(path, what="--file", flag="--file")
    message = str(e.value)
    # the library names its argument (encoding=); the command line shows the flag (tests of the CLI)
    assert "not valid utf-8 text (line 1)" in message and "encoding=cp949" in message and "\n" not in message
    assert read_text(path, encoding="cp949") == "한국의 수도\n"
    assert list(iter_lines(path, encoding="euc-kr")) == ["한국의 수도"]


def test_the_line_of_bad_bytes_is_named(write):
    path = write("첫째\n둘째\n".encode("utf-8") + "셋째\n".encode("cp949"))
    with pytest.raises(InputError, match=r"\(line 3\)"):
        list(iter_lines(path))
    with pytest.raises(InputError, match=r"\(line 3\)"):
        read_text(path)


@pytest.mark.parametrize("encoding", ["klingon-8", "base64"])
def test_unknown_or_non_text_codecs_are_refused_with_the_hint(write, encoding):
    with pytest.raises(InputError, match="pass encoding=utf-8, cp949"):
        read_text(write(b"x"), encoding=encoding)


def test_an_explicit_wrong_encoding_names_it(write):
    with pytest.raises(InputError, match=r"not valid ascii text.*with encoding \("):
        read_text(write("한국".encode()), encoding="ascii")


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\r"])
def test_only_newline_and_crlf_end_a_line(write, sep):
    text = f"a{sep}b\nc\r\nd"
    assert split_lines(text) == [f"a{sep}b", "c", "d"]
    assert list(iter_lines(write(text.encode()))) == [f"a{sep}b", "c", "d"]


@pytest.mark.parametrize("text, lines", [
    ("", []),
    ("a", ["a"]),
    ("a\n", ["a"]),
    ("a\n\n", ["a", ""]),
    ("\na\n", ["", "a"]),
    ("a\r\n\r\n", ["a", ""]),
    ("\n", [""]),
])
def test_a_final_newline_adds_no_line(write, text, lines):
    assert split_lines(text) == lines
    assert list(iter_lines(write(text.encode()))) == lines


def test_long_files_are_read_across_chunks(write):
    line = "가나다라마바사 " * 40  # multi-byte characters cut by the 64 KiB chunks
    text = "\n".join([line] * 2000)
    assert list(iter_lines(write(text.encode()))) == [line] * 2000
    assert list(iter_lines(write(b"\xff\xfe" + text.encode("utf-16-le")))) == [line] * 2000


def test_stdin_is_read_as_bytes_with_the_same_rules(monkeypatch):
    raw = io.BytesIO(b"\xef\xbb\xbf" + NFD.encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw))
    assert list(iter_lines("-")) == ["서울은 한국의 수도입니다.", "부산은 항구 도시예요."]


def test_missing_files_and_folders_name_the_flag(tmp_path):
    with pytest.raises(InputError, match="does not exist; check the path given to --references"):
        read_text(tmp_path / "nope.txt", what="references", flag="--references")
    with pytest.raises(InputError, match="is a folder"):
        read_text(tmp_path, flag="--file")


def test_nfc_composes_hangul():
    assert nfc(unicodedata.normalize("NFD", "한국")) == "한국" and len(nfc("한국")) == 2


@pytest.mark.parametrize("value, cell", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("+82 10", "'+82 10"),
    ("-1+1", "'-1+1"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("할인율은 10%", "할인율은 10%"),
    ("a=b", "a=b"),
    (-1.5, -1.5),
    (3, 3),
    (None, None),
])
def test_csv_cells_that_would_be_formulas_are_prefixed(value, cell):
    assert csv_cell(value) == cell
