"""The sampler shared by ``ask`` and batched runs: each row draws from its own generator.

A row's next token depends only on its own logits, its own parameters and its own
``torch.Generator`` (seeded from the request's seed), never on the rows beside it, so a seeded
request yields the same tokens alone, in any batch, at any batch size.

Per step and row: the model's repetition penalty over the row's prompt and generated ids
(transformers' ``RepetitionPenaltyLogitsProcessor``: positive logits divided by the penalty,
negative ones multiplied); the stop tokens masked out for a request with ``ignore_eos``; then
greedy rows take the argmax. Sampled rows divide the logits by
their temperature, keep the ``top_k`` largest (the model's ``generation_config.top_k``, else
transformers' default of 50), keep the smallest set of most likely tokens whose probability
reaches ``top_p`` (nucleus sampling, Holtzman et al. 2020), and invert the cumulative
distribution of what is left at one uniform draw ``u ~ U[0, 1)`` from the row's generator:
exactly one draw per step, so a row's random stream never depends on its neighbours.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from hanprompt.backends.base import GenParams

if TYPE_CHECKING:
    import torch

#: bumped whenever the same seed would give different tokens (it is part of the cache key)
SAMPLER_VERSION = 2
DEFAULT_TOP_K = 50  # transformers' GenerationConfig default, used when the model sets none


class RowSampler:
    """One row's sampling state: its parameters, its generator and the ids it has seen.

    ``ids`` are the prompt's token ids; the generator is seeded with ``params.seed`` (or from
    the operating system's entropy when there is none, so unseeded repeats differ).
    """

    def __init__(self, params: GenParams, ids: Sequence[int], *, top_k: int | None = None,
                 repetition_penalty: float | None = None, stop_ids: Sequence[int] = ()):
        import torch

        self.params = params
        # ignore_eos: the stop tokens can never be chosen (transformers' min_new_tokens does the same)
        self.suppress = sorted(stop_ids) if params.ignore_eos else []
        self.top_k = DEFAULT_TOP_K if top_k is None else top_k
        self.penalty = repetition_penalty if repetition_penalty not in (None, 1.0) else None
        self.seen = list(ids) if self.penalty else []
        self.generator: torch.Generator | None = None
        if not params.greedy:
            self.generator = torch.Generator(device="cpu")
            if params.seed is not None:
                self.generator.manual_seed(params.seed)
            else:
                self.generator.seed()

    def draw(self) -> float:
        """The next uniform number of this row's stream."""
        import torch

        return float(torch.rand((), generator=self.generator, dtype=torch.float64))

    def record(self, token: int) -> None:
        if self.penalty:
            self.seen.append(token)


def next_tokens(logits: "torch.Tensor", rows: Sequence[RowSampler]) -> list[int]:
    """The next token of every row: ``logits`` has shape (rows, vocabulary), any float dtype.

    Rows are handled one by one on their own slice of ``logits`` (so a row's result cannot
    depend on another's values); the cost is negligible next to the model's forward pass.
    """
    import torch

    logits = logits.float()
    out: list[int] = []
    for i, row in enumerate(rows):
        scores = logits[i]
        if row.penalty:
            scores = _repetition_penalty(scores, row.seen, row.penalty)
        if row.suppress:
            scores = scores.index_fill(0, torch.tensor(row.suppress, device=scores.device), float("-inf"))
        if row.generator is None:
            token = int(torch.argmax(scores))
        else:
            token = _sample(scores, row)
        row.record(token)
        out.append(token)
    return out


def _repetition_penalty(scores: "torch.Tensor", seen: list[int], penalty: float) -> "torch.Tensor":
    import torch

    ids = torch.tensor(sorted(set(seen)), dtype=torch.long, device=scores.device)
    picked = scores.gather(0, ids)
    picked = torch.where(picked < 0, picked * penalty, picked / penalty)
    return scores.scatter(0, ids, picked)


def _sample(scores: "torch.Tensor", row: RowSampler) -> int:
    import torch

    params = row.params
    scores = scores / params.temperature
    if 0 < row.top_k < scores.numel():
        top, order = torch.topk(scores, row.top_k)  # sorted, largest first
    else:
        top, order = torch.sort(scores, descending=True, stable=True)
    probs = torch.softmax(top, dim=-1)  # renormalised over what top-k kept
    if params.top_p < 1.0:
        before = torch.cumsum(probs, dim=0) - probs  # mass of the more likely tokens
        keep = max(int((before < params.top_p).sum()), 1)
        probs, order = probs[:keep], order[:keep]
    cdf = torch.cumsum(probs.double(), dim=0)
    u = row.draw() * float(cdf[-1])
    index = int(torch.searchsorted(cdf, torch.tensor([u], dtype=cdf.dtype, device=cdf.device), right=True)[0])
    return int(order[min(index, order.numel() - 1)])
