"""The parts of a benchmark on real inputs: shapes from models and files, tokens, memory, bandwidth."""
from __future__ import annotations

import math

import pytest

from hanprompt.backends import load
from hanprompt.backends.base import Completion, GenParams
from hanprompt.backends.registry import parse_spec
from hanprompt.bench import bandwidth, measure, roofline, shapes, tokens
from hanprompt.bench.memory import PeakMemory


def test_shape_of_a_loaded_model_matches_its_files(tiny_model):
    backend = load(str(tiny_model), packed_linear=False)
    shape, layer_memory, head_memory, kv_memory = shapes.hf_loaded(backend.model)
    params = sum(p.numel() for p in backend.model.parameters())
    assert shape.weight_bytes == 4 * params  # float32
    assert shape.n_layers == 2 and layer_memory == ["cpu", "cpu"] and head_memory == "cpu"
    assert kv_memory == ["cpu", "cpu"]
    # not tied: the input embedding is stored but only one row of it is read per token
    embedding = backend.model.get_input_embeddings().weight
    assert shape.embedding == 4 * embedding.numel()
    assert shape.read_per_token == shape.weight_bytes - shape.embedding
    # 2 (K and V) x 2 KV heads x head size 16 (64 / 4 heads) x 4 bytes
    assert shape.kv_per_layer == 2 * 2 * 16 * 4
    from_files = shapes.hf_folder(tiny_model)
    assert (from_files.layers, from_files.head, from_files.embedding, from_files.kv_per_layer) == \
        (shape.layers, shape.head, shape.embedding, shape.kv_per_layer)
    half = shapes.hf_folder(tiny_model, dtype_bytes=2)  # float32 files loaded as bfloat16
    assert half.weight_bytes == shape.weight_bytes // 2 and half.kv_per_layer == shape.kv_per_layer // 2


def test_tied_embeddings_are_read_in_full_as_the_output_head(tied_model):
    backend = load(str(tied_model), packed_linear=False)
    shape, *_ = shapes.hf_loaded(backend.model)
    vocab_bytes = 4 * backend.model.get_input_embeddings().weight.numel()
    assert shape.embedding == 0 and shape.head >= vocab_bytes
    assert shape.weight_bytes == 4 * sum(p.numel() for p in backend.model.parameters())
    files = shapes.hf_folder(tied_model)
    assert (files.head, files.embedding, files.layers) == (shape.head, shape.embedding, shape.layers)


def test_packed_linear_weights_are_counted_and_a_tied_head_is_a_copy(tied_model):
    plain, *_ = shapes.hf_loaded(load(str(tied_model), packed_linear=False).model)
    backend = load(str(tied_model), packed_linear=True)
    assert backend.info.kernels.startswith("oneDNN packed linear")
    shape, layer_memory, head_memory, _ = shapes.hf_loaded(backend.model)
    vocab_bytes = 4 * backend.model.get_input_embeddings().weight.numel()
    # the layers read what they read before; the head reads its packed copy, and the input
    # embedding (still stored, one row read per token) is no longer the head
    assert shape.layers == plain.layers and shape.head == plain.head
    assert shape.embedding == vocab_bytes and shape.weight_bytes == plain.weight_bytes + vocab_bytes
    assert shape.read_per_token == plain.read_per_token
    assert set(layer_memory) == {"cpu"} and head_memory == "cpu"


def test_korean_efficiency_counts_the_shipped_passages(tiny_model):
    count, why = tokens.counter(parse_spec(str(tiny_model)))
    assert why is None
    k = tokens.korean_efficiency(count)
    texts = tokens.passages()
    assert k["ko"]["chars"] == len(texts["ko"]) and k["en"]["chars"] == len(texts["en"])
    assert any("\uac00" <= ch <= "\ud7a3" for ch in texts["ko"]) and texts["en"].isascii()
    assert k["ko"]["tokens"] == count(texts["ko"]) > 0
    assert k["ko_en_ratio"] == pytest.approx(k["ko"]["tokens"] / k["en"]["tokens"])


def test_tokenizer_of_a_server_is_unknown():
    from hanprompt.backends.registry import ModelSpec

    count, why = tokens.counter(ModelSpec("openai", "m@http://127.0.0.1:1/v1"))
    assert count is None and "not known" in why


def test_filler_prompt_shorter_than_the_template_is_one_word(tiny_model):
    backend = load(str(tiny_model))
    count, _ = tokens.counter(parse_spec(str(tiny_model)))
    (message,) = tokens.filler_messages(count, backend.render, 3)
    assert message["content"].split() == ["0.", tokens.passages()["ko"].split()[0]]  # the number and one word


@pytest.mark.parametrize("target", [40, 64, 200])
def test_filler_prompt_fits_the_target_token_count(tiny_model, target):
    backend = load(str(tiny_model))
    count, _ = tokens.counter(parse_spec(str(tiny_model)))
    messages = tokens.filler_messages(count, backend.render, target)
    n = count(backend.render(messages))
    assert n <= target
    words = tokens.passages()["ko"].split()
    longer = messages[0]["content"] + " " + words[len(messages[0]["content"].split()) - 1]
    assert count(backend.render([{"role": "user", "content": longer}])) > n  # not far below: one word more grows it
    assert backend.generate(messages, GenParams(max_new_tokens=1)).input_tokens == n


def test_filler_prompts_of_different_variants_differ_from_the_start(tiny_model):
    backend = load(str(tiny_model))
    count, _ = tokens.counter(parse_spec(str(tiny_model)))
    prompts = [tokens.filler_messages(count, backend.render, 64, variant=v)[0]["content"] for v in range(3)]
    assert len({p.split()[0] for p in prompts}) == 3 and len({p.split()[1] for p in prompts}) == 3
    assert all(count(backend.render([{"role": "user", "content": p}])) <= 64 for p in prompts)


def test_peak_memory_sees_an_allocation():
    with PeakMemory() as memory:
        block = bytearray(200 * 1024 * 1024)  # kept alive past the block's end: sampled at exit
    assert memory.peak_rss - memory.start_rss >= 150 * 1024 * 1024
    assert memory.peak_vram is None and memory.vram_delta is None
    del block


def test_peak_memory_tracks_a_vram_reading():
    readings = iter([100, 150, 400] + [250] * 1000)
    with PeakMemory(vram=lambda: next(readings)) as memory:
        pass
    assert memory.start_vram == 100 and memory.peak_vram >= 150 and memory.vram_delta == memory.peak_vram - 100


def test_cpu_bandwidth_measurement_gives_a_rate():
    gbs = bandwidth.measure_cpu(size_mb=16, passes=2)
    assert math.isfinite(gbs) and gbs > 0


def _c(ttft: float, total: float, out: int = 5, n_in: int = 40) -> Completion:
    return Completion("", "", n_in, out, ttft, total, "length")


def test_timing_metrics_follow_the_definitions():
    m = measure.Measured(load_s=1.5, info={}, prompt_tokens=40,
                         completions=[_c(0.2, 1.0), _c(0.4, 1.2), _c(0.2, 0.6)],
                         batch=[_c(0.5, 2.5), _c(0.5, 2.5), _c(0.5, 2.5)], batch_shared_clock=True,
                         peak_rss=10, start_rss=5, peak_vram=None)
    t = measure.timing_metrics(m)
    assert t["prefill_tok_s"]["mean"] == pytest.approx((200 + 100 + 200) / 3)  # 40 tokens / TTFT
    assert t["decode_tok_s"]["p50"] == pytest.approx(4 / 0.8)  # 4 tokens after the first / (E2E - TTFT)
    assert t["e2e_s"]["mean"] == pytest.approx(2.8 / 3)
    assert t["batch"]["decode_tok_s"] == pytest.approx(12 / 2.0)  # one shared clock: 3 x 4 tokens in 2 s
    m.batch_shared_clock = False  # one row after another: the times add
    assert measure.timing_metrics(m)["batch"]["decode_tok_s"] == pytest.approx(12 / 6.0)


def test_mean_context_feeds_the_kv_traffic(tiny_model):
    backend = load(str(tiny_model))
    shape, layers, head, kv = shapes.hf_loaded(backend.model)
    t = roofline.traffic(shape, layers, head, kv)
    ctx = roofline.mean_decode_context(100, 20)
    assert t.total(ctx) == shape.read_per_token + shape.kv_per_layer * shape.n_layers * 110
