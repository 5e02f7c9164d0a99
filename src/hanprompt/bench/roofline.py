"""The decode roofline: how many tokens per second memory bandwidth allows, and MBU.

Decoding one token at batch 1 reads every weight once, plus the KV cache of the context so
far, and does about two floating-point operations per weight: far too few to keep the cores
busy, so memory bandwidth sets the limit (the memory-bound side of the roofline model:
S. Williams, A. Waterman and D. Patterson, "Roofline: an insightful visual performance model
for multicore architectures", Communications of the ACM 52(4), 2009). Hence::

    ceiling (tokens/s) = bandwidth (bytes/s) / bytes read per token
    bytes read per token = weight bytes + KV-cache bytes per context token x mean context
    MBU = achieved decode tokens/s / ceiling
        = (weight bytes + KV bytes) / time per output token / peak bandwidth

MBU (model bandwidth utilization) and this formula are from Databricks/MosaicML, "LLM
Inference Performance Engineering: Best Practices" (2023,
https://www.databricks.com/blog/llm-inference-performance-engineering-best-practices), which
reports 60-85% for well-tuned GPU servers. When weights sit in several memories (a split
model), each part is read at its own bandwidth in turn, so the times add:
``1 / ceiling = sum over memories of bytes_m / bandwidth_m``; weights offloaded to RAM but
computed on the GPU cross PCIe every token (memory ``"pcie"``).

All sizes are bytes; bandwidths are GB/s (10^9 bytes/s).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

GB = 1e9

#: where bytes are read from: RAM, GPU memory, RAM over PCIe into a GPU, disk, Apple unified memory
MEMORIES = ("cpu", "cuda", "pcie", "disk", "mps")

_LAYER = re.compile(r"(?:^|\.)(?:layers|h|blocks|blk|block|decoder_layers)\.(\d+)\.")
_EMBEDDING = re.compile(r"(?:^|\.)(?:embed_tokens|wte|word_embeddings|token_embd|tok_embeddings)\.weight$")


def classify(name: str) -> tuple[str, int | None]:
    """A weight's role from its name: ``("layer", i)``, ``("embedding", None)`` or ``("head", None)``.

    Works for transformers names (``model.layers.3.mlp.up_proj.weight``) and GGUF names
    (``blk.3.ffn_up.weight``, ``token_embd.weight``); everything outside the repeated blocks
    and the input embedding (final norm, output projection, position embeddings) is "head".
    """
    match = _LAYER.search(name)
    if match:
        return "layer", int(match.group(1))
    if _EMBEDDING.search(name):
        return "embedding", None
    return "head", None


@dataclass
class ModelShape:
    """Weight bytes by role, and the KV cache's size, of one model at one precision.

    ``layers`` holds each repeated block's bytes in order; ``head`` what every token reads
    outside them (final norm, output projection, tied embeddings included); ``embedding`` the
    input embedding, of which a token reads a single row (so it is left out of the traffic
    unless tied, and then it is already in ``head``); ``kv_per_layer`` the bytes of K and V
    stored per token of context in one layer.
    """

    layers: list[int]
    head: int
    embedding: int
    kv_per_layer: int
    source: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def weight_bytes(self) -> int:
        """All stored weight bytes (what must fit in memory)."""
        return sum(self.layers) + self.head + self.embedding

    @property
    def read_per_token(self) -> int:
        """Weight bytes one decoded token reads."""
        return sum(self.layers) + self.head


@dataclass(frozen=True)
class Traffic:
    """Bytes read per decoded token, by memory: weights, and KV per token of context."""

    weights: dict[str, int]
    kv_per_context_token: dict[str, int]

    def per_token(self, context: float, batch: int = 1) -> dict[str, float]:
        """Bytes one decoding step reads from each memory at ``context`` tokens of context.

        With ``batch`` sequences the weights are read once and each sequence's KV cache once.
        """
        out: dict[str, float] = {m: float(b) for m, b in self.weights.items() if b}
        for memory, kv in self.kv_per_context_token.items():
            if kv:
                out[memory] = out.get(memory, 0.0) + batch * kv * context
        return out

    def total(self, context: float, batch: int = 1) -> float:
        return sum(self.per_token(context, batch).values())


def traffic(shape: ModelShape, layer_memory: list[str], head_memory: str, kv_memory: list[str]) -> Traffic:
    """The traffic of ``shape`` placed with layer i in ``layer_memory[i]`` (KV in ``kv_memory[i]``)."""
    weights: dict[str, int] = {}
    kv: dict[str, int] = {}
    for size, memory, kv_where in zip(shape.layers, layer_memory, kv_memory):
        weights[memory] = weights.get(memory, 0) + size
        kv[kv_where] = kv.get(kv_where, 0) + shape.kv_per_layer
    weights[head_memory] = weights.get(head_memory, 0) + shape.head
    return Traffic(weights, kv)


def mean_decode_context(prompt_tokens: int, gen_tokens: int) -> float:
    """Mean context length over the decoding steps: the prompt plus half the generated tokens."""
    return prompt_tokens + gen_tokens / 2


def ceiling(traffic_: Traffic, bandwidth: dict[str, float], context: float, batch: int = 1) -> float | None:
    """The most tokens/s (summed over the batch) that ``bandwidth`` (GB/s per memory) allows.

    None when a memory the model reads from has no known bandwidth (disk, say).
    """
    seconds = 0.0
    for memory, nbytes in traffic_.per_token(context, batch).items():
        gbs = bandwidth.get(memory)
        if not gbs:
            return None
        seconds += nbytes / (gbs * GB)
    return batch / seconds if seconds > 0 else None


def mbu(achieved_tokens_per_s: float, ceiling_tokens_per_s: float | None) -> float | None:
    """Model bandwidth utilization, 0..1 (above 1 means the bandwidth figure is too low)."""
    if not ceiling_tokens_per_s or achieved_tokens_per_s is None:
        return None
    return achieved_tokens_per_s / ceiling_tokens_per_s
