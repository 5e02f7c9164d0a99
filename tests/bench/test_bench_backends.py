"""`hanprompt bench` on gguf: and openai: models: a real GGUF file and a real llama.cpp server."""
from __future__ import annotations

import json
import os
import subprocess
import sys


from hanprompt.bench import BenchOptions, run_bench, shapes

FAST = ["--prompt-tokens", "48", "--gen-tokens", "8", "--repeat", "3", "--warmup", "1"]


def test_gguf_shape_matches_the_hf_model_it_was_written_from(tiny_gguf, tiny_model):
    gguf, hf = shapes.gguf_file(tiny_gguf), shapes.hf_folder(tiny_model)
    assert gguf.n_layers == hf.n_layers == 2
    assert gguf.layers == hf.layers  # float32 both
    assert (gguf.head, gguf.embedding) == (hf.head, hf.embedding)
    assert gguf.kv_per_layer == hf.kv_per_layer // 2  # llama.cpp keeps K and V in f16


def test_done_when_gguf_and_hf_on_cpu_and_cuda(tiny_gguf, tiny_model, tmp_path):
    """The issue's check: every figure for the CPU rows, the GPU rows skipped with reasons."""
    chart = tmp_path / "bench.png"
    done = subprocess.run(
        [sys.executable, "-m", "hanprompt", "bench", "--model", f"gguf:{tiny_gguf}", "--model", str(tiny_model),
         "--devices", "cpu,cuda", "--gpu-layers", "0,all", *FAST, "--threads", "2", "--json", "--chart", str(chart)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ, HANPROMPT_HOME=str(tmp_path)),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    rows = {(r["backend"], r["config"].get("device") or r["config"].get("gpu_layers")): r for r in report["rows"]}
    assert set(rows) == {("gguf", 0), ("gguf", "all"), ("hf", "cpu"), ("hf", "cuda")}
    assert rows["gguf", "all"]["status"] == rows["hf", "cuda"]["status"] == "skipped"
    assert "GPU" in rows["gguf", "all"]["reason"] and "CUDA" in rows["hf", "cuda"]["reason"]
    for key in (("gguf", 0), ("hf", "cpu")):
        row = rows[key]
        m = row["metrics"]
        assert row["status"] == "ok", row["reason"]
        assert m["gen_tokens"] == 8 and m["load_s"] > 0
        for figure in ("prefill_tok_s", "decode_tok_s", "ttft_s", "e2e_s"):
            assert m[figure]["n"] == 3 and m[figure]["mean"] > 0 and m[figure]["p90"] >= m[figure]["p50"]
        assert m["peak_rss_bytes"] > 0 and m["layers_per_device"] == {"cpu": 2}
        assert m["roofline"]["ceiling_tok_s"] > 0 and m["roofline"]["mbu"] > 0
        assert m["korean"]["ko_en_ratio"] > 0
    gguf = rows["gguf", 0]
    assert gguf["config"]["ctx_size"] == 56 and gguf["config"]["threads"] == 2  # prompt + generated, as llama-bench
    assert gguf["metrics"]["placement"] == {"cpu": 2}
    shape = gguf["metrics"]["roofline"]["shape"]
    assert gguf["metrics"]["roofline"]["weights_read_bytes"] == {"cpu": shape["read_per_token_bytes"]}
    # the same tokenizer in both files: the same Korean token counts
    assert report["korean"][gguf["model"]]["ko"]["tokens"] == report["korean"][rows["hf", "cpu"]["model"]]["ko"]["tokens"]
    assert chart.stat().st_size > 10_000


def test_bad_gguf_inputs(cli, tmp_path, tiny_model):
    code, out, err = cli("bench", "-m", f"gguf:{tmp_path / 'none.gguf'}")
    assert code == 2 and "does not exist" in err and "\n" not in err.strip()
    code, out, err = cli("bench", "-m", tiny_model, "--ctx-size", "16")
    assert code == 2 and "--ctx-size" in err
    code, out, err = cli("bench", "-m", tiny_model, "--threads", "0")
    assert code == 2 and "--threads" in err
    code, out, err = cli("bench", "-m", tiny_model, "--price-input", "1")
    assert code == 2 and "--price-output" in err
    code, out, err = cli("bench", "-m", tiny_model, "--price-input", "1", "--price-output", "-1")
    assert code == 2 and "0 or more" in err


def test_openai_rows_measure_the_server_over_the_stream(llama_server, tiny_model):
    report = run_bench(BenchOptions(models=(f"openai:tiny@{llama_server}", str(tiny_model)), prompt_tokens=32,
                                    gen_tokens=8, repeat=2, warmup=1, batch=2, price_per_hour=2.0,
                                    api_prices=(0.15, 0.6), bandwidth={"cpu": 20.0}))
    server, local = report.rows
    assert server["status"] == "ok", server["reason"]
    m = server["metrics"]
    assert m["decode_tok_s"]["mean"] > 0 and m["ttft_s"]["mean"] > 0 and m["e2e_s"]["n"] == 2
    # llama.cpp's server streams a piece per token: its decode is timed from the stream
    assert m["decode_source"] == "stream" and "decode_untimed" not in m
    assert m["load_s"] is None and m["peak_rss_bytes"] is None and m["roofline"] is None
    assert m["batch"]["decode_tok_s"] > 0
    assert m["cost"]["api_per_million_output"] == 0.6 and m["cost"]["per_million_output"] > 0
    assert "error" in report.korean[server["model"]]  # the server's tokenizer is not known here
    assert local["metrics"]["cost"]["per_million_output"] > 0 and "api_per_million_output" not in local["metrics"]["cost"]
