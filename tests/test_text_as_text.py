"""Stored and user-supplied text prints as text: never read as rich markup, control characters shown.

Llama-2 and Mistral answers routinely hold ``[/INST]``; a stored answer may hold terminal escape
sequences. Every command that shows them must print them visibly and exit 0, while the database
and ``--json`` keep them byte for byte.
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from hanprompt.cli.common import visible

#: an answer as a model might give it: markup-like tags, an SGR colour, an OSC title, a C1 CSI, CR, NUL
HOSTILE = "[/INST] 서울 [bold]is[/] \x1b[31mred\x1b[0m \x1b]0;owned\x07 \x9b2J \rback\x00 [/x]"
VARIANT = "v[/x]\x1b[2J"


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # long cells are not folded, so each string stays whole


def _assert_shown(out: str, err: str, *expected: str) -> None:
    assert "\x1b" not in out + err and "\x9b" not in out + err and "\x07" not in out + err
    assert "\r" not in out + err and "\x00" not in out + err
    for text in expected:
        assert text in out, (text, out)


@pytest.fixture
def hostile_run(cli, tmp_path, tiny_model, hanprompt_home):
    """An experiment run whose name, variant, prompt and stored answers hold hostile text."""
    spec = tmp_path / "exp.yaml"
    spec.write_text(
        'name: "evil [/INST] \\e]0;title\\a"\n'
        "params: {max_new_tokens: 2, temperature: 0}\n"
        "variants:\n"
        f'  - id: "{VARIANT.replace(chr(27), chr(92) + "e")}"\n'
        '    prompt: "say [/INST] \\e[2J please"\n',
        encoding="utf-8",
    )
    code, out, err = cli("run", spec, "-m", tiny_model)
    assert code == 0, err
    _assert_shown(out, err, "evil [/INST]", visible(VARIANT))
    with sqlite3.connect(hanprompt_home / "hanprompt.db") as conn:
        conn.execute("UPDATE generations SET response = ?", (HOSTILE,))
        (run_id,) = conn.execute("SELECT id FROM runs").fetchone()
        (gen_id,) = conn.execute("SELECT id FROM generations").fetchone()
    return run_id, gen_id


def test_logs_runs_and_compare_print_hostile_text_visibly(cli, hostile_run):
    run_id, gen_id = hostile_run
    shown = visible(HOSTILE)
    code, out, err = cli("logs")
    assert code == 0, err
    _assert_shown(out, err, "[/INST] 서울 [bold]is[/]", "\\x1b[31mred")
    code, out, err = cli("logs", "--run", run_id)
    assert code == 0, err
    _assert_shown(out, err, "[/INST]")
    code, out, err = cli("logs", "show", gen_id)
    assert code == 0, err
    _assert_shown(out, err, shown, "say [/INST] \\x1b[2J please")
    code, out, err = cli("runs")
    assert code == 0, err
    _assert_shown(out, err, "evil [/INST] \\x1b]0;title\\x07")
    code, out, err = cli("compare", run_id)
    assert code == 0, err
    _assert_shown(out, err, "[/INST] 서울 [bold]is[/]", visible(VARIANT))
    code, out, err = cli("compare", run_id, run_id)
    assert code == 0, err
    _assert_shown(out, err, visible(VARIANT))


def test_json_and_exports_keep_the_text_intact(cli, hostile_run, tmp_path):
    run_id, gen_id = hostile_run
    code, out, _ = cli("logs", "--json")
    assert code == 0 and json.loads(out)[0]["response"] == HOSTILE
    code, out, _ = cli("logs", "show", gen_id, "--json")
    assert code == 0 and json.loads(out)["response"] == HOSTILE
    code, out, _ = cli("compare", run_id, "--json")
    assert code == 0 and json.loads(out)["results"][0]["response"] == HOSTILE
    assert cli("logs", "export", "-o", tmp_path / "out.jsonl")[0] == 0
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["response"] == HOSTILE


def test_words_by_variant_prints_the_group_names_visibly(cli, hostile_run):
    run_id, _ = hostile_run
    code, out, err = cli("words", "--run", run_id, "--by", "variant", "--foreign")
    assert code == 0, err
    _assert_shown(out, err, f"variant: {visible(VARIANT)}", "서울")


def test_ask_streams_and_reports_visibly(cli, tiny_model, tmp_path):
    from shutil import copytree

    odd = copytree(tiny_model, tmp_path / "model [/x]")  # a model path that looks like markup
    code, out, err = cli("ask", "[/INST] \x1b[2J", "--model", odd, "--max-new-tokens", "3")
    assert code == 0, err
    _assert_shown(out, err)
    assert "model [/x]" in err


def test_translate_printers_show_control_characters():
    from hanprompt.cli.translate import comparison_table

    table = comparison_table([{"chrf": 1.0, "bleu": 2.0, "hangul_share": 0.5, "segments_per_s": 3.0,
                               "segments": 1, "translator": "mt:/m/\x1b[2J[/x]"}])
    assert "mt:/m/\\x1b[2J[/x]" in table and "\x1b" not in table


def test_translate_output_is_visible(cli, tiny_model, capsys):
    from types import SimpleNamespace

    from hanprompt.cli.translate import _print_rows

    rows = [{"translator": "llm:[b]x\x1b", "translation": HOSTILE, "seconds": 0.1}] * 2
    rows.append({"translator": "mt:other", "translation": "둘째 줄\n\t들여쓰기", "seconds": 0.1})
    assert _print_rows(SimpleNamespace(json=False), rows, 7) == 0
    out, err = capsys.readouterr()
    _assert_shown(out, err, visible(HOSTILE), "== llm:[b]x\\x1b", "둘째 줄\n\t들여쓰기")


@pytest.mark.parametrize("argv", [["ask", "hi", "--model", "/no/such\nmodel\x1b[2J"],
                                  ["logs", "--model", "x", "--limit", "1\x1b"],
                                  ["run", "/no/such/\x1b]0;t\x07.yaml"]])
def test_error_lines_stay_one_line_and_show_control_characters(cli, argv):
    code, out, err = cli(*argv)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "\x1b" not in err and "\x07" not in err
