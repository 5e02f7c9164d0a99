"""The openai: backend against a real server: llama-cpp-python's, serving the tiny GGUF."""
from __future__ import annotations

import json
from pathlib import Path

from hanprompt.backends import registry
from hanprompt.cli.common import visible

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_ask_streams_and_stores_through_the_server(cli, llama_server, rows):
    code, out, err = cli("ask", "What is the capital of England?", "--model", f"openai:tiny@{llama_server}",
                         "--max-new-tokens", "16")
    assert code == 0, err
    (row,) = rows()
    assert out == visible(row["response"]) + "\n"
    assert row["model"] == f"openai:tiny@{llama_server}" and row["backend"] == "openai"
    assert row["finish_reason"] in ("eos", "length") and row["error"] is None
    assert 0 < row["ttft_s"] <= row["total_s"]
    # llama.cpp's server ignores stream_options.include_usage and "tiny" names no tokenizer here
    assert row["usage_source"] == "chunks" and row["input_tokens"] is None and row["output_tokens"] >= 1


def test_the_example_file_runs_with_concurrent_requests_and_every_cell_complete(cli, llama_server, rows, tiny_embedder):
    code, out, err = cli("run", EXAMPLES / "prompt-styles.yaml", "--model", f"openai:tiny@{llama_server}", "--json",
                         "--embedder", tiny_embedder)
    assert code == 0, err
    results = json.loads(out)
    stored = rows()
    assert len(results) == len(stored) == 8  # 8 variants, sent 8 at a time
    (run,) = rows("runs")
    assert run["status"] == "done"
    for r in stored:  # each request ran to its end: none cut short by the ones sent with it
        assert r["error"] is None and r["finish_reason"] in ("eos", "length") and r["response"]


def test_a_known_tokenizer_counts_what_the_server_does_not(cli, llama_server, rows, tiny_model, tiny_gguf):
    code, out, err = cli("ask", "서울은 어떤 도시인가요?", "--model", f"openai:tiny@{llama_server}",
                         "--tokenizer", tiny_model, "--max-new-tokens", "8", "--price-input", "1", "--price-output", "4")
    assert code == 0, err
    (row,) = rows()
    local = registry.load(f"gguf:{tiny_gguf}")
    messages = [{"role": "user", "content": "서울은 어떤 도시인가요?"}]
    assert row["usage_source"] == "tokenizer"
    assert row["input_tokens"] == len(local.tokenize(local.render(messages)))
    assert row["cost"] == (row["input_tokens"] * 1 + row["output_tokens"] * 4) / 1e6


def test_llm_translation_through_the_server(cli, llama_server, rows):
    code, out, err = cli("translate", "The museum is closed on Mondays.", "--to", "ko",
                         "-t", f"llm:openai:tiny@{llama_server}")
    assert code == 0, err
    (t,) = rows("translations")
    assert t["translator"] == f"llm:openai:tiny@{llama_server}"
