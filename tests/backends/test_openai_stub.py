"""The openai: backend against a local stub server: usage, retries and every way a server fails."""
from __future__ import annotations

import json

import pytest

from hanprompt.backends import registry
from hanprompt.backends.base import GenParams
from hanprompt.errors import UsageError
from hanprompt.testing.openai_stub import StubServer
from hanprompt.testing.servers import free_port

FILE = """\
name: stub
params: {max_new_tokens: 32, temperature: 0}
variants:
  - {id: v0, prompt: "What is the capital of England?"}
  - {id: v1, prompt: "한국의 수도는 어디인가요?"}
  - {id: v2, prompt: "three words here"}
  - {id: v3, prompt: "one"}
"""


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_ask_streams_and_stores_the_server_usage(cli, stub, rows):
    code, out, err = cli("ask", "안녕하세요 hello world", "--model", f"openai:echo@{stub.base_url}/")
    assert code == 0, err
    assert out == "answer: 안녕하세요 hello world\n"
    assert f"[openai:echo@{stub.base_url} · server] 3 in, 4 out" in err  # no empty dtype field
    (row,) = rows()
    assert row["model"] == f"openai:echo@{stub.base_url}"  # the trailing slash is not part of the spec
    assert row["backend"] == "openai"
    assert row["response"] == "answer: 안녕하세요 hello world"
    assert json.loads(row["prompt"]) == [{"role": "user", "content": "안녕하세요 hello world"}]
    assert (row["input_tokens"], row["output_tokens"]) == (3, 4)  # the stub's own count: words
    assert row["usage_source"] == "server"
    assert row["finish_reason"] == "eos"
    assert 0 < row["ttft_s"] <= row["total_s"]
    assert row["error"] is None and row["cost"] is None
    assert stub.auth_headers[-1] == "Bearer no-key"  # no variable set: a placeholder, never another variable


def test_the_finish_reason_length_is_kept(stub):
    backend = registry.load(f"openai:echo@{stub.base_url}")
    c = backend.generate([{"role": "user", "content": "a b c d e f"}], GenParams(max_new_tokens=3))
    assert (c.text, c.finish_reason, c.output_tokens) == ("answer: a b", "length", 3)


def test_without_usage_the_streamed_chunks_are_counted(cli, rows):
    with StubServer(usage=False) as server:
        code, _, err = cli("ask", "one two", "--model", f"openai:echo@{server.base_url}")
    assert code == 0, err
    (row,) = rows()
    assert (row["usage_source"], row["input_tokens"], row["output_tokens"]) == ("chunks", None, 3)
    code, out, err = cli("logs", "show", row["id"])
    assert code == 0, err
    assert "--- ? in (counts: chunks) · TTFT" in out


def test_without_usage_a_given_tokenizer_counts(cli, rows, tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model))
    with StubServer(usage=False) as server:
        code, _, err = cli("ask", "one two", "--model", f"openai:echo@{server.base_url}", "--tokenizer", tiny_model,
                           "--price-input", "2", "--price-output", "10")
    assert code == 0, err
    (row,) = rows()
    prompt = tok.apply_chat_template([{"role": "user", "content": "one two"}], tokenize=False, add_generation_prompt=True)
    n_in = len(tok(prompt, add_special_tokens=False)["input_ids"])
    n_out = len(tok("answer: one two", add_special_tokens=False)["input_ids"])
    assert (row["usage_source"], row["input_tokens"], row["output_tokens"]) == ("tokenizer", n_in, n_out)
    assert row["cost"] == pytest.approx((n_in * 2 + n_out * 10) / 1e6)


@pytest.mark.parametrize("model", ["flaky", "busy"])
def test_500_and_429_are_retried_then_succeed(cli, stub, rows, model):
    code, out, err = cli("ask", "hi there", "--model", f"openai:{model}@{stub.base_url}")
    assert code == 0, err
    assert out == "answer: hi there\n"
    assert stub.requests[model] == 2
    (row,) = rows()
    assert row["error"] is None and row["response"] == "answer: hi there"


def test_5xx_without_retries_left_is_one_line(cli, stub, rows):
    code, _, err = cli("ask", "hi", "--model", f"openai:flaky@{stub.base_url}", "--max-retries", "0")
    assert code == 2
    assert "answered HTTP 500 (the stub fails its first request)" in one_line(err)


def test_a_timeout_is_one_line(cli, rows):
    with StubServer(slow_s=3) as server:
        code, _, err = cli("ask", "hi", "--model", f"openai:slow@{server.base_url}", "--timeout", "0.3",
                           "--max-retries", "1")
        assert server.requests["slow"] == 2  # retried once
    line = one_line(err)
    assert code == 2
    assert "no answer from" in line and "within 0.3 s after 1 retry" in line
    (row,) = rows()  # the failed attempt is logged as such, never as an answer
    assert row["error"] and row["response"] == "" and row["finish_reason"] == "error"


@pytest.mark.parametrize("model, words", [
    ("malformed", "malformed stream"),
    ("cut", "broke off after 2 chunks"),
    ("nofinish", "ended without a finish reason"),
    ("nofinish", "(a llama_cpp.server started without --interrupt_requests False cuts streams off when a new "
                 "request arrives)"),
])
def test_broken_streams_are_errors_never_answers(cli, stub, rows, model, words):
    code, out, err = cli("ask", "one two three", "--model", f"openai:{model}@{stub.base_url}")
    assert code == 2
    assert words in one_line(err)
    (row,) = rows()
    assert row["error"] and row["response"] == "" and row["finish_reason"] == "error"
    assert stub.requests[model] == 1  # a broken stream is not retried: the request may have cost tokens


def test_401_names_the_variable_never_the_key(cli, rows, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789")
    with StubServer(api_key="sk-right-9876543210") as server:
        code, out, err = cli("ask", "hi", "--model", f"openai:echo@{server.base_url}")
    line = one_line(err)
    assert code == 2
    assert "HTTP 401" in line and "$OPENAI_API_KEY" in line
    assert "sk-wrong" not in line and "sk-right" not in line
    assert rows() == []  # refused before anything is written


def test_the_key_comes_from_the_named_variable_and_is_never_stored(cli, rows, monkeypatch, spec_file):
    secret = "sk-team-abcdef0123456789"
    monkeypatch.setenv("TEAM_KEY", secret)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-this-one")
    path = spec_file(FILE)
    with StubServer(api_key=secret) as server:
        code, out, err = cli("ask", "hi", "--model", f"openai:echo@{server.base_url}", "--api-key-env", "TEAM_KEY")
        assert code == 0, err
        code, out, err = cli("run", path, "--model", f"openai:echo@{server.base_url}", "--api-key-env", "TEAM_KEY")
        assert code == 0, err
        assert set(server.auth_headers) == {f"Bearer {secret}"}
    assert len(rows()) == 5
    assert secret.encode() not in rows.path.read_bytes()
    wal = rows.path.with_name(rows.path.name + "-wal")
    assert not wal.exists() or secret.encode() not in wal.read_bytes()


def test_an_unset_named_variable_is_a_usage_error(cli, stub, rows):
    code, _, err = cli("ask", "hi", "--model", f"openai:echo@{stub.base_url}", "--api-key-env", "NO_SUCH_KEY_VAR")
    assert code == 2
    assert "--api-key-env names $NO_SUCH_KEY_VAR, which is not set" in one_line(err)
    assert rows() == []
    with pytest.raises(UsageError, match=r"^api_key_env names \$NO_SUCH_KEY_VAR, which is not set"):
        registry.load(f"openai:echo@{stub.base_url}", api_key_env="NO_SUCH_KEY_VAR")


def test_server_down(cli, rows):
    url = f"http://127.0.0.1:{free_port()}/v1"
    code, _, err = cli("ask", "hi", "--model", f"openai:echo@{url}", "--max-retries", "1")
    line = one_line(err)
    assert code == 2
    assert f"cannot reach {url}" in line and "after 1 retry" in line
    assert rows() == []


@pytest.mark.parametrize("spec, words", [
    ("openai:tiny", "names no server"),
    ("openai:@http://127.0.0.1:8000/v1", "names no model before the @"),
    ("openai:tiny@127.0.0.1:8000/v1", "is not an http(s) URL"),
    ("openai:tiny@ftp://127.0.0.1/v1", "is not an http(s) URL"),
    ("openai:tiny@http://", "is not an http(s) URL"),
    ("openai:tiny@http://127.0.0.1:eighty/v1", "is not an http(s) URL"),
    ("openai:tiny@http://user:pw@127.0.0.1:8000/v1", "holds credentials"),
    ("openai:tiny@http://127.0.0.1:8000/v1?key=1", "query or fragment"),
])
def test_malformed_specs(cli, rows, spec, words):
    code, _, err = cli("ask", "hi", "--model", spec)
    assert code == 2
    assert words in one_line(err)
    assert rows() == [] and not rows.path.exists()


@pytest.mark.parametrize("args, words", [
    (["--price-input", "-1", "--price-output", "1"], "--price-input: a price per million tokens is a number, 0 or"),
    (["--price-input", "1", "--price-output", "inf"], "--price-output: a price per million tokens is a number, 0"),
    (["--price-input", "1"], "--price-output is missing"),
    (["--price-input", "abc", "--price-output", "1"], "invalid float value: 'abc'"),
    (["--gpu-layers", "3"], "--gpu-layers does not apply to openai: models"),
    (["--timeout", "0"], "--timeout: input should be greater than 0"),
    # pydantic's message keeps its case past the first letter: a pattern is shown as it is
    (["--api-key-env", ""], "--api-key-env: string should match pattern '^[A-Za-z_][A-Za-z0-9_]*$'"),
])
def test_bad_options(cli, stub, rows, args, words):
    code, _, err = cli("ask", "hi", "--model", f"openai:echo@{stub.base_url}", *args)
    assert code == 2
    assert words in one_line(err)
    assert rows() == []


def test_run_names_a_bad_loading_flag_as_ask_does(cli, stub, rows, spec_file):
    path = spec_file(FILE)
    code, _, err = cli("run", path, "--model", f"openai:echo@{stub.base_url}", "--timeout", "0")
    assert code == 2
    assert "--timeout: input should be greater than 0 (got 0.0)" in one_line(err)
    assert rows() == []


@pytest.mark.parametrize("prices, words", [
    ("{input: -0.5, output: 1}", "models[0].prices.input: Input should be greater than or equal to 0"),
    ("{input: cheap, output: 1}", "models[0].prices.input: Input should be a valid number"),
    ("{input: 1}", "models[0].prices.output: this key is required"),
])
def test_bad_prices_in_a_file_name_file_and_line(cli, stub, rows, spec_file, prices, words):
    path = spec_file(f"models:\n  - spec: openai:echo@{stub.base_url}\n    prices: {prices}\n" + FILE.split("\n", 1)[1])
    code, _, err = cli("run", path)
    assert code == 2
    line = one_line(err)
    assert f"{path}:3:" in line and words in line
    assert rows() == []


def test_experiment_requests_run_concurrently_and_every_cell_is_stored(cli, spec_file, rows):
    variants = "".join(f'  - {{id: v{i}, prompt: "question number {i}"}}\n' for i in range(16))
    path = spec_file("name: many\nparams: {max_new_tokens: 32, temperature: 0}\nvariants:\n" + variants)
    with StubServer(delay_s=0.05) as server:
        code, out, err = cli("run", path, "--model", f"openai:echo@{server.base_url}", "--json")
        assert code == 0, err
        assert server.peak == 8  # --max-concurrency's default for openai: (16 cells in 2 chunks)
        code, _, err = cli("run", path, "--model", f"openai:echo@{server.base_url}", "--json", "--no-cache",
                           "--max-concurrency", "3")
        assert code == 0, err
        assert server.peak == 8 and server.requests["echo"] == 32
    stored = rows()
    assert len(stored) == 32
    for r in stored:
        assert r["error"] is None and r["finish_reason"] == "eos"
        assert r["response"] == "answer: " + json.loads(r["messages"])[-1]["content"]


def test_greedy_results_are_cached_by_base_url_and_model(cli, spec_file, rows):
    path = spec_file(FILE)
    with StubServer() as a, StubServer() as b:
        for server, model in ((a, "echo"), (a, "echo"), (b, "echo"), (a, "flaky")):
            code, _, err = cli("run", path, "--model", f"openai:{model}@{server.base_url}")
            assert code == 0, err
        assert a.requests["echo"] == 4  # the second run came from the cache
        assert b.requests["echo"] == 4  # another server: not the same cache entry
        assert a.requests["flaky"] == 5  # another model: not the same cache entry (one 500 retried)
    assert [r["cached"] for r in rows()] == [0] * 4 + [1] * 4 + [0] * 8


def test_costs_in_results_and_compare(cli, stub, spec_file):
    path = spec_file(
        f"models:\n  - spec: openai:echo@{stub.base_url}\n    prices: {{input: 0.5, output: 2}}\n"
        + FILE.split("\n", 1)[1]
    )
    code, out, err = cli("run", path, "--json")
    assert code == 0, err
    results = json.loads(out)
    for r in results:
        assert r["cost"] == pytest.approx((r["input_tokens"] * 0.5 + r["output_tokens"] * 2) / 1e6)
    run_id = results[0]["run_id"]
    code, out, err = cli("compare", str(run_id), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert sum(c["cost"] for c in data["cells"]) == pytest.approx(sum(r["cost"] for r in results))
    code, out, err = cli("compare", str(run_id))
    assert code == 0 and "cost" in out


def test_a_failing_model_keeps_the_finished_cells_and_fails_the_run(cli, stub, spec_file, rows):
    path = spec_file(FILE)
    code, _, err = cli("run", path, "-m", f"openai:echo@{stub.base_url}", "-m", f"openai:cut@{stub.base_url}")
    assert code == 2
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("hanprompt: error: the stream from") and "broke off" in last
    assert last.endswith("(3 more requests failed too)") and "Traceback" not in err
    stored = rows()
    assert len(stored) == 4 and all(r["model"].startswith("openai:echo@") for r in stored)
    (run,) = rows("runs")
    assert run["status"] == "failed" and "broke off" in run["error"]


def test_llm_translation_through_a_server(cli, stub, rows):
    code, out, err = cli("translate", "The museum is closed.", "--to", "ko", "-t", f"llm:openai:echo@{stub.base_url}")
    assert code == 0, err
    assert "answer: The museum is closed." in out
    (t,) = rows("translations")
    assert t["translator"] == f"llm:openai:echo@{stub.base_url}"


def test_ctrl_c_during_concurrent_requests_ends_the_run_at_once(spec_file, rows):
    import signal
    import subprocess
    import sys
    import time

    words = " ".join(["word"] * 60)
    path = spec_file("name: slow\nparams: {max_new_tokens: 64, temperature: 0}\nvariants:\n"
                     + "".join(f'  - {{id: v{i}, prompt: "{i} {words}"}}\n' for i in range(4)))
    with StubServer(delay_s=1.0) as server:  # each answer would stream for about a minute
        proc = subprocess.Popen(
            [sys.executable, "-m", "hanprompt", "run", str(path), "--model", f"openai:echo@{server.base_url}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            while server.in_flight < 4 and proc.poll() is None:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)  # far less than the answers still streaming
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, err
    assert "interrupted; run 1 keeps 0 of 4 results" in err
    (run,) = rows("runs")
    assert run["status"] == "interrupted" and rows() == []
