"""Every bad input named in the README, the guides in docs/ and the issues, fed to the CLI against a log that holds data.

Each must end with exit code 2 and one line on stderr, print nothing on stdout, and leave every
table's row count as it was (nothing stored, lost, doubled or half-written).
"""
from __future__ import annotations

import os
import shutil
import sqlite3

import pytest

LONG_PROMPT = "word " * 1500  # over 1,024 tokens: the tiny model's whole context

#: experiment files, by name (written next to each test)
FILES = {
    "ok.yaml": "name: ok\nparams: {max_new_tokens: 2, temperature: 0}\nvariants:\n  - {id: v, prompt: hi}\n",
    "styel.yaml": "name: t\nvariants:\n  - id: v\n    styel: brief\n    task: hi\n",
    "huge-max-new-tokens.yaml": "name: t\nparams: {max_new_tokens: 1e20}\nvariants:\n  - {id: v, prompt: hi}\n",
    "float-max-new-tokens.yaml": "name: t\nparams: {max_new_tokens: 1.0e+20}\nvariants:\n  - {id: v, prompt: hi}\n",
    "over-context.yaml": "name: t\nparams: {max_new_tokens: 2000}\nvariants:\n  - {id: v, prompt: hi}\n",
    "inf-temperature.yaml": "name: t\nparams: {temperature: .inf}\nvariants:\n  - {id: v, prompt: hi}\n",
    "big-seed.yaml": "name: t\nparams: {seed: 99999999999999999999999}\nvariants:\n  - {id: v, prompt: hi}\n",
    "repeat.yaml": "name: t\nrepeat: 1000000000\nvariants:\n  - {id: v, prompt: hi}\n",
    "long-prompt.yaml": f"name: t\nparams: {{max_new_tokens: 4}}\nvariants:\n  - {{id: v, prompt: '{LONG_PROMPT}'}}\n",
    "undeclared.yaml": "name: t\nvariants:\n  - {id: v, prompt: '{{ nope }}'}\n",
    "template-1mb.yaml": "name: t\nvariants:\n  - {id: v, prompt: \"{{ 'x' * 300000000 }}\"}\n",
    "empty-value.yaml": "name: t\nvariants:\n  - {id: v, prompt: }\n",
    "deep.yaml": "name: t\nvars:\n  x: " + "[" * 150 + "1" + "]" * 150 + "\nvariants:\n  - {id: v, prompt: hi}\n",
    "bomb.yaml": "name: t\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                 + "".join(f"  b{i}: &b{i} [{', '.join(['*' + ('a' if i == 1 else f'b{i - 1}')] * 10)}]\n"
                           for i in range(1, 9))
                 + "variants:\n  - {id: v, prompt: hi}\n",
    "no-python-file.yaml": "name: t\nchecks: [{python: nofile.py:f}]\nvariants:\n  - {id: v, prompt: hi}\n",
    "threshold.yaml": "name: t\nchecks: [{contains: x, threshold: 2}]\nvariants:\n  - {id: v, prompt: hi}\n",
    "raw-escape.yaml": "name: t\nvariants:\n  - {id: v, prompt: \"red \x1b[31m text\"}\n",
    "cp949.yaml": None,  # written in cp949 below
}

ASK = ["ask", "What is the capital of England?"]
CASES = [
    # ask: the model
    ("model path missing", ASK + ["-m", "/no/such/model"], {}, "does not exist"),
    ("folder that is not a model", ASK + ["-m", "{empty}"], {}, "not a model folder"),
    ("--device cuda without CUDA", ASK + ["-m", "{model}", "--device", "cuda"], {}, "CUDA is not available"),
    ("--dtype float16 on CPU", ASK + ["-m", "{model}", "--dtype", "float16"], {}, "float16 on CPU"),
    ("unknown backend prefix", ASK + ["-m", "gguff:{model}"], {}, "unknown backend prefix"),
    ('--model ""', ASK + ["--model", ""], {}, "empty model spec"),
    ("hub model neither cached nor downloadable", ASK + ["-m", "hanprompt-test/no-such-model"],
     {"HF_HUB_OFFLINE": "1"}, "hf download hanprompt-test/no-such-model"),
    ("not a hub id", ASK + ["-m", "no such/model name"], {}, "nor a valid hub id"),
    # ask: the prompt and the parameters
    ("empty prompt", ["ask", "  ", "-m", "{model}"], {}, "prompt is empty"),
    ("--max-new-tokens 0", ASK + ["-m", "{model}", "--max-new-tokens", "0"], {}, "--max-new-tokens must be"),
    ("--max-new-tokens 10^23", ASK + ["-m", "{model}", "--max-new-tokens", "99999999999999999999999"], {},
     "1,000,000"),
    ("--max-new-tokens beyond the context", ASK + ["-m", "{model}", "--max-new-tokens", "5000"], {},
     "1,024-token context"),
    ("--max-new-tokens not a number", ASK + ["-m", "{model}", "--max-new-tokens", "1e20"], {}, "invalid int"),
    ("--temperature inf", ASK + ["-m", "{model}", "--temperature", "inf"], {}, "from 0 (greedy) to 10"),
    ("--temperature nan", ASK + ["-m", "{model}", "--temperature", "nan"], {}, "from 0 (greedy) to 10"),
    ("--temperature 11", ASK + ["-m", "{model}", "--temperature", "11"], {}, "from 0 (greedy) to 10"),
    ("--top-p 0", ASK + ["-m", "{model}", "--top-p", "0"], {}, "above 0 and at most 1"),
    ("--top-p 1.5", ASK + ["-m", "{model}", "--top-p", "1.5"], {}, "above 0 and at most 1"),
    ("--seed 10^23", ASK + ["-m", "{model}", "--seed", "99999999999999999999999"], {}, "9,223,372,036,854,775,807"),
    ("--seed -1", ASK + ["-m", "{model}", "--seed", "-1"], {}, "9,223,372,036,854,775,807"),
    ("prompt longer than the context", ["ask", LONG_PROMPT, "-m", "{model}", "--max-new-tokens", "8"], {},
     "exceeds the 1,024-token context"),
    ("--truncate middle", ASK + ["-m", "{model}", "--truncate", "middle"], {}, "invalid choice"),
    # the log
    ("malformed database URL", ASK + ["-m", "{model}", "--db", "postgresql://h:notaport/x"], {}, "notaport"),
    ("database port out of range", ["runs", "--db", "postgresql://h:70000/x"], {}, "port 70000"),
    ("invalid database URL", ["logs", "--db", "nonsense://"], {}, "invalid database URL"),
    ("unreachable database", ["logs", "--db", "postgresql://nobody@127.0.0.1:1/x"], {}, "cannot reach database"),
    ('--db ""', ["logs", "--db", ""], {}, "--db is empty"),
    ("database in a missing folder", ["runs", "--db", "sqlite:///{tmp}/missing/x.db"], {}, "does not exist"),
    ("HANPROMPT_HOME is a file", ["logs"], {"HANPROMPT_HOME": "{tmp}/ok.yaml"}, "is a file"),
    ("HANPROMPT_HOME under a file", ASK + ["-m", "{model}"], {"HANPROMPT_HOME": "{tmp}/ok.yaml/home"},
     "cannot create HANPROMPT_HOME"),
    ("logs --run unknown", ["logs", "--run", "999"], {}, "no run with id 999"),
    ("logs export --run unknown", ["logs", "export", "--run", "999"], {}, "no run with id 999"),
    ("logs export -o a folder", ["logs", "export", "-o", "{tmp}"], {}, "is a folder"),
    ("logs export -o in a missing folder", ["logs", "export", "-o", "{tmp}/missing/x.jsonl"], {}, "does not exist"),
    ("logs show unknown", ["logs", "show", "999"], {}, "no generation with id 999"),
    ("logs rm unknown", ["logs", "rm", "999"], {}, "no generation with id 999"),
    ("logs --limit -1", ["logs", "--limit", "-1"], {}, "--limit"),
    ("runs --limit -1", ["runs", "--limit", "-1"], {}, "--limit"),
    # experiments
    ("missing experiment file", ["run", "{tmp}/nope.yaml", "-m", "{model}"], {}, "does not exist"),
    ("unknown key", ["run", "{tmp}/styel.yaml", "-m", "{model}"], {}, "did you mean 'style'"),
    ("max_new_tokens: 1e20", ["run", "{tmp}/huge-max-new-tokens.yaml", "-m", "{model}"], {}, "max_new_tokens"),
    ("max_new_tokens: 1.0e+20", ["run", "{tmp}/float-max-new-tokens.yaml", "-m", "{model}"], {}, "max_new_tokens"),
    ("max_new_tokens beyond the context", ["run", "{tmp}/over-context.yaml", "-m", "{model}"], {}, "1,024-token"),
    ("temperature: .inf", ["run", "{tmp}/inf-temperature.yaml", "-m", "{model}"], {}, "temperature"),
    ("seed: 10^23", ["run", "{tmp}/big-seed.yaml", "-m", "{model}"], {}, "seed"),
    ("repeat: 10^9", ["run", "{tmp}/repeat.yaml", "-m", "{model}"], {}, "repeat"),
    ("--repeat 10^9", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--repeat", "1000000000"], {}, "1 to 10,000"),
    ("--repeat 0", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--repeat", "0"], {}, "1 to 10,000"),
    ("--max-concurrency 1025", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--max-concurrency", "1025"], {},
     "1 to 1,024"),
    ("--max-concurrency 0", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--max-concurrency", "0"], {}, "1 to 1,024"),
    ("prompt longer than the context in a file", ["run", "{tmp}/long-prompt.yaml", "-m", "{model}"], {},
     "exceeds the 1,024-token context"),
    ("undeclared template variable", ["run", "{tmp}/undeclared.yaml", "-m", "{model}"], {}, "nope"),
    ("template value over 1 MB", ["run", "{tmp}/template-1mb.yaml", "-m", "{model}"], {}, "1 MB"),
    ("empty YAML value", ["run", "{tmp}/empty-value.yaml", "-m", "{model}"], {}, "empty value"),
    ("YAML nested 150 deep", ["run", "{tmp}/deep.yaml", "-m", "{model}"], {}, "100"),
    ("YAML alias bomb", ["run", "{tmp}/bomb.yaml", "-m", "{model}"], {}, "100,000"),
    ("raw control character in YAML", ["run", "{tmp}/raw-escape.yaml", "-m", "{model}"], {}, "raw-escape.yaml:3: the file holds the control character \\x1b"),
    ("runs --kind unknown", ["runs", "--kind", "nosuch"], {}, "invalid choice"),
    ("missing python check file", ["run", "{tmp}/no-python-file.yaml", "-m", "{model}"], {}, "does not exist"),
    ("threshold outside 0-1", ["run", "{tmp}/threshold.yaml", "-m", "{model}"], {}, "threshold"),
    ("experiment file not UTF-8", ["run", "{tmp}/cp949.yaml", "-m", "{model}"], {}, "--encoding"),
    ("--resume unknown", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--resume", "999"], {}, "no run with id 999"),
    ("--resume of a run that is not an experiment", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--resume", "1"], {},
     "not an experiment"),
    ("--resume with another matrix", ["run", "{tmp}/ok.yaml", "-m", "{model}", "--repeat", "3", "--resume", "2"],
     {}, "does not expand to the matrix"),
    ("compare unknown", ["compare", "999"], {}, "no run with id 999"),
    ("compare unknown second", ["compare", "2", "999"], {}, "no run with id 999"),
    # translation
    ("unknown language", ["translate", "Hello.", "--to", "xx-nope"], {}, "xx-nope"),
    ("same languages", ["translate", "Hello.", "--from", "ko", "--to", "ko"], {}, "both"),
    ("empty text", ["translate", "  "], {}, "empty"),
    ("translate --run unknown", ["translate", "--run", "999"], {}, "no run with id 999"),
    ("translate file not UTF-8", ["translate", "--file", "{tmp}/cp949.yaml"], {}, "--encoding"),
    ("translate missing file", ["translate", "--file", "{tmp}/nope.txt"], {}, "does not exist"),
    ("uncached MT model", ["translate", "Hello.", "-t", "mt:hanprompt-test/no-such-mt"], {"HF_HUB_OFFLINE": "1"},
     "hf download hanprompt-test/no-such-mt"),
    ("ct2 hub id", ["translate", "Hello.", "-t", "ct2:hanprompt-test/no-such-mt"], {}, "ct2-transformers-converter"),
    ("unknown translator prefix", ["translate", "Hello.", "-t", "xx:y"], {}, "--translator"),
    ("--batch-size 0", ["translate", "Hello.", "--batch-size", "0"], {}, "--batch-size"),
    # Korean words
    ("words --run unknown", ["words", "--run", "999"], {}, "no run with id 999"),
    ("words file not UTF-8", ["words", "{tmp}/cp949.yaml"], {}, "--encoding"),
    ("words missing file", ["words", "{tmp}/nope.txt"], {}, "no such file"),
    ("words unknown encoding", ["words", "{tmp}/ok.yaml", "--encoding", "klingon-8"], {}, "unknown encoding"),
    ("words --csv a folder", ["words", "{tmp}/ok.yaml", "--csv", "{tmp}"], {}, "is a folder"),
    ("words --chart in a missing folder", ["words", "{tmp}/ok.yaml", "--chart", "{tmp}/missing/c.png"], {},
     "does not exist"),
    # reports
    ("report unknown run", ["report", "999", "-o", "{tmp}/r.html"], {}, "no run with id 999"),
    ("report -o a folder", ["report", "-o", "{tmp}"], {}, "is a folder"),
]


def _counts(db) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture(scope="module")
def seeded_log(tmp_path_factory, tiny_model):
    """A log holding an ask (run 1) and an experiment (run 2), copied into each test's home."""
    from hanprompt.cli import main
    from hanprompt.store import db as store_db

    folder = tmp_path_factory.mktemp("seed")
    path = folder / "hanprompt.db"
    spec = folder / "ok.yaml"
    spec.write_text(FILES["ok.yaml"], encoding="utf-8")
    url = f"sqlite:///{path}"
    assert main(["ask", "hi", "-m", str(tiny_model), "--max-new-tokens", "2", "--db", url, "--json"]) == 0
    assert main(["run", str(spec), "-m", str(tiny_model), "--db", url, "--json"]) == 0
    store_db._engines.pop(url).dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.mark.parametrize("name, argv, env, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(cli, monkeypatch, tmp_path, hanprompt_home, seeded_log,
                                                          tiny_model, name, argv, env, expected):
    import torch

    if "--device" in argv and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    db = hanprompt_home / "hanprompt.db"
    shutil.copy(seeded_log, db)
    before = _counts(db)
    assert before["runs"] == 2 and before["generations"] == 2
    for file, text in FILES.items():
        if text is not None:
            (tmp_path / file).write_text(text, encoding="utf-8")
    (tmp_path / "cp949.yaml").write_bytes("name: 한국\nvariants:\n  - {id: v, prompt: 서울}\n".encode("cp949"))
    (tmp_path / "empty").mkdir()
    files_before = sorted(os.listdir(tmp_path))
    fill = lambda s: s.format(tmp=tmp_path, model=tiny_model, empty=tmp_path / "empty")  # noqa: E731
    for key, value in env.items():
        monkeypatch.setenv(key, fill(value))
    code, out, err = cli(*map(fill, argv))
    assert code == 2, (out, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], (expected, lines[0])
    assert _counts(db) == before
    assert sorted(os.listdir(tmp_path)) == files_before
