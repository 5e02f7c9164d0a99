"""openai: at scale: a continuous window of requests, several servers, errors that retry only when
retrying can help, per-generation timings, and resume after a kill. Real HTTP to the stub server."""
from __future__ import annotations

import json

import pytest

from hanprompt.testing.openai_stub import StubServer
from hanprompt.testing.servers import free_port


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("hanprompt:")] or err.strip().splitlines()
    assert "Traceback" not in err
    return lines[-1]


def matrix(n: int, words=lambda i: 1, max_new_tokens: int = 64) -> str:
    variants = "".join(f'  - {{id: v{i}, prompt: "q{i} {" ".join(["w"] * words(i))}"}}\n' for i in range(n))
    return f"name: window\nparams: {{max_new_tokens: {max_new_tokens}, temperature: 0}}\nvariants:\n" + variants


def test_the_next_request_starts_the_moment_one_ends(cli, spec_file, rows):
    import threading

    # q0 is held by the server until the 7 others have ended: with fixed groups of 2 they never
    # could (q1 would wait for q0's group to end), with a continuous window they all pass in the other slot
    path = spec_file(matrix(8).replace('"q0 w"', '"q0 HOLD"'))
    with StubServer() as server:
        def release() -> None:
            deadline = threading.Event()
            while len(server.ended) < 7 and not deadline.wait(0.02) and not server.release.is_set():
                pass
            released_by.append(len(server.ended))
            server.release.set()

        released_by: list[int] = []
        watcher = threading.Thread(target=release, daemon=True)
        watcher.start()
        timer = threading.Timer(30, server.release.set)  # a chunked client would deadlock: end it
        timer.start()
        try:
            code, _, err = cli("run", path, "--model", f"openai:echo@{server.base_url}", "--max-concurrency", "2")
        finally:
            timer.cancel()
            server.release.set()
        assert code == 0, err
        assert released_by == [7]  # released because the 7 others had ended, not by the timer
        assert server.peak == 2
        assert server.ended[-1] == ("echo", "q0 HOLD")
    stored = rows()
    assert len(stored) == 8 and all(r["error"] is None for r in stored)


def test_each_generation_stores_queue_ttft_and_decode(cli, spec_file, rows):
    path = spec_file(matrix(6, words=lambda i: 3))
    with StubServer(delay_s=0.01) as server:
        code, _, err = cli("run", path, "--model", f"openai:echo@{server.base_url}", "--max-concurrency", "2")
        assert code == 0, err
    stored = rows()
    assert len(stored) == 6
    for r in stored:
        t = json.loads(r["timings"])
        assert set(t) == {"queue_s", "ttft_s", "decode_s"}
        assert t["ttft_s"] == pytest.approx(r["ttft_s"], abs=1e-5)
        assert t["ttft_s"] + t["decode_s"] == pytest.approx(r["total_s"], abs=1e-5)
    # with 2 slots, the last requests waited for a free one
    assert max(json.loads(r["timings"])["queue_s"] for r in stored) > 0


def test_a_retry_wait_is_not_part_of_ttft(cli, rows):
    with StubServer(retry_after="1") as server:
        code, out, err = cli("ask", "hi there", "--model", f"openai:busy@{server.base_url}")
        assert code == 0, err
        assert server.requests["busy"] == 2
    (row,) = rows()
    t = json.loads(row["timings"])
    assert t["retry_s"] >= 1.0  # Retry-After was honoured
    assert row["ttft_s"] < t["retry_s"]  # and it is not counted as time to the first token
    assert row["total_s"] < t["retry_s"]
    code, out, err = cli("logs", "show", row["id"])
    assert code == 0, err
    assert f"--- timings: queue {t['queue_s']:.3f} s · retry {t['retry_s']:.3f} s · ttft {t['ttft_s']:.3f} s" in out


@pytest.mark.parametrize("model, status, words", [
    ("quota", 429, "out of quota or credit; no retry can help"),
    ("denied", 403, "HTTP 403"),
    ("invalid", 400, "HTTP 400 (bad request)"),
])
def test_errors_no_retry_can_help_fail_at_once(cli, rows, model, status, words):
    with StubServer() as server:
        code, _, err = cli("ask", "hi", "--model", f"openai:{model}@{server.base_url}", "--max-retries", "3")
        assert server.requests[model] == 1  # asked once, never again
    assert code == 2
    line = one_line(err)
    assert words in line and "retr" not in line.split("(")[0]


def test_5xx_is_retried_then_fails_with_the_count(cli, rows):
    with StubServer() as server:
        code, _, err = cli("ask", "hi", "--model", f"openai:broken@{server.base_url}", "--max-retries", "2")
        assert server.requests["broken"] == 3
    assert code == 2
    assert "HTTP 500 (always down) after 2 retries" in one_line(err)


def test_a_run_of_failures_stops_the_run(cli, spec_file, rows):
    path = spec_file(matrix(40))
    with StubServer() as server:
        code, _, err = cli("run", path, "--model", f"openai:invalid@{server.base_url}", "--max-concurrency", "2")
        asked = server.requests["invalid"]
    assert code == 2
    assert "8 requests in a row failed" in one_line(err) and "--resume" in one_line(err)
    assert asked < 40  # it did not burn through every cell
    (run,) = rows("runs")
    assert run["status"] == "failed" and rows() == []


def test_several_servers_share_the_matrix_and_each_generation_names_its_server(cli, spec_file, rows):
    path = spec_file(matrix(24, words=lambda i: 3))
    with StubServer(delay_s=0.01) as a, StubServer(delay_s=0.01) as b:
        spec = f"openai:echo@{a.base_url},{b.base_url}"
        code, _, err = cli("run", path, "--model", spec, "--max-concurrency", "4")
        assert code == 0, err
        assert a.requests["echo"] > 0 and b.requests["echo"] > 0
        assert a.requests["echo"] + b.requests["echo"] == 24
        servers = [json.loads(r["placement"])["server"] for r in rows()]
        assert servers.count(a.base_url) == a.requests["echo"] and servers.count(b.base_url) == b.requests["echo"]
        for r in rows()[:2]:  # logs show names the server that answered, and nothing empty after it
            code, out, err = cli("logs", "show", r["id"])
            assert code == 0, err
            assert f"model: {spec} · server {json.loads(r['placement'])['server']}\n" in out
        # the cache key is the model's: the same servers listed the other way round serve it all from the cache
        code, _, err = cli("run", path, "--model", f"openai:echo@{b.base_url},{a.base_url}")
        assert code == 0, err
        assert a.requests["echo"] + b.requests["echo"] == 24
    assert sum(r["cached"] for r in rows()) == 24


def test_base_urls_in_the_file(cli, spec_file, rows):
    with StubServer() as a, StubServer() as b:
        path = spec_file(f"models:\n  - spec: openai:echo\n    base_urls: [{a.base_url}, {b.base_url}]\n"
                         + matrix(8).split("\n", 1)[1])
        code, _, err = cli("run", path, "--max-concurrency", "2")
        assert code == 0, err
        assert a.requests["echo"] + b.requests["echo"] == 8
    assert {r["model"] for r in rows()} == {f"openai:echo@{a.base_url},{b.base_url}"}


def test_a_server_down_is_set_aside_and_the_others_answer(cli, spec_file, rows):
    down = f"http://127.0.0.1:{free_port()}/v1"
    path = spec_file(matrix(12))
    with StubServer() as live:
        code, _, err = cli("run", path, "--model", f"openai:echo@{down},{live.base_url}", "--max-concurrency", "3")
        assert code == 0, err
        assert live.requests["echo"] == 12
    assert f"{down} does not answer" in err
    assert len(rows()) == 12 and all(r["error"] is None for r in rows())


def test_all_servers_down_is_one_line_naming_each(cli, spec_file, rows):
    urls = [f"http://127.0.0.1:{free_port()}/v1", f"http://127.0.0.1:{free_port()}/v1"]
    code, _, err = cli("run", spec_file(matrix(3)), "--model", f"openai:echo@{urls[0]},{urls[1]}",
                       "--max-retries", "0")
    assert code == 2
    line = one_line(err)
    assert "no server of echo answers" in line and urls[0] in line and urls[1] in line
    assert rows() == []


def test_a_server_answering_as_another_model_is_one_warning(cli, spec_file, rows):
    path = spec_file(matrix(5))
    with StubServer() as server:
        code, _, err = cli("run", path, "--model", f"openai:impostor@{server.base_url}")
    assert code == 0, err
    assert err.count("answers as model 'someone-else'") == 1
    assert len(rows()) == 5


def test_ask_warns_too_when_a_server_answers_as_another_model(cli, rows):
    with StubServer() as server:
        code, out, err = cli("ask", "hello there", "--model", f"openai:impostor@{server.base_url}")
    assert code == 0, err
    assert out.strip() == "answer: hello there"
    (warning,) = [line for line in err.splitlines() if "answers as model" in line]
    assert warning.startswith("hanprompt: warning: ") and "'someone-else', not 'impostor'" in warning
    assert len(rows()) == 1


@pytest.mark.parametrize("urls, words", [
    ("{a},{a}", "is listed twice"),
    ("{a}/,{a}", "is listed twice"),
    ("HTTP://127.0.0.1:9/v1,{a}", "http://127.0.0.1:9/v1 (the same as HTTP://127.0.0.1:9/v1) is listed twice"),
    ("http://LOCALHOST:80/v1/,http://localhost/v1", "is listed twice"),  # host case, the default port, a slash
    ("{a},,{a}2", "has an empty entry"),
    ("{a},", "has an empty entry"),
    ("{a},ftp://127.0.0.1/v1", "is not an http(s) URL"),
])
def test_bad_url_lists(cli, rows, urls, words):
    a = "http://127.0.0.1:9/v1"
    code, _, err = cli("ask", "hi", "--model", "openai:echo@" + urls.format(a=a))
    assert code == 2
    assert words in one_line(err)
    assert rows() == []


@pytest.mark.parametrize("entry, words", [
    ("base_urls: []", "base_urls is a list of server URLs"),
    ("base_urls: ['']", "empty entry"),
])
def test_bad_base_urls_in_a_file(cli, rows, spec_file, entry, words):
    path = spec_file(f"models:\n  - spec: openai:echo\n    {entry}\n" + matrix(2).split("\n", 1)[1])
    code, _, err = cli("run", path)
    assert code == 2
    assert words in one_line(err)
    assert rows() == []


def test_a_kill_during_a_large_run_resumes_with_every_cell_stored_once(spec_file, rows, hanprompt_home):
    import signal
    import subprocess
    import sys
    import time

    n = 1500
    path = spec_file(matrix(n))
    with StubServer(port=free_port()) as server:
        url = server.base_url
        proc = subprocess.Popen([sys.executable, "-m", "hanprompt", "run", str(path), "--model", f"openai:echo@{url}",
                                 "--max-concurrency", "16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while proc.poll() is None and len(server.ended) < n // 3:
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        stored = len(rows())
        assert 0 < stored < n  # killed part-way, with cells in flight
        (run,) = rows("runs")
        done = subprocess.run([sys.executable, "-m", "hanprompt", "run", str(path), "--model", f"openai:echo@{url}",
                               "--resume", str(run["id"])], capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    keys = [r["cell_key"] for r in rows()]
    assert len(keys) == n and len(set(keys)) == n
    for r in rows():
        assert r["response"] == "answer: " + json.loads(r["messages"])[-1]["content"]


def test_a_run_in_chunks_keeps_a_cells_repeats_together_and_resumes_per_chunk(spec_file, stub, hanprompt_home,
                                                                              rows, monkeypatch):
    import sqlite3

    from hanprompt.experiments import run_experiment, runner

    monkeypatch.setattr(runner, "CHUNK", 4)  # 7 prompts x 3 greedy repeats: 4 chunks of whole cells
    path = spec_file(matrix(7) + "repeat: 3\n")
    summary = run_experiment(path, models=[f"openai:echo@{stub.base_url}"], max_concurrency=2)
    # each prompt asked once, its two other repeats copies of that answer, never served from another chunk
    assert (summary.total, summary.generated, summary.copies, summary.cached) == (21, 7, 14, 14)
    assert stub.requests["echo"] == 7
    stored = rows()
    assert len(stored) == 21 and len({r["cell_key"] for r in stored}) == 21
    lost = sorted({r["cell_key"] for r in stored})[:5]
    with sqlite3.connect(hanprompt_home / "hanprompt.db") as conn:  # as if killed before these were stored
        conn.executemany("DELETE FROM generations WHERE cell_key = ?", [(k,) for k in lost])
        conn.execute("UPDATE runs SET status = 'interrupted'")
    again = run_experiment(path, models=[f"openai:echo@{stub.base_url}"], resume=summary.run_id)
    assert again.already_done == 16 and again.generated + again.cached == 5
    keys = [r["cell_key"] for r in rows()]
    assert len(keys) == 21 and len(set(keys)) == 21


def test_progress_reports_tokens_per_second_while_generating(spec_file, stub, hanprompt_home):
    from hanprompt.experiments import run_experiment

    calls: list[tuple[int, int, str]] = []
    summary = run_experiment(spec_file(matrix(6, words=lambda i: 3)), models=[f"openai:echo@{stub.base_url}"],
                             max_concurrency=2, progress=lambda d, t, label: calls.append((d, t, label)))
    assert summary.generated == 6
    shown = [label for d, _, label in calls if d > 0]
    assert shown and all(label.startswith(f"openai:echo@{stub.base_url} · ") and label.endswith(" tok/s")
                         for label in shown)
    assert calls[-1][:2] == (6, 6)


def test_a_server_that_stops_mid_run_is_set_aside_and_its_requests_go_elsewhere(hanprompt_home):
    from hanprompt.backends import registry
    from hanprompt.backends.base import GenParams

    with StubServer() as live:
        gone = StubServer().start()
        backend = registry.load(f"openai:echo@{gone.base_url},{live.base_url}")  # both answer now
        gone.stop()  # then one stops
        requests = [([{"role": "user", "content": f"q{i}"}], GenParams(max_new_tokens=8)) for i in range(12)]
        done = backend.generate_many(requests, max_batch=3)
        assert [c.error for c in done] == [None] * 12
        assert [c.text for c in done] == [f"answer: q{i}" for i in range(12)]
        assert {c.placement["server"] for c in done} == {live.base_url}
        assert live.requests["echo"] == 12
        (aside,) = [s for s in backend._servers if s.url == gone.base_url]
        assert aside.why.startswith(f"cannot reach {gone.base_url}")


def test_all_servers_going_down_mid_run_fails_the_run_in_one_line_and_keeps_what_was_stored(spec_file, rows,
                                                                                              hanprompt_home):
    from hanprompt.errors import BackendError
    from hanprompt.experiments import run_experiment

    a, b = StubServer().start(), StubServer().start()
    try:
        spec = f"openai:echo@{a.base_url},{b.base_url}"

        def progress(done: int, total: int, label: str) -> None:
            if done >= 6 and a.socket.fileno() != -1:  # both servers stop once 6 cells are stored
                a.stop()
                b.stop()

        with pytest.raises(BackendError) as failure:
            run_experiment(spec_file(matrix(60)), models=[{"spec": spec, "max_retries": 1}], max_concurrency=2,
                           progress=progress)
    finally:
        for server in (a, b):
            if server.socket.fileno() != -1:
                server.stop()
    line = str(failure.value)
    assert "\n" not in line and "8 requests in a row failed" in line
    assert "every server of echo is failing" in line and a.base_url in line and b.base_url in line
    (run,) = rows("runs")
    assert run["status"] == "failed" and run["error"] == line
    keys = [r["cell_key"] for r in rows()]
    assert 6 <= len(keys) < 60 and len(set(keys)) == len(keys)
    assert all(r["error"] is None for r in rows())


def test_the_library_works_from_inside_a_running_event_loop(stub):
    import asyncio

    from hanprompt.backends import registry
    from hanprompt.backends.base import GenParams

    backend = registry.load(f"openai:echo@{stub.base_url}")

    async def in_a_notebook():
        return backend.generate_batch([([{"role": "user", "content": f"q{i}"}], GenParams(max_new_tokens=8))
                                       for i in range(3)])

    assert [c.text for c in asyncio.run(in_a_notebook())] == ["answer: q0", "answer: q1", "answer: q2"]
