"""logs export: CSV that a Korean spreadsheet opens right (BOM, inert formulas); JSONL byte-faithful."""
from __future__ import annotations

import csv
import io
import json
import unicodedata

RESPONSES = [
    '=HYPERLINK("http://example.com","click")',
    "@SUM(A1:A2)",
    "+82 10 1234",
    "-2+3",
    "\tindented",
    "\rreturn",
    "할인율은 10%입니다.",
    unicodedata.normalize("NFD", "서울은 크다"),
    "a = b, not a formula",
]


def _fill() -> None:
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation, create_run

    engine = open_engine(settings.db_url())
    run_id = create_run(engine, name="csv", kind="experiment")
    with engine.begin() as conn:
        for text in RESPONSES:
            add_generation(conn, run_id, {"model": "hf:/m", "backend": "hf", "prompt": "=1+1", "response": text,
                                          "output_tokens": 3, "ttft_s": -0.0})


def test_csv_has_a_bom_and_inert_formulas(cli, tmp_path):
    _fill()
    target = tmp_path / "out.csv"
    code, _, err = cli("logs", "export", "--format", "csv", "-o", target)
    assert code == 0, err
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfid,run_id,")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    got = [r["response"] for r in reversed(rows)]
    assert got == [
        '\'=HYPERLINK("http://example.com","click")', "'@SUM(A1:A2)", "'+82 10 1234", "'-2+3", "'\tindented",
        "'\rreturn", "할인율은 10%입니다.", unicodedata.normalize("NFD", "서울은 크다"), "a = b, not a formula",
    ]
    assert {r["prompt"] for r in rows} == {"'=1+1"}
    assert {r["output_tokens"] for r in rows} == {"3"}  # numbers stay numbers


def test_csv_on_stdout_has_the_bom_too(cli):
    _fill()
    code, out, err = cli("logs", "export", "--format", "csv")
    assert code == 0 and out.startswith("\ufeffid,"), err


def test_jsonl_is_byte_faithful(cli, tmp_path):
    _fill()
    target = tmp_path / "out.jsonl"
    assert cli("logs", "export", "--format", "jsonl", "-o", target)[0] == 0
    data = target.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = [json.loads(line) for line in data.decode("utf-8").splitlines()]
    assert [r["response"] for r in reversed(rows)] == RESPONSES
    assert {r["prompt"] for r in rows} == {"=1+1"}


def test_words_csv_cells_are_inert_too(tmp_path):
    from hanprompt.analysis.export import write_csv

    result = {"top": [{"word": "=cmd", "tag": "SL", "count": 2, "share": 0.5},
                      {"word": "서울", "tag": "NNP", "count": 2, "share": 0.5}]}
    path = write_csv(result, tmp_path / "w.csv")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    assert [r["word"] for r in rows] == ["'=cmd", "서울"]
