"""Bad input to `hanprompt words`: one line naming the problem and the fix, exit 2, nothing stored."""
from __future__ import annotations

import pytest


def fails(cli, *args) -> str:
    code, out, err = cli("words", *args)
    assert code == 2, (out, err)
    assert out == ""
    line = err.strip()
    assert "\n" not in line and line.startswith("hanprompt: error:"), err
    assert "Traceback" not in err
    return line


def test_missing_file_and_folder(cli, tmp_path):
    assert "no such file" in fails(cli, tmp_path / "nope.txt")
    assert "is a folder" in fails(cli, tmp_path)


def test_non_utf8_file_says_to_pass_encoding(cli, write, ko):
    line = fails(cli, write("cp949.txt", ko["particles"], "cp949"))
    assert "cp949.txt" in line and "--encoding" in line and "cp949" in line


def test_unknown_encoding(cli, write, ko):
    assert "unknown encoding" in fails(cli, write("a.txt", ko["particles"]), "--encoding", "klingon-8")


@pytest.mark.parametrize(
    "content, line_no, words",
    [
        ("# places\n성산일출봉\tNNP\t0\n한옥마을 NNP 0\n", 3, ["form<TAB>tag<TAB>score"]),
        ("성산일출봉\tNNP\n한옥마을\tXYZ\t0\n", 2, ["XYZ", "NNP"]),
        ("성산일출봉\tNNP\thigh\n", 1, ["score", "number"]),
    ],
)
def test_invalid_user_dictionary_line_names_its_number(cli, write, ko, content, line_no, words):
    line = fails(cli, write("a.txt", ko["jeju"]), "--user-dict", write("user.dict", content))
    assert f"line {line_no}" in line and "user.dict" in line
    for word in words:
        assert word in line


def test_missing_user_dictionary_and_stopwords(cli, write, ko, tmp_path):
    text = write("a.txt", ko["jeju"])
    assert "--user-dict" in fails(cli, text, "--user-dict", tmp_path / "none.dict")
    assert "--stopwords" in fails(cli, text, "--stopwords", tmp_path / "none.txt")


def test_unknown_run_and_experiment_write_nothing(cli, hanprompt_home):
    from sqlalchemy import func, select

    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.schema import analyses, runs

    assert "no run with id 999" in fails(cli, "--run", "999")
    assert "runs --kind experiment" in fails(cli, "--experiment", "nope")
    with open_engine(settings.db_url()).connect() as conn:
        assert conn.execute(select(func.count()).select_from(runs)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(analyses)).scalar() == 0


def test_option_mistakes(cli, write, ko, tmp_path):
    text = write("a.txt", ko["particles"])
    assert "--run" in fails(cli)
    assert "not both" in fails(cli, text, "--all")
    assert "--by needs stored texts" in fails(cli, text, "--by", "model")
    assert "--field translation" in fails(cli, text, "--field", "translation")
    assert "--top must be 1 or more" in fails(cli, text, "--top", "0")
    assert "--min-length" in fails(cli, text, "--min-length", "0")
    assert "does not exist" in fails(cli, text, "--chart", tmp_path / "no" / "top.png")
