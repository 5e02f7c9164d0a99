"""The roofline arithmetic, placement rules, fit advice and summaries, on numbers worked by hand."""
from __future__ import annotations

import math

import pytest

from hanprompt.bench import fit, roofline, shapes
from hanprompt.bench.roofline import ModelShape, Traffic
from hanprompt.bench.stats import summary
from hanprompt.errors import for_cli

GB = 10**9
GIB = 1024**3


def test_ceiling_is_bandwidth_over_bytes_per_token():
    # 1 GB of weights at 10 GB/s: 10 tokens/s; 1 MB of KV per context token at 1000 tokens adds 1 GB.
    t = Traffic({"cpu": GB}, {"cpu": 10**6})
    assert roofline.ceiling(t, {"cpu": 10}, context=0) == pytest.approx(10)
    assert roofline.ceiling(t, {"cpu": 10}, context=1000) == pytest.approx(5)
    assert roofline.mbu(4, 5) == pytest.approx(0.8)
    assert roofline.mbu(4, None) is None


def test_split_memories_add_their_times_and_unknown_bandwidth_gives_none():
    # 1 GB in VRAM at 1000 GB/s (1 ms) + 1 GB over PCIe at 25 GB/s (40 ms): 1 / 0.041 s.
    t = Traffic({"cuda": GB, "pcie": GB}, {"cuda": 0})
    assert roofline.ceiling(t, {"cuda": 1000, "pcie": 25}, context=100) == pytest.approx(1 / 0.041)
    assert roofline.ceiling(t, {"cuda": 1000}, context=100) is None


def test_batch_reads_weights_once_and_each_kv_cache():
    t = Traffic({"cpu": GB}, {"cpu": 10**6})
    # batch 4 at 1000 tokens of context: 1 GB + 4 GB per step at 10 GB/s = 0.5 s per step, 4 tokens.
    assert roofline.ceiling(t, {"cpu": 10}, context=1000, batch=4) == pytest.approx(8)


def test_mean_decode_context():
    assert roofline.mean_decode_context(512, 128) == 576


@pytest.mark.parametrize(
    "name, role",
    [
        ("model.layers.12.mlp.up_proj.weight", ("layer", 12)),
        ("blk.3.ffn_up.weight", ("layer", 3)),
        ("transformer.h.0.attn.c_attn.weight", ("layer", 0)),
        ("model.embed_tokens.weight", ("embedding", None)),
        ("token_embd.weight", ("embedding", None)),
        ("lm_head.weight", ("head", None)),
        ("output_norm.weight", ("head", None)),
        ("model.norm.weight", ("head", None)),
    ],
)
def test_classify(name, role):
    assert roofline.classify(name) == role


def _shape(n=4, layer=100, head=50, embedding=60, kv=2):
    return ModelShape([layer] * n, head, embedding, kv)


def test_gguf_placement_follows_llama_cpp():
    shape = _shape()
    assert shapes.gguf_placement(shape, 0) == (["cpu"] * 4, "cpu", ["cpu"] * 4)
    assert shapes.gguf_placement(shape, 1)[0] == ["cpu", "cpu", "cpu", "cuda"]  # the last layers first
    assert shapes.gguf_placement(shape, 4)[1] == "cpu"  # the output head needs one more
    assert shapes.gguf_placement(shape, 5) == (["cuda"] * 4, "cuda", ["cuda"] * 4)
    t = roofline.traffic(shape, *shapes.gguf_placement(shape, 2))
    assert t.weights == {"cpu": 250, "cuda": 200} and t.kv_per_context_token == {"cpu": 4, "cuda": 4}


def test_gguf_fit_advice_counts_weights_and_kv():
    mib = 1024**2
    shape = ModelShape([100 * mib] * 10, 50 * mib, 60 * mib, kv_per_layer=1024)
    # 2 GiB free: reserve 256 MiB; all 10 layers (1000 MiB) + head + KV fit.
    assert fit.gguf_gpu_layers(shape, 2 * GIB, context=1000) == "all"
    # 800 MiB free - 256 MiB reserve = 544 MiB: 5 layers of 100 MiB + 5 x 1 MiB of KV.
    assert fit.gguf_gpu_layers(shape, 800 * mib, context=1024) == 5
    assert fit.gguf_gpu_layers(shape, 300 * mib, context=1024) == 0
    advice = fit.oom_advice("gguf", shape, 800 * mib, None, 1024)
    assert "--gpu-layers" in for_cli(advice) and "5 (of 10)" in advice
    assert "gpu_layers" in advice and "--" not in advice  # a library caller reads its own argument


def test_hf_max_memory_split():
    mib = 1024**2
    shape = ModelShape([500 * mib] * 8, 100 * mib, 100 * mib, kv_per_layer=0)
    split = fit.hf_max_memory(shape, free_vram=3 * GIB, available_ram=20 * GIB, context=100)
    # 3 GiB - 256 MiB reserve = 2.75 GiB, floored to 2.7 GiB: the embedding and 5 layers (2600 MiB);
    # the other 1600 MiB + 10% in RAM = 1.72 GiB, rounded up to 1.8.
    assert split == {"max_memory": "0=2.7GiB,cpu=1.8GiB", "gpu_layers": 5, "needs_disk": False}
    tight = fit.hf_max_memory(shape, free_vram=3 * GIB, available_ram=GIB, context=100)
    assert tight["needs_disk"]
    advice = fit.oom_advice("hf", shape, 3 * GIB, GIB, 100)
    assert "--offload-folder" in for_cli(advice) and "offload_folder=DIR" in advice and "--" not in advice


def test_is_oom_recognises_real_messages():
    import torch

    from hanprompt.errors import DeviceError

    assert fit.is_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert fit.is_oom(DeviceError("out of GPU memory loading x; try --device auto"))
    assert fit.is_oom(MemoryError())
    assert fit.is_oom(RuntimeError("ggml_backend_cuda_buffer_type_alloc_buffer: failed to allocate"))
    assert not fit.is_oom(ValueError("Failed to load model from file: x.gguf"))


def test_slow_path_warnings():
    assert fit.slow_paths("hf", {"cpu": "all"}, None, 30) == []
    partial = fit.slow_paths("hf", {"cuda:0": 20, "cpu": 10}, None, 30)
    assert len(partial) == 1 and "PCIe" in partial[0]
    assert any("disk" in w for w in fit.slow_paths("hf", {"cuda:0": 20, "disk": 3}, None, 30))
    assert "28 of 30" in fit.slow_paths("gguf", {}, 2, 30)[0]
    assert fit.slow_paths("gguf", {}, "all", 30) == [] and fit.slow_paths("gguf", {}, 31, 30) == []


def test_summary():
    s = summary([1.0, 2.0, 3.0, 4.0, 10.0])
    assert s["mean"] == 4 and s["p50"] == 3 and s["p90"] == pytest.approx(7.6) and s["n"] == 5
    assert s["stdev"] == pytest.approx(math.sqrt(12.5))
    assert summary([2.5]) == {"mean": 2.5, "stdev": None, "p50": 2.5, "p90": 2.5, "n": 1}
