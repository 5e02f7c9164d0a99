"""Exit codes as promised (unknown run ids, bad output paths, malformed database URLs) and private files."""
from __future__ import annotations

import os
import stat

import pytest

from hanprompt.errors import InputError
from hanprompt.outputs import writing


def _one_line_exit_2(result, *expected: str) -> str:
    code, out, err = result
    assert code == 2, (out, err)
    line = err.strip()
    assert "\n" not in line and line.startswith("hanprompt: error:") and "Traceback" not in err, err
    for text in expected:
        assert text in line, (text, line)
    return line


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    """The usual umask, under which files are created world-readable unless made private."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def one_ask(cli, tiny_model):
    code, _, err = cli("ask", "서울은 어때요?", "--model", tiny_model, "--max-new-tokens", "3")
    assert code == 0, err


@pytest.mark.parametrize("argv", [
    ["logs", "--run", "999"], ["logs", "--run", "999", "--json"], ["logs", "export", "--run", "999"],
    ["logs", "export", "--run", "999", "-o", "{tmp}/out.jsonl"], ["compare", "999"], ["compare", "999", "1"],
    ["translate", "--run", "999"], ["words", "--run", "999"], ["report", "999", "-o", "{tmp}/r.html"],
    ["run", "{tmp}/exp.yaml", "--resume", "999"],
])
def test_an_unknown_run_id_is_exit_2_everywhere(cli, one_ask, tmp_path, argv):
    (tmp_path / "exp.yaml").write_text("name: t\nvariants: [{id: v, prompt: hi}]\n", encoding="utf-8")
    before = sorted(os.listdir(tmp_path))
    _one_line_exit_2(cli(*[a.format(tmp=tmp_path) for a in argv]), "no run with id 999", "hanprompt runs")
    assert sorted(os.listdir(tmp_path)) == before


@pytest.mark.parametrize("argv, flag", [
    (["logs", "export", "-o", "{out}"], "-o"),
    (["logs", "export", "--format", "csv", "-o", "{out}"], "-o"),
    (["words", "{text}", "--csv", "{out}"], "--csv"),
    (["words", "{text}", "--chart", "{out}"], "--chart"),
    (["words", "{text}", "--cloud", "{out}"], "--cloud"),
    (["report", "-o", "{out}"], "-o"),
])
@pytest.mark.parametrize("where", ["folder", "missing folder"])
def test_an_output_path_that_is_a_folder_or_in_a_missing_folder_is_exit_2(cli, one_ask, tmp_path, argv, flag, where):
    text = tmp_path / "ko.txt"
    text.write_text("한국의 수도는 서울입니다.\n", encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder if where == "folder" else tmp_path / "missing" / "x.out"
    line = _one_line_exit_2(cli(*[a.format(out=out, text=text) for a in argv]), flag)
    assert ("is a folder" if where == "folder" else "does not exist") in line
    assert os.listdir(folder) == [] and sorted(os.listdir(tmp_path)) == ["home", "ko.txt", "out"]


def test_a_failed_write_leaves_neither_the_file_nor_a_partial_one(tmp_path):
    tmp_path = tmp_path / "exports"
    tmp_path.mkdir()
    target = tmp_path / "export.jsonl"
    with pytest.raises(RuntimeError):
        with writing(target, "-o") as fh:
            fh.write("half of it")
            raise RuntimeError("the database went away")
    assert os.listdir(tmp_path) == []
    target.write_text("the old export", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with writing(target, "-o") as fh:
            fh.write("half of the new one")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == ["export.jsonl"] and target.read_text(encoding="utf-8") == "the old export"
    with pytest.raises(InputError, match="is a folder"):
        with writing(tmp_path, "-o"):
            pass


@pytest.mark.parametrize("url, shown", [
    ("postgresql://h:notaport/x", "notaport"),
    ("postgresql://user:s3cret@h:notaport/x", "user:***@h"),
    ("postgresql://h:0/x", "port 0 is not from 1 to 65535"),
    ("postgresql://h:70000/x", "port 70000"),
    ("postgresql://[::1/x", "invalid database URL"),
    ("nonsense://", "invalid database URL"),
    ("", "--db is empty"),
])
def test_a_malformed_database_url_is_exit_2(cli, url, shown):
    for argv in (["logs"], ["runs"], ["logs", "export"]):
        line = _one_line_exit_2(cli(*argv, "--db", url), shown)
        assert "s3cret" not in line


def test_the_database_its_wal_and_shm_are_private(cli, tiny_model, hanprompt_home, umask_022, tmp_path):
    code, _, err = cli("ask", "hi", "--model", tiny_model, "--max-new-tokens", "2")
    assert code == 0, err
    files = {p.name: _mode(p) for p in hanprompt_home.iterdir()}
    assert files == {"hanprompt.db": 0o600, "hanprompt.db-wal": 0o600, "hanprompt.db-shm": 0o600}
    other = tmp_path / "other.db"
    assert cli("runs", "--db", f"sqlite:///{other}")[0] == 0
    assert _mode(other) == 0o600


def test_every_export_is_private(cli, one_ask, tmp_path, umask_022):
    text = tmp_path / "ko.txt"
    text.write_text("한국의 수도는 서울입니다. 서울에는 한강이 흐릅니다.\n", encoding="utf-8")
    old = tmp_path / "old.csv"
    old.write_text("an older export, world-readable", encoding="utf-8")
    os.chmod(old, 0o644)
    runs = [
        ["logs", "export", "-o", tmp_path / "all.jsonl"],
        ["logs", "export", "--format", "csv", "-o", old],
        ["words", text, "--csv", tmp_path / "words.csv", "--chart", tmp_path / "words.png"],
        ["report", "-o", tmp_path / "report.html"],
    ]
    for argv in runs:
        code, _, err = cli(*argv)
        assert code == 0, err
    for name in ("all.jsonl", "old.csv", "words.csv", "words.png", "report.html"):
        assert _mode(tmp_path / name) == 0o600, name
    assert old.read_text(encoding="utf-8-sig").startswith("id,")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
