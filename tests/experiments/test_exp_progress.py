"""Progress: the library's callback and the bars drawn on a terminal's stderr (a pseudo-terminal)."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def _experiment(tmp_path, tiny_model, prompts: int = 3) -> str:
    path = tmp_path / "exp.yaml"
    variants = "\n".join(f'  - {{id: v{i}, prompt: "Question {i}?"}}' for i in range(prompts))
    path.write_text(textwrap.dedent(f"""\
        name: progress
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 4, temperature: 0}}
        variants:
        """) + variants + "\n", encoding="utf-8")
    return str(path)


def test_a_run_reports_loading_then_each_finished_batch(tiny_model, tmp_path):
    from hanprompt.experiments import run_experiment

    calls = []
    summary = run_experiment(_experiment(tmp_path, tiny_model), max_concurrency=1,
                             progress=lambda *a: calls.append(a))
    assert calls[0] == (0, 3, f"loading hf:{tiny_model}")
    assert all(total == 3 for _, total, _ in calls)
    done = [d for d, _, label in calls if not label.startswith("loading")]
    assert done == sorted(done) and done[-1] == 3 == summary.generated
    assert {1, 2} <= set(done)  # one batch of one prompt at a time: each is reported as it ends


def test_run_draws_loading_and_a_moving_bar_on_a_terminal_and_nothing_when_piped(tiny_model, tmp_path, on_a_terminal):
    exp = _experiment(tmp_path, tiny_model)
    code, out, shown = on_a_terminal(["run", exp, "--max-concurrency", "1", "--no-cache"])
    assert code == 0, shown
    assert "loading " in shown and "tiny-llama" in shown and "3/3" in shown and "cells" in shown and "ETA" in shown
    assert "v0" in out
    piped = subprocess.run([sys.executable, "-m", "hanprompt", "run", exp, "--no-cache"], capture_output=True,
                           text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "loading" not in piped.stderr and "ETA" not in piped.stderr


