"""`hanprompt bench` on tiny real models: every figure on CPU, skipped and failed rows, the store."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from hanprompt.bench import BenchOptions, run_bench
from hanprompt.errors import for_cli

FAST = ["--prompt-tokens", "48", "--gen-tokens", "8", "--repeat", "3", "--warmup", "1"]


@pytest.fixture(scope="module")
def cpu_and_cuda(tmp_path_factory, tiny_model):
    """One CLI run (in a fresh process, as a user runs it) shared by the tests below."""
    import os
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("home")
    chart = home / "bench.png"
    done = subprocess.run(
        [sys.executable, "-m", "hanprompt", "bench", "-m", str(tiny_model), "--devices", "cpu,cuda",
         *FAST, "--batch", "3", "--price-per-hour", "0.9", "--json", "--chart", str(chart)],
        capture_output=True, text=True, env=dict(os.environ, HANPROMPT_HOME=str(home)), timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), chart, home, done.stderr


def test_cpu_row_reports_every_figure(cpu_and_cuda):
    report, _, _, _ = cpu_and_cuda
    cpu = next(r for r in report["rows"] if r["config"]["device"] == "cpu")
    assert cpu["status"] == "ok" and cpu["reason"] is None
    m = cpu["metrics"]
    assert m["load_s"] > 0
    assert m["gen_tokens"] == 8  # EOS ignored: every run generates exactly --gen-tokens
    assert 40 <= m["prompt_tokens"] <= 48
    for key in ("prefill_tok_s", "decode_tok_s", "ttft_s", "e2e_s"):
        assert set(m[key]) == {"mean", "stdev", "p50", "p90", "n"} and m[key]["n"] == 3 and m[key]["mean"] > 0
    assert m["e2e_s"]["p90"] >= m["e2e_s"]["p50"] > m["ttft_s"]["p50"]
    assert m["peak_rss_bytes"] >= m["start_rss_bytes"] > 0
    assert m["peak_vram_bytes"] is None  # no GPU here
    assert m["placement"] == {"cpu": "all"} and m["device"] == "cpu" and m["dtype"] == "float32"
    # hanprompt's default on the CPU in float32: packed where a measurement at load finds it faster
    assert re.match(r"oneDNN packed linear x\d+, measured|plain nn\.Linear \(oneDNN packed measured", m["kernels"])
    assert m["layers_per_device"] == {"cpu": 2}
    assert m["batch"]["size"] == 3 and m["batch"]["decode_tok_s"] > 0 and m["batch"]["shared_forward"]
    roof = m["roofline"]
    assert roof["bandwidth_gb_s"]["cpu"] == report["bandwidth"]["cpu"]["gb_s"] > 0
    assert report["bandwidth"]["cpu"]["source"] == "measured"
    assert roof["ceiling_tok_s"] == pytest.approx(roof["bandwidth_gb_s"]["cpu"] * 1e9 / roof["bytes_per_token"])
    assert roof["mbu"] == pytest.approx(m["decode_tok_s"]["mean"] / roof["ceiling_tok_s"])
    assert m["batch"]["ceiling_tok_s"] > roof["ceiling_tok_s"]
    cost = m["cost"]
    assert cost["per_million_output"] == pytest.approx(0.9 / (m["decode_tok_s"]["mean"] * 3600) * 1e6)
    assert cost["batch_per_million_output"] == pytest.approx(0.9 / (m["batch"]["decode_tok_s"] * 3600) * 1e6)
    ko = m["korean"]
    assert ko["ko"]["tokens_per_100_chars"] == pytest.approx(100 * ko["ko"]["tokens"] / ko["ko"]["chars"])
    assert ko["ko_en_ratio"] == pytest.approx(ko["ko"]["tokens"] / ko["en"]["tokens"])
    assert report["korean"][cpu["model"]] == ko


def test_cuda_row_is_skipped_with_the_reason(cpu_and_cuda):
    report, _, _, _ = cpu_and_cuda
    cuda = next(r for r in report["rows"] if r["config"]["device"] == "cuda")
    assert cuda["status"] == "skipped"
    assert "CUDA is not available" in cuda["reason"]
    assert "korean" in cuda["metrics"]


def test_the_run_and_its_rows_are_stored(cpu_and_cuda):
    from hanprompt.store import open_engine
    from hanprompt.store.bench import run_results
    from hanprompt.store.runs import get_run

    report, _, home, _ = cpu_and_cuda
    engine = open_engine(f"sqlite:///{home / 'hanprompt.db'}")
    run = get_run(engine, report["run_id"])
    assert run["kind"] == "bench" and run["status"] == "done"
    assert run["spec"]["bandwidth"] == report["bandwidth"]
    stored = run_results(engine, report["run_id"])
    assert [(r["id"], r["status"]) for r in stored] == [(r["id"], r["status"]) for r in report["rows"]]
    assert stored[0]["metrics"]["decode_tok_s"] == report["rows"][0]["metrics"]["decode_tok_s"]
    assert stored[1]["reason"] == report["rows"][1]["reason"]


def test_the_chart_is_a_png(cpu_and_cuda):
    from PIL import Image

    _, chart, _, err = cpu_and_cuda
    assert f"chart written to {chart}" in err
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.width > 800
        assert len(image.convert("L").getcolors(maxcolors=100000) or []) > 10  # more than a blank canvas


def test_chart_draws_hangul_without_missing_glyphs(cpu_and_cuda, tmp_path):
    import warnings

    from hanprompt.bench import chart

    report, _, _, _ = cpu_and_cuda
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails the test
        chart.draw(report["rows"], tmp_path / "again.png")


def test_table_output_lists_skipped_rows_and_bandwidth(cli, tiny_model):
    code, out, err = cli("bench", "-m", tiny_model, "--devices", "cpu,cuda", "--dtype", "float32,float16",
                         *FAST, "--bandwidth", "20")
    assert code == 0, err
    assert "speed" in out and "memory and roofline" in out and "Korean token efficiency" in out
    assert "skipped: " in out and "CUDA is not available" in out
    assert "float16 on CPU" in out  # refused as a slow path: a skipped row, not an error
    assert "bandwidth cpu: 20.0 GB/s (--bandwidth)" in out


def test_a_model_that_fails_to_load_is_a_failed_row_and_the_rest_still_runs(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated download
    report = run_bench(BenchOptions(models=(str(broken), str(tiny_model)), prompt_tokens=32, gen_tokens=4,
                                    repeat=1, warmup=0, bandwidth={"cpu": 20.0}))
    failed, ok = report.rows
    assert failed["status"] == "failed" and failed["reason"] and "\n" not in failed["reason"]
    assert ok["status"] == "ok"


def test_predicted_out_of_memory_gives_fit_advice(tiny_model, fake_cuda_machine):
    # FAKE GPU with 64 KiB free: the tiny model's 600 KB of weights cannot fit; nothing is loaded.
    report = run_bench(BenchOptions(models=(str(tiny_model),), devices=("cuda",), prompt_tokens=32,
                                    gen_tokens=4, repeat=1, warmup=0, bandwidth={"cpu": 20.0, "cuda": 900.0}),
                       machine=fake_cuda_machine(64 * 1024))
    (row,) = report.rows
    assert row["status"] == "oom"
    assert "predicted before loading" in row["reason"]
    advice = row["metrics"]["advice"]
    assert "max_memory=0=" in advice and "layers on the GPU" in advice and "--" not in advice
    assert "--max-memory 0=" in for_cli(advice) and "--max-memory 0=" in for_cli(row["reason"])


def test_bench_in_postgresql(pg_url, tiny_model):
    from hanprompt.store import open_engine
    from hanprompt.store.bench import run_results

    report = run_bench(BenchOptions(models=(str(tiny_model),), devices=("cpu", "cuda"), prompt_tokens=32,
                                    gen_tokens=4, repeat=1, warmup=0, bandwidth={"cpu": 20.0}), db=pg_url)
    stored = run_results(open_engine(pg_url), report.run_id)
    assert [r["status"] for r in stored] == ["ok", "skipped"]
    assert stored[0]["metrics"]["roofline"]["mbu"] == report.rows[0]["metrics"]["roofline"]["mbu"]


def test_model_names_print_as_text(cli, tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    odd = tmp_path / "tiny[/x] \x1b[31mred"
    shutil.copytree(tiny_model, odd)
    code, out, err = cli("bench", "-m", odd, *FAST, "--repeat", "1", "--bandwidth", "20")
    assert code == 0, err
    assert "\x1b" not in out + err
    assert "tiny[/x] \\x1b[31mred" in out  # markup shown as written, the escape written out
