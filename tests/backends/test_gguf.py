"""The gguf: backend on a tiny GGUF written from the tiny Llama: real llama.cpp, real files."""
from __future__ import annotations

import json
import sys

import pytest

from hanprompt.backends import registry
from hanprompt.backends.base import GenParams
from hanprompt.cli.common import visible

MESSAGES = [
    [{"role": "user", "content": "What is the capital of England?"}],
    [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "한국의 수도는 어디인가요?"}],
    [{"role": "user", "content": "서울 and Busan: 여행 추천"}],
]
NO_SYSTEM_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_ask_streams_and_logs_like_hf(cli, tiny_gguf, rows):
    code, out, err = cli("ask", "한국의 수도는 어디인가요?", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "12")
    assert code == 0, err
    (row,) = rows()
    assert out == visible(row["response"]) + "\n"  # what streamed is what was stored (controls shown)
    assert row["model"] == f"gguf:{tiny_gguf}" and row["backend"] == "gguf"
    assert (row["device"], json.loads(row["placement"]), row["dtype"]) == ("cpu", {"cpu": 2}, "F32")
    assert row["prompt"] == "<|im_start|>user\n한국의 수도는 어디인가요?<|im_end|>\n<|im_start|>assistant\n"
    assert row["input_tokens"] > 5 and 1 <= row["output_tokens"] <= 12
    assert row["finish_reason"] in ("eos", "length")
    assert 0 < row["ttft_s"] <= row["total_s"] and row["tokens_per_s"] > 0 and row["load_s"] > 0
    assert row["usage_source"] == "tokenizer" and row["error"] is None
    assert "[gguf:" in err and "TTFT" in err


@pytest.mark.parametrize("messages", MESSAGES)
def test_same_prompt_tokens_and_greedy_answer_as_the_hf_folder(tiny_model, tiny_gguf, messages):
    hf = registry.load(f"hf:{tiny_model}")
    gguf = registry.load(f"gguf:{tiny_gguf}")
    prompt = hf.render(messages)
    assert gguf.render(messages) == prompt
    assert gguf.tokenize(prompt) == hf.tokenizer(prompt, add_special_tokens=False)["input_ids"]
    params = GenParams(max_new_tokens=24)
    a, b = hf.generate(messages, params), gguf.generate(messages, params)
    assert (b.text, b.input_tokens, b.output_tokens, b.finish_reason) == (
        a.text, a.input_tokens, a.output_tokens, a.finish_reason)


def test_streamed_pieces_join_to_the_answer_and_keep_hangul_whole(tiny_gguf):
    backend = registry.load(f"gguf:{tiny_gguf}")
    pieces: list[str] = []
    c = backend.generate(MESSAGES[1], GenParams(max_new_tokens=40), on_text=pieces.append)
    assert "".join(pieces) == c.text
    assert c.output_tokens == 40 or c.finish_reason == "eos"


def test_a_system_role_the_template_refuses_is_folded_like_hf(tmp_path):
    from hanprompt.testing.gguf_models import write_gguf
    from hanprompt.testing.models import build_tiny_llama

    folder = build_tiny_llama(tmp_path / "nosys", chat_template=NO_SYSTEM_TEMPLATE)
    path = write_gguf(folder, tmp_path / "nosys.gguf")
    hf, gguf = registry.load(f"hf:{folder}"), registry.load(f"gguf:{path}")
    prompt = gguf.render(MESSAGES[1])
    assert prompt == hf.render(MESSAGES[1])
    assert prompt.startswith("<|im_start|>user\nAnswer briefly.\n\n한국의")


def test_sampling_with_a_seed_repeats(tiny_gguf):
    backend = registry.load(f"gguf:{tiny_gguf}")
    params = GenParams(max_new_tokens=16, temperature=1.0, seed=7)
    runs = [backend.generate(MESSAGES[0], params).text for _ in range(2)]
    other = backend.generate(MESSAGES[0], params.model_copy(update={"seed": 8})).text
    assert runs[0] == runs[1]
    assert other != runs[0]


def test_without_a_template_plain_text_and_a_warning(cli, tiny_gguf_plain, rows):
    code, out, err = cli("ask", "Hello there", "--model", f"gguf:{tiny_gguf_plain}", "--system", "Be kind.",
                         "--max-new-tokens", "4")
    assert code == 0, err
    assert "warning:" in err and "has no chat template" in err
    (row,) = rows()
    assert row["prompt"] == "Be kind.\n\nHello there"


def test_context_comes_from_the_file_and_ctx_size(tiny_gguf):
    assert registry.load(f"gguf:{tiny_gguf}").context_length == 1024  # the trained context, under 4096
    small = registry.load(f"gguf:{tiny_gguf}", ctx_size=64)
    assert small.context_length == small.llm.n_ctx() and 64 <= small.context_length < 1024  # llama.cpp pads it


def test_a_prompt_longer_than_the_context_is_one_line_and_not_stored(cli, tiny_gguf, rows):
    code, _, err = cli("ask", "word " * 600, "--model", f"gguf:{tiny_gguf}", "--ctx-size", "64", "--max-new-tokens", "16")
    assert code == 2
    assert "exceeds the 256-token context of gguf:" in one_line(err)
    assert rows() == []


def test_json_output(cli, tiny_gguf):
    code, out, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "3", "--json", "--threads", "1")
    assert code == 0, err
    data = json.loads(out)
    assert data["backend"] == "gguf" and data["output_tokens"] <= 3 and data["id"] is not None


@pytest.fixture
def not_gguf(tmp_path):
    path = tmp_path / "model.gguf"
    path.write_text("this is not a model\n", encoding="utf-8")
    return path


@pytest.fixture
def truncated_gguf(tmp_path, tiny_gguf):
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_gguf.read_bytes()[:200])
    return path


@pytest.fixture
def cut_in_the_weights(tmp_path, tiny_gguf):
    data = tiny_gguf.read_bytes()
    path = tmp_path / "cut-weights.gguf"
    path.write_bytes(data[:len(data) - 4096])  # the header whole, the last weights missing
    return path


@pytest.mark.parametrize("model, args, words", [
    ("gguf:{tmp}/missing.gguf", [], "does not exist; pass gguf:PATH"),
    ("gguf:{tmp}", [], "is a folder, not a GGUF file"),
    ("gguf:{not_gguf}", [], "is not a GGUF file"),
    ("gguf:{truncated}", [], "cut.gguf is not a readable GGUF file (it ends at byte 200, inside its header"),
    ("gguf:{cut_weights}", [], "llama.cpp cannot load"),
    ("gguf:{gguf}", ["--gpu-layers", "2"], "this llama-cpp-python build has no GPU support"),
    ("gguf:{gguf}", ["--gpu-layers", "all"], "this llama-cpp-python build has no GPU support"),
    ("gguf:{gguf}", ["--gpu-layers", "many"], "--gpu-layers: 'many' is neither a number of layers nor 'all'"),
    ("gguf:{gguf}", ["--gpu-layers", "-1"], "--gpu-layers: -1 is negative"),
    ("gguf:{gguf}", ["--device", "cuda"], "--device does not apply to gguf: models"),
    ("gguf:{gguf}", ["--threads", "0"], "--threads must be from 1 to 4,096, not 0"),  # as run says it
])
def test_bad_input_is_one_line_and_stores_nothing(cli, rows, tmp_path, tiny_gguf, not_gguf, truncated_gguf,
                                                   cut_in_the_weights, model, args, words):
    model = model.format(tmp=tmp_path, not_gguf=not_gguf, truncated=truncated_gguf, cut_weights=cut_in_the_weights,
                         gguf=tiny_gguf)
    code, out, err = cli("ask", "hi", "--model", model, *args)
    assert code == 2
    assert words in one_line(err)
    assert rows() == []


@pytest.mark.parametrize("db, words", [
    ("nonsense://", "invalid database URL"),
    ("postgresql://nobody@127.0.0.1:1/x", "cannot reach database"),
])
@pytest.mark.parametrize("json_out", [[], ["--json"]])
def test_a_log_that_cannot_be_opened_stops_the_answer_before_it_shows(cli, rows, tiny_gguf, db, words, json_out):
    """The log opens on a thread while the prompt is evaluated; its error still comes first and alone."""
    code, out, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "8", "--db", db, *json_out)
    assert code == 2
    assert words in one_line(err)
    assert out == ""
    assert rows() == []


def test_a_missing_hub_file_offline_is_one_line(cli, rows, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    code, _, err = cli("ask", "hi", "--model", "gguf:someone/some-model-GGUF/model-q4_k_m.gguf")
    assert code == 2
    assert "someone/some-model-GGUF/model-q4_k_m.gguf is neither in the Hugging Face cache" in one_line(err)


def test_without_llama_cpp_python_the_install_line(cli, rows, tiny_gguf, monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what an environment without the extra sees
    code, _, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--ctx-size", "128")
    assert code == 2
    assert "pip install 'hanprompt[gguf]'" in one_line(err)
    assert rows() == []


def test_run_and_cache(cli, tiny_gguf, spec_file, rows):
    path = spec_file("""\
        name: g
        params: {max_new_tokens: 8, temperature: 0}
        variants:
          - {id: a, prompt: "Hi"}
          - {id: b, prompt: "서울은 어떤 도시인가요?"}
          - {id: c, style: brief, task: "Name three colours."}
        """)
    for _ in range(2):
        code, out, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--json")
        assert code == 0, err
    stored = rows()
    assert [r["cached"] for r in stored] == [0, 0, 0, 1, 1, 1]
    assert [r["response"] for r in stored[:3]] == [r["response"] for r in stored[3:]]
    assert all(r["error"] is None and r["backend"] == "gguf" for r in stored)


def test_translate_with_a_gguf_chat_model(cli, tiny_gguf, rows):
    code, out, err = cli("translate", "The museum is closed on Mondays.", "--to", "ko", "-t", f"llm:gguf:{tiny_gguf}")
    assert code == 0, err
    (t,) = rows("translations")
    assert t["translator"] == f"llm:gguf:{tiny_gguf}" and t["source"] == "The museum is closed on Mondays."


@pytest.mark.gpu
@pytest.mark.parametrize("layers, device, placement", [("all", "gpu", {"gpu": 2}), ("1", "gpu+cpu", {"gpu": 1, "cpu": 1})])
def test_gpu_layers_are_placed_and_logged(cli, tiny_gguf, rows, layers, device, placement):
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build cannot offload to a GPU (a CPU-only build, or no GPU)")
    code, _, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--gpu-layers", layers, "--max-new-tokens", "4")
    assert code == 0, err
    (row,) = rows()
    assert (row["device"], json.loads(row["placement"])) == (device, placement)
