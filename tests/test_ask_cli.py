"""`hanprompt ask`, `logs` and `runs` end to end on a tiny model and a real SQLite file."""
import json

import pytest

from hanprompt.store import open_engine
from hanprompt.store.runs import list_runs


def _log_is_empty(home) -> bool:
    db = home / "hanprompt.db"
    return not db.exists() or list_runs(open_engine(f"sqlite:///{db}")) == []


def test_ask_json_then_logs_json_show_the_same_response(cli, tiny_model):
    code, out, err = cli("ask", "What is the capital of England?", "--model", tiny_model,
                         "--max-new-tokens", "8", "--json")
    assert code == 0, err
    answer = json.loads(out)
    for key in ("id", "run_id", "model", "response", "input_tokens", "output_tokens",
                "ttft_s", "total_s", "tokens_per_s", "device"):
        assert key in answer
    assert answer["output_tokens"] == 8 and answer["device"] == "cpu"
    assert answer["prompt"].startswith("<|im_start|>user\nWhat is the capital of England?")
    code, out, _ = cli("logs", "--json")
    logs = json.loads(out)
    assert len(logs) == 1
    assert logs[0]["id"] == answer["id"] and logs[0]["response"] == answer["response"]
    for key in ("run_id", "model", "prompt", "input_tokens", "output_tokens", "total_s", "created_at"):
        assert logs[0][key] is not None
    code, out, _ = cli("runs", "--json")
    runs = json.loads(out)
    assert runs[0]["id"] == answer["run_id"] and runs[0]["kind"] == "ask" and runs[0]["generations"] == 1


def test_ask_streams_to_stdout_and_stats_to_stderr(cli, tiny_model):
    code, out, err = cli("ask", "한국의 수도는?", "-m", tiny_model, "--max-new-tokens", "6", "--system", "짧게")
    assert code == 0
    _, logs, _ = cli("logs", "--json")
    assert out == json.loads(logs)[0]["response"] + "\n"
    assert "6 out" in err and "tok/s" in err and "TTFT" in err


def test_no_log_writes_nothing(cli, tiny_model, hanprompt_home):
    code, out, _ = cli("ask", "hi", "-m", tiny_model, "--max-new-tokens", "3", "--no-log", "--json")
    assert code == 0 and json.loads(out)["id"] is None
    assert _log_is_empty(hanprompt_home)


def test_db_option_and_env_choose_the_log(cli, tiny_model, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("ask", "hi", "-m", tiny_model, "--max-new-tokens", "2", "--db", url)[0] == 0
    monkeypatch.setenv("HANPROMPT_DB", url)
    _, out, _ = cli("logs", "--json")
    assert len(json.loads(out)) == 1


def test_logs_filters_show_export_and_rm(cli, tiny_model, tmp_path):
    for prompt in ("서울 여행", "London trip", "부산 여행"):
        assert cli("ask", prompt, "-m", tiny_model, "--max-new-tokens", "2")[0] == 0
    _, out, _ = cli("logs", "--search", "여행", "--json")
    assert len(json.loads(out)) == 2
    _, out, _ = cli("logs", "--limit", "1", "--json")
    newest = json.loads(out)
    assert len(newest) == 1 and newest[0]["messages"][-1]["content"] == "부산 여행"
    _, out, _ = cli("logs", "--model", "tiny-llama", "--json")
    assert len(json.loads(out)) == 3
    code, out, _ = cli("logs")
    assert code == 0 and "부산 여행" in out
    code, out, _ = cli("logs", "show", newest[0]["id"])
    assert code == 0 and "--- user\n부산 여행" in out
    target = tmp_path / "out.jsonl"
    assert cli("logs", "export", "--format", "jsonl", "-o", target)[0] == 0
    assert len(target.read_text(encoding="utf-8").splitlines()) == 3
    code, out, _ = cli("logs", "export", "--format", "csv")
    assert code == 0 and out.startswith("\ufeffid,run_id")
    code, _, err = cli("logs", "rm", newest[0]["id"])
    assert code == 0 and "deleted 1" in err
    _, out, _ = cli("logs", "--json")
    assert len(json.loads(out)) == 2
    code, _, err = cli("logs", "rm", "9999")
    assert code == 2 and "no generation with id 9999" in err


BAD_INPUTS = [
    (["--model", "/no/such/model"], "does not exist"),
    (["--model", "{empty_dir}"], "not a model folder"),
    (["--model", "{model}", "--device", "cuda"], "CUDA is not available"),
    (["--model", "{model}", "--dtype", "float16"], "float16 on CPU"),
    (["--model", "gguff:{model}"], "unknown backend prefix"),
    (["--model", "{model}", "--max-new-tokens", "0"], "--max-new-tokens"),
    (["--model", "{model}", "--max-new-tokens", "-5"], "--max-new-tokens"),
    (["--model", "{model}", "--db", "nonsense://"], "invalid database URL"),
    (["--model", "{model}", "--db", "postgresql://nobody@127.0.0.1:1/x"], "cannot reach database"),
]


@pytest.mark.parametrize("extra, message", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_logs_nothing(cli, tiny_model, tmp_path, hanprompt_home, extra, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [a.format(model=tiny_model, empty_dir=empty) for a in extra]
    code, out, err = cli("ask", "What is the capital of England?", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert _log_is_empty(hanprompt_home)


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt(cli, tiny_model, hanprompt_home, prompt):
    code, _, err = cli("ask", prompt, "--model", tiny_model)
    assert code == 2 and "prompt is empty" in err and len(err.strip().splitlines()) == 1
    assert _log_is_empty(hanprompt_home)


def test_a_default_hub_model_unavailable_says_how_to_pass_a_path(cli, monkeypatch, hanprompt_home):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HANPROMPT_MODEL", "Qwen/Qwen2.5-0.5B-Instruct")  # the default for Korean users
    code, _, err = cli("ask", "hi")
    assert code == 2 and "Qwen/Qwen2.5-0.5B-Instruct" in err and "--model PATH" in err
    assert _log_is_empty(hanprompt_home)


def test_bad_input_in_a_real_process_has_no_traceback_and_debug_shows_one(cli_process, tiny_model):
    r = cli_process("ask", "hi", "--model", tiny_model, "--dtype", "float16")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "float16 on CPU" in r.stderr
    r = cli_process("ask", "hi", "--model", tiny_model, "--dtype", "float16", "--debug")
    assert "Traceback" in r.stderr


def test_ask_in_a_real_process(cli_process, tiny_model):
    r = cli_process("ask", "What is the capital of England?", "--model", tiny_model, "--max-new-tokens", "4", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["output_tokens"] == 4


@pytest.mark.postgres
def test_ask_logs_to_postgresql(cli, tiny_model, pg_url):
    code, out, err = cli("ask", "부산은 어때요?", "-m", tiny_model, "--max-new-tokens", "3", "--json", "--db", pg_url)
    assert code == 0, err
    answer = json.loads(out)
    _, out, _ = cli("logs", "--json", "--db", pg_url)
    assert [r["response"] for r in json.loads(out)] == [answer["response"]]
