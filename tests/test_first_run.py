"""A machine where hanprompt never ran, and hub models that cannot be had: the real command, in real processes."""
from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

#: environment variables that would point hanprompt or the hub somewhere else than a new user's defaults
_SETTINGS = ("HANPROMPT_HOME", "HANPROMPT_DB", "XDG_DATA_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
             "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT")


def _installed_hanprompt() -> str:
    exe = Path(sys.executable).with_name("hanprompt")
    assert exe.is_file(), f"the hanprompt command is not installed next to {sys.executable}"
    return str(exe)


def _fresh_user(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(HOME=str(home), COLUMNS="200", **extra)
    return env


def _hanprompt(env: dict, *args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([_installed_hanprompt(), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=env["HOME"])


def _runs_in(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]


def test_first_run_with_the_default_home(tmp_path, tiny_model):
    home = tmp_path / "new-user"
    home.mkdir()
    env = _fresh_user(home)
    r = _hanprompt(env, "ask", "What is the capital of England?", "--model", tiny_model,
                   "--max-new-tokens", "4", "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    r = _hanprompt(env, "logs", "--json")
    assert r.returncode == 0, r.stderr
    (logged,) = json.loads(r.stdout)
    assert logged["id"] == answer["id"] and logged["response"] == answer["response"]
    r = _hanprompt(env, "logs")
    assert r.returncode == 0 and "What is the capital" in r.stdout, r.stderr
    r = _hanprompt(env, "runs")
    assert r.returncode == 0 and "ask" in r.stdout, r.stderr
    (db,) = home.rglob("hanprompt.db")  # the platform's user data folder, e.g. ~/.local/share/hanprompt
    assert db.parent.name == "hanprompt" and db.is_relative_to(home)
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


UNREACHABLE = [
    (["ask", "hi", "--model", "hanprompt-test/no-such-model"], "hanprompt-test/no-such-model", "--model PATH"),
    (["ask", "hi", "--model", "hf:hanprompt-test/no-such-model"], "hanprompt-test/no-such-model", "--model PATH"),
    (["run", "{experiment}", "-m", "hanprompt-test/no-such-model"], "hanprompt-test/no-such-model", "--model PATH"),
    (["translate", "Hello."], "Helsinki-NLP/opus-mt-tc-big-en-ko", "mt:PATH"),
    (["translate", "Hello.", "-t", "mt:hanprompt-test/no-such-mt"], "hanprompt-test/no-such-mt", "mt:PATH"),
    (["translate", "Hello.", "-t", "llm:hanprompt-test/no-such-model"], "hanprompt-test/no-such-model",
     "--model PATH"),
    (["translate", "Hello.", "-t", "ct2:hanprompt-test/no-such-mt"], "hanprompt-test/no-such-mt", "ct2-transformers"),
    (["bench", "-m", "hanprompt-test/no-such-model"], "hanprompt-test/no-such-model", "--model PATH"),
]


@pytest.mark.parametrize("args, model, fix", UNREACHABLE, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_a_hub_model_that_cannot_be_had_fails_fast_on_one_line(tmp_path, args, model, fix):
    home = tmp_path / "new-user"
    home.mkdir()
    experiment = tmp_path / "exp.yaml"
    experiment.write_text("name: t\nvariants:\n  - id: v\n    prompt: hi\n", encoding="utf-8")
    env = _fresh_user(home, HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    r = _hanprompt(env, *[a.format(experiment=experiment) for a in args])
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert model in lines[0] and f"hf download {model}" in lines[0] and fix in lines[0]
    assert "retry" not in r.stderr.lower() and "Traceback" not in r.stderr
    assert _runs_in(next(home.rglob("hanprompt.db"), home / "none")) == 0


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_model_is_a_usage_error_not_the_default(cli, hanprompt_home, value):
    code, out, err = cli("ask", "hi", "--model", value)
    assert code == 2 and "empty model spec" in err and len(err.strip().splitlines()) == 1
    assert _runs_in(hanprompt_home / "hanprompt.db") == 0


def _unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o500)
        return folder
    if Path("/sys").is_dir():  # root writes anywhere, but nobody makes folders in sysfs
        return Path("/sys")
    pytest.skip("running as root without /sys: no folder here refuses to be written")


@pytest.mark.parametrize("where", ["file", "under-file", "unwritable"])
@pytest.mark.parametrize("command", [["logs"], ["runs"], ["ask", "hi", "--model", "{model}"]])
def test_a_home_that_cannot_be_used_is_one_line(cli, monkeypatch, tmp_path, tiny_model, where, command):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder", encoding="utf-8")
    home = {"file": a_file, "under-file": a_file / "home",
            "unwritable": _unwritable_folder(tmp_path) / "hanprompt-home"}[where]
    monkeypatch.setenv("HANPROMPT_HOME", str(home))
    code, out, err = cli(*[c.format(model=tiny_model) for c in command])
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "HANPROMPT_HOME" in err and "Traceback" not in err
    assert a_file.read_text(encoding="utf-8") == "not a folder"
    assert home == a_file or not home.exists()


def test_the_home_is_created_private_with_its_parents(cli, monkeypatch, tmp_path):
    home = tmp_path / "a" / "b" / "home"
    monkeypatch.setenv("HANPROMPT_HOME", str(home))
    code, _, err = cli("runs")
    assert code == 0, err
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and (home / "hanprompt.db").is_file()


@pytest.mark.parametrize("spec", ["bad id/with space", "a..b/c"])
def test_a_name_that_is_no_folder_and_no_hub_id_never_asks_the_hub(cli, monkeypatch, hanprompt_home, spec):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    code, out, err = cli("ask", "hi", "--model", spec)
    assert code == 2 and "neither a local folder nor a valid hub id" in err and "--model PATH" in err
    assert len(err.strip().splitlines()) == 1
    assert _runs_in(hanprompt_home / "hanprompt.db") == 0
