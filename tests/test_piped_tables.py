"""With stdout piped, tables neither wrap nor cut ids, timestamps, model specs and names."""
from __future__ import annotations

import os
import re
import subprocess
import sys

LONG_MODEL = "hf:/srv/models/" + "/".join(["a-rather-long-folder-name"] * 6) + "/Qwen2.5-0.5B-Instruct-final"
LONG_NAME = "a run whose name is long enough to be cut in any terminal: " + "서울 부산 대구 " * 12


def _fill(home) -> None:
    env = dict(os.environ, HANPROMPT_HOME=str(home))
    code = (
        "from hanprompt import settings\n"
        "from hanprompt.store import open_engine\n"
        "from hanprompt.store.runs import add_generation, create_run\n"
        "e = open_engine(settings.db_url())\n"
        f"r = create_run(e, name={LONG_NAME!r}, kind='experiment')\n"
        "with e.begin() as c:\n"
        "    for i in range(3):\n"
        f"        add_generation(c, r, {{'model': {LONG_MODEL!r}, 'backend': 'hf', 'prompt': 'p', "
        "'response': 'line one\\nline two ' * 20, 'output_tokens': 5, 'tokens_per_s': 1.0})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def _piped(home, *args) -> list[str]:
    env = dict(os.environ, HANPROMPT_HOME=str(home), COLUMNS="80")
    proc = subprocess.run([sys.executable, "-m", "hanprompt", *args], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_logs_rows_stay_whole_and_on_one_line(hanprompt_home):
    _fill(hanprompt_home)
    header, *rows = _piped(hanprompt_home, "logs")
    assert header.split() == ["id", "run", "model", "prompt", "response", "out", "tok/s", "when"]
    assert len(rows) == 3
    for row in rows:
        assert LONG_MODEL in row
        assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", row.rstrip())


def test_runs_rows_keep_the_name_whole(hanprompt_home):
    _fill(hanprompt_home)
    header, *rows = _piped(hanprompt_home, "runs")
    assert len(rows) == 1 and LONG_NAME.strip() in rows[0] and rows[0].split()[0] == "1"


def test_experiment_tables_show_the_whole_model_spec(cli, tmp_path, tiny_model):
    path = tmp_path / "exp.yaml"
    path.write_text("params: {max_new_tokens: 3, temperature: 0}\nvariants:\n  - {id: v0, prompt: hi}\n",
                    encoding="utf-8")
    assert len(str(tiny_model)) > 28  # what a terminal column would cut
    code, out, err = cli("run", path, "--model", tiny_model)  # the in-process stdout is not a terminal
    assert code == 0, err
    assert str(tiny_model) in out
    code, out, err = cli("compare", "1")
    assert code == 0 and str(tiny_model) in out, err


def test_table_titles_stay_on_one_line(hanprompt_home, tmp_path):
    text = tmp_path / "k.txt"
    text.write_text("서울은 한국의 수도입니다. 서울에는 경복궁이 있습니다.\n", encoding="utf-8")
    lines = _piped(hanprompt_home, "words", str(text))
    title = next(line for line in lines if "1 document" in line)
    assert "words counted" in title and "kiwipiepy" in title and "(nouns)" in title, lines[:4]
