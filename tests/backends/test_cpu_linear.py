"""oneDNN packed linear layers for float32 models on the CPU (backends.cpu_linear), on a real tiny model."""
from __future__ import annotations

import json
import re

import pytest
import torch

from hanprompt.backends import cpu_linear, load
from hanprompt.backends.base import GenParams

pytestmark = pytest.mark.skipif(not cpu_linear.available(), reason="this torch has no oneDNN packed-linear ops")

MESSAGES = [{"role": "user", "content": "한국의 수도는 어디인가요? 한 문장으로 답해 주세요."}]


def _linears(model) -> tuple[int, int]:
    kinds = [type(m).__name__ for m in model.modules()]
    return kinds.count("Linear"), kinds.count("PackedLinear")


def test_every_linear_is_packed_and_gives_the_plain_product(tiny_model):
    plain = load(str(tiny_model), packed_linear=False)
    packed = load(str(tiny_model), packed_linear=True)
    n_plain, _ = _linears(plain.model)
    assert n_plain > 0 and _linears(packed.model) == (0, n_plain)
    assert packed.info.kernels == f"oneDNN packed linear x{n_plain}" and plain.info.kernels == ""
    ids = plain.tokenizer([plain.render(MESSAGES)] * 3, return_tensors="pt", add_special_tokens=False)
    with torch.inference_mode():
        a = plain.model(**ids).logits
        b = packed.model(**ids).logits
    assert a.shape == b.shape
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * float(a.abs().max()))


def test_packed_and_plain_models_answer_alike(tiny_model):
    params = GenParams(max_new_tokens=24)
    a = load(str(tiny_model), packed_linear=False).generate(MESSAGES, params)
    b = load(str(tiny_model), packed_linear=True).generate(MESSAGES, params)
    assert (b.text, b.output_tokens, b.finish_reason) == (a.text, a.output_tokens, a.finish_reason)


def test_only_float32_on_the_cpu_is_packed(tiny_model):
    assert load(str(tiny_model), dtype="bfloat16").info.kernels == ""
    assert _linears(load(str(tiny_model), dtype="bfloat16").model)[1] == 0


def test_a_disagreeing_product_leaves_the_model_plain(tiny_model, monkeypatch):
    from hanprompt.backends.hf import HFBackend

    monkeypatch.setattr(cpu_linear, "_agrees", lambda linear, packed: False)
    backend = HFBackend.load(str(tiny_model), packed_linear=True)  # not the registry's copy of another test
    assert backend.info.kernels == "" and _linears(backend.model)[1] == 0


def test_by_default_a_measurement_at_load_decides_and_the_stats_say_which(tiny_model):
    """'auto' (the default) packs exactly when the measured speed-up reaches MIN_SPEEDUP."""
    from hanprompt.backends.hf import HFBackend

    backend = HFBackend.load(str(tiny_model))
    n_plain, n_packed = _linears(backend.model)
    measured = re.search(r"measured ([0-9.]+)x", backend.info.kernels)
    assert measured, backend.info.kernels
    speedup = float(measured.group(1))
    if n_packed:
        assert n_plain == 0 and speedup >= cpu_linear.MIN_SPEEDUP
        assert backend.info.kernels.startswith(f"oneDNN packed linear x{n_packed}, measured")
    else:
        assert n_plain > 0 and speedup < cpu_linear.MIN_SPEEDUP
        assert backend.info.kernels.startswith("plain nn.Linear (oneDNN packed measured")


def test_the_measurement_times_every_shape_and_refuses_a_disagreeing_product(tiny_model, monkeypatch):
    model = load(str(tiny_model), packed_linear=False).model
    assert cpu_linear.measure_speedup(model, reps=3) > 0
    monkeypatch.setattr(cpu_linear, "_agrees", lambda linear, packed: False)
    assert cpu_linear.measure_speedup(model, reps=3) == 0.0


def test_the_measurement_is_made_once_per_host_and_kept_in_the_cache_for_every_home(tiny_model, hanprompt_home,
                                                                                     tmp_path, monkeypatch):
    from hanprompt.backends.hf import HFBackend

    cache = tmp_path / "new" / "cache"  # not there yet: made on the first measurement
    monkeypatch.setenv("HANPROMPT_CACHE", str(cache))
    first = HFBackend.load(str(tiny_model))
    saved = json.loads((cache / cpu_linear.CACHE_FILE).read_text(encoding="utf-8"))
    (key, speedup), = saved.items()
    assert "torch" in key and "threads" in key and speedup > 0

    def measured_again(model, reps=5):
        raise AssertionError("measured again")

    monkeypatch.setattr(cpu_linear, "measure_speedup", measured_again)
    monkeypatch.setenv("HANPROMPT_HOME", str(tmp_path / "another-home"))  # a new log: the host's figure still holds
    second = HFBackend.load(str(tiny_model))
    assert f"measured {speedup:.2f}x" in second.info.kernels
    assert _linears(second.model) == _linears(first.model)


def test_the_option_is_read_from_an_experiment_file_and_the_command_line(tiny_model, tmp_path):
    from hanprompt.experiments import model_entries
    from hanprompt.experiments.spec import ModelEntry

    assert ModelEntry.model_validate({"spec": str(tiny_model), "packed_linear": False}).packed_linear is False
    (entry,) = model_entries([str(tiny_model)], {"packed_linear": False})
    assert entry.packed_linear is False
