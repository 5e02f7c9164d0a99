"""Crashes and Ctrl-C in a real subprocess: kill -9 midway then --resume, and SIGINT."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

# Slow enough (one 120-token prompt per batch on the slower model) to be stopped midway.
SLOW = ["--max-concurrency", "1"]
# One thread each: on a busy 2-core machine, spinning OpenMP threads slow these runs many times over.
ENV = {"OMP_NUM_THREADS": "1"}


def start(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "hanprompt", "run", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, **ENV),
    )


def wait_for_rows(proc, log_db, at_least: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = log_db("generations")
        if n >= at_least:
            return n
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.01)
    raise AssertionError("the run stored no rows in time")


def test_kill_9_midway_then_resume_completes_exactly_once(cli_process, spec_file, slow_model, log_db, many_variants):
    path = spec_file(many_variants(12, max_new_tokens=120))
    proc = start(path, "--model", slow_model, *SLOW)
    wait_for_rows(proc, log_db, 2)
    proc.kill()  # SIGKILL: no cleanup at all
    proc.communicate()
    stored = log_db("generations")
    assert 2 <= stored < 12, stored
    assert log_db("runs", "status = 'running'") == 1  # the run never learnt it died

    done = cli_process("run", path, "--model", slow_model, "--resume", "1", "--max-concurrency", "12", "--json", env=ENV)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) == 12
    assert sorted(r["variant"] for r in results) == sorted(f"v{i}" for i in range(12))
    assert log_db("generations") == 12 and log_db("runs") == 1
    duplicated = "cell_key IN (SELECT cell_key FROM generations GROUP BY cell_key HAVING count(*) > 1)"
    assert log_db("generations", duplicated) == 0
    assert log_db("runs", "status = 'done'") == 1
    assert "12 generated" not in done.stderr


def test_ctrl_c_keeps_finished_results_and_marks_the_run_interrupted(spec_file, slow_model, log_db, many_variants, cli_process):
    path = spec_file(many_variants(12, max_new_tokens=120))
    proc = start(path, "--model", slow_model, *SLOW)
    wait_for_rows(proc, log_db, 2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume 1" in err
    kept = log_db("generations")
    assert 2 <= kept < 12
    assert log_db("runs", "status = 'interrupted' AND finished_at IS NOT NULL") == 1
    # the resume completes only the rest
    done = cli_process("run", path, "--model", slow_model, "--resume", "1", "--max-concurrency", "12", env=ENV)
    assert done.returncode == 0 and f"{kept} already done" in done.stderr, done.stderr
    assert log_db("generations") == 12


def test_a_no_cache_run_stopped_by_sigterm_resumes_without_the_cache(spec_file, slow_model, log_db, many_variants,
                                                                    cli_process):
    path = spec_file(many_variants(6, max_new_tokens=60))
    filled = cli_process("run", path, "--model", slow_model, "--max-concurrency", "6", env=ENV)  # run 1: the cache
    assert filled.returncode == 0, filled.stderr
    proc = start(path, "--model", slow_model, "--no-cache", *SLOW)  # run 2
    wait_for_rows(proc, log_db, 6 + 1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "--resume 2 --no-cache" in err  # the printed command keeps the flag
    assert log_db("runs", "id = 2 AND status = 'interrupted'") == 1
    assert log_db("generations", "run_id = 2 AND cached = 1") == 0
    # resumed without the flag, the run still does without the cache: it was stored with the run
    done = cli_process("run", path, "--model", slow_model, "--resume", "2", "--max-concurrency", "6", env=ENV)
    assert done.returncode == 0, done.stderr
    assert log_db("generations", "run_id = 2") == 6
    assert log_db("generations", "run_id = 2 AND cached = 1") == 0
    assert log_db("runs", "id = 2 AND status = 'done'") == 1
