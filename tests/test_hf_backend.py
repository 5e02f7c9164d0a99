"""The hf backend on a tiny real Llama: templating, decoding, streaming, batching, placement."""
import json
import shutil

import pytest

from hanprompt.backends import GenParams, load
from hanprompt.backends.hf import parse_max_memory
from hanprompt.errors import BackendError, DeviceError, ModelNotFound, UsageError

KO = [{"role": "user", "content": "한국의 수도는 어디인가요?"}]
EN = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of England?"}]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return load(str(tiny_model))


def test_chat_template_is_applied(backend):
    prompt = backend.render(EN)
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of England?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert backend.info.template == "chat" and backend.info.warnings == []


def test_model_without_template_falls_back_to_plain_text_with_warning(tiny_model_plain):
    b = load(str(tiny_model_plain))
    assert b.info.template == "plain"
    assert "no chat template" in b.info.warnings[0]
    assert b.render(EN) == "Be brief.\n\nWhat is the capital of England?"


def test_template_without_system_role_folds_it_into_the_user_turn(tmp_path, tiny_model):
    folder = tmp_path / "no-system"
    shutil.copytree(tiny_model, folder)
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    strict = (
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "<|im_start|>assistant\n"
    )
    (folder / "chat_template.jinja").write_text(strict)
    cfg.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(cfg))
    b = load(str(folder))
    assert b.render(EN).startswith("<|im_start|>user\nBe brief.\n\nWhat is the capital")


def test_greedy_is_deterministic_and_counts_tokens(backend):
    params = GenParams(max_new_tokens=12)
    a = backend.generate(KO, params)
    b = backend.generate(KO, params)
    assert a.text == b.text
    assert a.input_tokens == len(backend.tokenizer(a.prompt, add_special_tokens=False).input_ids)
    assert a.output_tokens == 12 and a.finish_reason == "length"
    assert 0 < a.ttft_s <= a.total_s and a.tokens_per_s > 0


def test_seeded_sampling_repeats_and_differs_from_another_seed(backend):
    s1 = backend.generate(KO, GenParams(max_new_tokens=16, temperature=1.5, seed=1))
    s1b = backend.generate(KO, GenParams(max_new_tokens=16, temperature=1.5, seed=1))
    s2 = backend.generate(KO, GenParams(max_new_tokens=16, temperature=1.5, seed=2))
    assert s1.text == s1b.text
    assert s1.text != s2.text


def test_generation_stops_at_eos(tmp_path, tiny_model, backend):
    """Make the token the model emits fourth its EOS: generation must stop there."""
    free = backend.generate(KO, GenParams(max_new_tokens=12))
    ids = backend.tokenizer(free.prompt + free.text, add_special_tokens=False).input_ids
    new = backend.tokenizer.encode(free.text, add_special_tokens=False)
    # the first position whose token did not appear before it
    k = next(i for i in range(1, len(new)) if new[i] not in new[:i])
    folder = tmp_path / "eos"
    shutil.copytree(tiny_model, folder)
    gen = json.loads((folder / "generation_config.json").read_text())
    gen["eos_token_id"] = [new[k]]
    (folder / "generation_config.json").write_text(json.dumps(gen))
    b = load(str(folder))
    c = b.generate(KO, GenParams(max_new_tokens=12))
    assert ids  # the free run produced tokens
    assert c.finish_reason == "eos"
    assert c.output_tokens == k  # the answer's tokens: the end-of-turn token is not counted
    assert c.text == backend.tokenizer.decode(new[:k])
    # ignore_eos (benchmarks): the same model runs to max_new_tokens, EOS masked out
    full = b.generate(KO, GenParams(max_new_tokens=12, ignore_eos=True))
    assert full.output_tokens == 12 and full.finish_reason == "length"


def test_ignore_eos_stays_out_of_dumps_unless_set():
    assert "ignore_eos" not in GenParams().model_dump()  # cache keys and logs as before
    assert GenParams(ignore_eos=True).model_dump()["ignore_eos"] is True
    assert GenParams(ignore_eos=True) != GenParams()


def test_damaged_weights_file_is_a_backend_error(tmp_path, tiny_model):
    folder = tmp_path / "damaged"
    shutil.copytree(tiny_model, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BackendError, match="damaged or incomplete"):
        load(str(folder))


def test_streaming_pieces_join_to_the_response(backend):
    pieces: list[str] = []
    c = backend.generate(KO, GenParams(max_new_tokens=24), on_text=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == c.text


def test_tokenizer_round_trips_korean(backend):
    text = "제주도는 한국에서 가장 큰 섬입니다. 성산일출봉!"
    ids = backend.tokenizer.encode(text, add_special_tokens=False)
    assert backend.tokenizer.decode(ids) == text


def test_batch_rows_equal_single_generations(backend):
    params = GenParams(max_new_tokens=10)
    prompts = [KO, EN, [{"role": "user", "content": "Hi"}]]
    batch = backend.generate_batch([(m, params) for m in prompts])
    for messages, row in zip(prompts, batch):
        single = backend.generate(messages, params)
        assert row.text == single.text
        assert row.input_tokens == single.input_tokens
        assert row.output_tokens == single.output_tokens


def test_model_is_loaded_once_per_spec(tiny_model, backend):
    assert load(str(tiny_model)) is backend
    assert load(f"hf:{tiny_model}") is backend


def test_placement_and_dtype_are_reported(backend):
    assert backend.info.device == "cpu"
    assert backend.info.placement == {"cpu": "all"}
    assert backend.info.dtype == "float32"


def test_auto_placement_reports_the_device_map(tiny_model):
    b = load(str(tiny_model), device="auto", max_memory="cpu=2GiB")
    assert b.info.device == "cpu"
    assert set(b.info.placement) == {"cpu"}
    assert b.generate(KO, GenParams(max_new_tokens=3)).output_tokens == 3


def test_bfloat16_on_cpu_loads(tiny_model):
    b = load(str(tiny_model), dtype="bfloat16")
    assert b.info.dtype == "bfloat16"


def test_refusals(tmp_path, tiny_model):
    with pytest.raises(DeviceError, match="float16 on CPU"):
        load(str(tiny_model), dtype="float16")
    with pytest.raises(DeviceError, match="CUDA is not available"):
        load(str(tiny_model), device="cuda")
    with pytest.raises(DeviceError, match="needs a CUDA GPU"):
        load(str(tiny_model), quantize="4bit")
    with pytest.raises(ModelNotFound, match="does not exist"):
        load(str(tmp_path / "missing"))
    with pytest.raises(ModelNotFound, match="not a model folder"):
        load(str(tmp_path))
    with pytest.raises(UsageError, match="^max_memory and offload_folder only apply with device=auto$"):
        load(str(tiny_model), max_memory="cpu=1GiB")  # a library caller reads its own argument names
    with pytest.raises(UsageError, match="^device: "):
        load(str(tiny_model), device="tpu")


def test_hub_id_not_cached_says_how_to_pass_a_path(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from hanprompt.errors import for_cli

    with pytest.raises(ModelNotFound, match="model=PATH") as caught:
        load("hanprompt-tests/no-such-model")
    assert "--model PATH" in for_cli(caught.value) and "--" not in str(caught.value)


def test_max_memory_parsing():
    assert parse_max_memory("0=3GiB, cpu=20GiB") == {0: "3GiB", "cpu": "20GiB"}
    with pytest.raises(UsageError, match="DEVICE=SIZE"):
        parse_max_memory("0:3GiB")
    with pytest.raises(UsageError, match="unknown device"):
        parse_max_memory("gpu=3GiB")


def test_params_are_validated():
    # the library names its arguments; the command line renders them as flags (errors.for_cli)
    with pytest.raises(UsageError, match="^max_new_tokens must be"):
        GenParams.build(max_new_tokens=0)
    with pytest.raises(UsageError, match="^top_p must be") as e:
        GenParams.build(top_p=1.5)
    from hanprompt.errors import for_cli

    assert for_cli(e.value).startswith("--top-p must be")


def test_split_placement_is_summarised_per_device():
    """A stand-in for a model that accelerate split over a GPU, the CPU and disk (no GPU here)."""
    from hanprompt.backends.hf import _placement

    class FakeSplitModel:  # named fake: a CUDA placement cannot exist on this machine
        hf_device_map = {"model.embed_tokens": 0, "model.layers.0": 0, "model.layers.1": "cpu", "lm_head": "disk"}

    device, counts = _placement(FakeSplitModel())
    assert device == "cuda:0+cpu+disk"
    assert counts == {"cuda:0": 2, "cpu": 1, "disk": 1}
