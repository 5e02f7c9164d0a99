"""Benchmark fixtures: a named fake for the one thing this machine lacks (a CUDA device)."""
from __future__ import annotations

import pytest

from hanprompt.bench.machine import LocalMachine


class FakeCudaMachine(LocalMachine):
    """FAKE: this machine with a CUDA GPU that has ``free`` bytes free. Nothing can run on it;
    it only answers the questions asked before loading (is there CUDA, how much VRAM is free)."""

    def __init__(self, free: int):
        super().__init__()
        self.free = free

    def cuda_unavailable(self):
        return None

    def gguf_offload_unavailable(self):
        return None

    def free_vram(self, device: int = 0):
        return self.free

    def gpus(self):
        return [{"index": 0, "name": "FAKE GPU (tests)", "total_bytes": self.free}]


@pytest.fixture
def fake_cuda_machine():
    return FakeCudaMachine


@pytest.fixture(scope="session")
def tied_model(tmp_path_factory):
    """A tiny Llama whose output projection is its input embedding (tie_word_embeddings)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from hanprompt.testing.models import train_bpe_tokenizer

    path = tmp_path_factory.mktemp("models") / "tied"
    tokenizer = train_bpe_tokenizer()
    config = LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=len(tokenizer), tie_word_embeddings=True,
                         max_position_embeddings=256)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
