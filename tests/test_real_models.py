"""Real models through the real loaders: the embedded SmolLM2-135M-Instruct (Q4_1 GGUF) on gguf:,
its dequantized hf form on hf:, and llama.cpp's server on openai:; gemma-3-270m (Q4_K_M) as a base model.

These are the tests that meet a real tokenizer's end-of-turn token, a real chat template, a quantized
file and a real answer: what the tiny random models cannot show.
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from hanprompt.backends import registry
from hanprompt.backends.base import GenParams
from hanprompt.generate import messages_for
from hanprompt.testing.real_models import ANSWER_WORD, QUESTION

SPECIAL = ("<|im_end|>", "<|im_start|>", "<end_of_turn>", "<|endoftext|>")
MAX_NEW = 48


@pytest.fixture(scope="module")
def specs(smollm2_gguf, smollm2_hf, smollm2_server):
    return {
        "gguf": f"gguf:{smollm2_gguf}",
        "hf": f"hf:{smollm2_hf}",
        "openai": f"openai:smollm2@{smollm2_server}",
    }


@pytest.mark.parametrize("backend", ["gguf", "hf", "openai"])
def test_the_first_question_is_answered_and_stops_at_the_end_of_turn(specs, backend, cli):
    code, out, err = cli("ask", QUESTION, "--model", specs[backend], "--max-new-tokens", MAX_NEW, "--json")
    assert code == 0, err
    record = json.loads(out)
    assert ANSWER_WORD in record["response"]
    assert record["finish_reason"] == "eos"
    assert 0 < record["output_tokens"] < MAX_NEW // 2  # ended by the model well before the budget
    assert not any(token in record["response"] for token in SPECIAL)
    stored = _stored_responses()
    assert stored == [record["response"]]


def _stored_responses() -> list[str]:
    import os

    db = os.path.join(os.environ["HANPROMPT_HOME"], "hanprompt.db")
    with sqlite3.connect(db) as con:
        return [row[0] for row in con.execute("select response from generations order by id")]


def test_one_output_token_count_on_all_three_backends(specs):
    """The answer's tokens, the end-of-turn token not counted: the same number on every backend."""
    params = GenParams(max_new_tokens=MAX_NEW)
    messages = messages_for(QUESTION)
    counts, texts = {}, {}
    for name, spec in specs.items():
        completion = registry.load(spec).generate(messages, params)
        counts[name], texts[name] = completion.output_tokens, completion.text
    assert texts["gguf"] == texts["openai"]  # one llama.cpp build, one file, greedy
    assert counts["gguf"] == counts["openai"], counts
    # hf runs the dequantized weights in float32: the same answer, or one that differs late
    if texts["hf"] == texts["gguf"]:
        assert counts["hf"] == counts["gguf"], counts


def test_hf_and_gguf_send_byte_identical_templated_prompts(specs):
    messages = messages_for("서울과 런던 중 어디가 더 커요?", system="You are a concise assistant.")
    gguf_text = registry.load(specs["gguf"]).render(messages)
    hf_text = registry.load(specs["hf"]).render(messages)
    assert gguf_text.encode() == hf_text.encode()
    assert gguf_text.startswith("<|im_start|>system\nYou are a concise assistant.<|im_end|>\n")
    assert gguf_text.endswith("<|im_start|>assistant\n")


def test_a_seeded_sampled_cell_is_the_same_alone_and_in_a_batch(smollm2_hf, spec_file):
    from hanprompt.experiments.runner import run_experiment

    variants = """
      - id: capital
        prompt: "What is the capital of England?"
      - id: colour
        prompt: "Name a colour."
      - id: count
        prompt: "Count from one to five."
    """
    head = f"""
    name: seeded
    models: ["hf:{smollm2_hf}"]
    params: {{max_new_tokens: 24, temperature: 0.9, seed: 11}}
    variants:
    """
    alone = run_experiment(spec_file(head + variants.split("- id: colour")[0], "alone.yaml"), use_cache=False)
    batch = run_experiment(spec_file(head + variants, "batch.yaml"), use_cache=False)
    alone_text = _responses(alone.run_id)["capital"]
    batch_text = _responses(batch.run_id)["capital"]
    assert alone_text == batch_text


def _responses(run_id: int) -> dict[str, str]:
    import os

    db = os.path.join(os.environ["HANPROMPT_HOME"], "hanprompt.db")
    with sqlite3.connect(db) as con:
        rows = con.execute("select variant, response from generations where run_id = ?", (run_id,)).fetchall()
    return dict(rows)


def test_ask_without_model_uses_the_embedded_model_and_names_it(cli_process, tmp_path):
    home = tmp_path / "fresh-home"
    done = cli_process("ask", QUESTION, "--max-new-tokens", MAX_NEW,
                       env={"HANPROMPT_HOME": str(home), "HF_HUB_OFFLINE": "1", "HANPROMPT_MODEL": ""})
    assert done.returncode == 0, done.stderr
    assert ANSWER_WORD in done.stdout
    assert "gguf:smollm2" in done.stderr  # the stats line names the model used
    logged = cli_process("logs", "--json", env={"HANPROMPT_HOME": str(home)})
    rows = json.loads(logged.stdout)
    assert [r["model"] for r in rows] == ["gguf:smollm2"]


def test_korean_to_the_embedded_model_names_the_model_for_korean(cli):
    code, out, err = cli("ask", "한국의 수도는?", "--model", "smollm2", "--max-new-tokens", 4, "--no-log")
    assert code == 0, err
    assert "Qwen/Qwen2.5-0.5B-Instruct" in err
    assert sum("note:" in line for line in err.splitlines()) == 1


def test_a_quantized_k_file_of_a_base_model_runs_with_one_template_warning(gemma_gguf, cli):
    code, out, err = cli("ask", "서울은", "--model", f"gguf:{gemma_gguf}", "--max-new-tokens", 8, "--json",
                         "--no-log")
    assert code == 0, err
    record = json.loads(out)
    assert record["output_tokens"] == 8 and record["finish_reason"] == "length"  # a base model does not stop
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "chat template" in warnings[0]
    assert "llama_model_loader" not in err and "print_info" not in err  # llama.cpp's chatter stays off


@pytest.mark.parametrize("cut", [0.5, 0.02])
def test_a_truncated_gguf_is_one_line_and_exit_2(smollm2_gguf, tmp_path, cli_process, cut):
    data = smollm2_gguf.read_bytes()
    broken = tmp_path / "truncated.gguf"
    broken.write_bytes(data[: int(len(data) * cut)])
    done = cli_process("ask", QUESTION, "--model", f"gguf:{broken}", "--max-new-tokens", 4)
    assert done.returncode == 2, (done.returncode, done.stderr[-800:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "truncated.gguf" in lines[0], done.stderr
