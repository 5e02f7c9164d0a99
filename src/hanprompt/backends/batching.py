"""Continuous batching for transformers causal LMs, on top of transformers' ``DynamicCache``.

Rows with different ``max_new_tokens``, temperatures, top-p and seeds share one batch. Between
two decoding steps a row that reached its EOS or its budget leaves the batch (and is handed to
``on_finished`` at once), and waiting rows take the free slots: their prompts are prefilled as a
small batch of their own and their keys and values joined to the running cache, left-padded to
a common length and masked. Every row samples through :mod:`hanprompt.backends.sampling`, so
its tokens depend on its own seed only.

Out of memory while generating: the rows in flight go back to the queue, the batch is halved,
and the run goes on (down to one row, after which the error is raised).

Refilling needs a cache whose layers are plain ``DynamicLayer`` s (full attention); for models
with sliding-window or other cache layers the rows still leave as they finish, but new rows
wait until the batch has emptied.
"""
from __future__ import annotations

import functools
import inspect
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

from hanprompt.backends.base import GenParams
from hanprompt.backends.sampling import RowSampler, next_tokens
from hanprompt.errors import DeviceError, arg
from hanprompt.timing import Phases


@dataclass(eq=False)
class Row:
    """One request in the batch, and what it produced: token ids, times (perf_counter seconds)."""

    index: int
    prompt: str
    params: GenParams
    on_token: Callable[[int], None] | None = None
    queued_at: float = 0.0
    admitted_at: float = 0.0
    first_at: float = 0.0
    last_at: float = 0.0
    prefill_s: float = 0.0
    input_tokens: int = 0
    tokens: list[int] = field(default_factory=list)
    finish: str | None = None  # "eos" | "length" once done
    sampler: RowSampler | None = None

    def reset(self) -> None:
        self.tokens, self.finish, self.sampler = [], None, None


def _pad_left(tensor, n: int, dim: int):
    import torch

    if n <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = n
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


class ContinuousBatcher:
    """Runs rows through ``model`` at most ``max_batch`` at a time, refilling slots as rows end.

    ``encode(prompts)`` returns a left-padded ``input_ids`` / ``attention_mask`` batch; ``stop_ids``
    end a row (the stop token counts as generated, and is not part of the text). ``phases``
    (optional) accumulates the prefill and decode seconds.
    """

    def __init__(self, model, encode: Callable[[list[str]], dict], stop_ids: set[int], *,
                 top_k: int | None = None, repetition_penalty: float | None = None,
                 phases: Phases | None = None, oom_errors: tuple[type[BaseException], ...] = (),
                 context_length: int | None = None, overflow: Callable[[int, int], Exception] | None = None):
        import torch

        self.model, self.encode, self.stop_ids = model, encode, stop_ids
        self.top_k, self.repetition_penalty = top_k, repetition_penalty
        self.context_length, self.overflow = context_length, overflow
        self.phases = phases or Phases()
        self.oom_errors = oom_errors or (torch.OutOfMemoryError,)
        self.logits_kw = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
        # transformers 5.2x renamed the forward's ``past_key_values`` to ``cache``
        self.cache_arg = "cache" if _accepts(model, "cache") else "past_key_values"
        self._clear()

    def _clear(self) -> None:
        self.active: list[Row] = []
        self.cache = None
        self.mask = None
        self.refillable = True

    # ---- the loop ---------------------------------------------------------------------
    def run(self, rows: Sequence[Row], max_batch: int,
            on_finished: Callable[[list[Row]], None], on_notice: Callable[[str], None] | None = None) -> None:
        """Generate every row; ``on_finished`` gets the rows that ended at each step, in order."""
        import torch

        now = time.perf_counter()
        for r in rows:
            r.queued_at = now
        pending = deque(rows)
        capacity = max(1, max_batch)
        warned = False
        self._clear()
        while pending or self.active:
            group: list[Row] = []
            try:
                with torch.inference_mode():
                    if pending and len(self.active) < capacity and (not self.active or self.refillable):
                        group = [pending.popleft() for _ in range(min(capacity - len(self.active), len(pending)))]
                        self._admit(group)
                    else:
                        self._step()
            except self.oom_errors as e:
                in_flight = sorted(self.active + [r for r in group if r not in self.active], key=lambda r: r.index)
                if len(in_flight) <= 1:
                    raise DeviceError(
                        f"out of memory while generating one row; lower {arg('max_new_tokens')}, shorten the "
                        f"prompt, or use {arg('device', 'auto')} {arg('max_memory')} to offload part of the model"
                    ) from e
                capacity = max(1, len(in_flight) // 2)
                for r in reversed(in_flight):
                    r.reset()
                    pending.appendleft(r)
                self._clear()
                _free_memory()
                if not warned and on_notice is not None:
                    on_notice(f"out of memory with {len(in_flight)} rows in a batch: "
                              f"retrying them {capacity} at a time")
                warned = True
                continue
            done = [r for r in self.active if r.finish is not None]
            if done:
                self._drop(done)
                on_finished(done)

    # ---- prefill: rows join ---------------------------------------------------------
    def _admit(self, group: list[Row]) -> None:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        GrowingLayer = _growing_layer_class()
        t0 = time.perf_counter()
        batch = self.encode([r.prompt for r in group])
        device = self.model.device
        input_ids = batch["input_ids"].to(device)
        mask = batch["attention_mask"].to(device)
        for r, ids, m in zip(group, batch["input_ids"], batch["attention_mask"]):
            real = ids[m.bool()].tolist()
            if self.context_length is not None and len(real) + r.params.max_new_tokens > self.context_length:
                # never run past the positions the model knows (callers check first; this is the net)
                raise (self.overflow or _overflow)(len(real), r.params.max_new_tokens)
            r.admitted_at, r.input_tokens = t0, len(real)
            r.sampler = RowSampler(r.params, real, top_k=self.top_k, repetition_penalty=self.repetition_penalty,
                                   stop_ids=self.stop_ids)
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
        cache = DynamicCache(config=self.model.config)
        cache.layers = [GrowingLayer() if type(layer) is DynamicLayer else layer for layer in cache.layers]
        out = self._forward(input_ids, mask, position_ids, cache)
        cache = self._cache_of(out)
        tokens = next_tokens(out.logits[:, -1, :], [r.sampler for r in group])
        if not self.active:
            self.cache, self.mask, self.active = cache, mask, list(group)
            self.refillable = all(type(layer) is GrowingLayer for layer in getattr(cache, "layers", ()))
        else:
            self._join(cache, mask)
            self.active.extend(group)
        now = time.perf_counter()
        for r, t in zip(group, tokens):
            r.first_at, r.prefill_s = now, now - t0
            self._push(r, t, now)
        self.phases.add("prefill", now - t0)

    def _join(self, cache, mask) -> None:
        """Append a freshly prefilled cache to the running one, left-padding the shorter."""
        import torch

        have, new = self.mask.shape[1], mask.shape[1]
        width = max(have, new)
        for old_layer, new_layer in zip(self.cache.layers, cache.layers):
            for name in ("keys", "values"):
                a = _pad_left(getattr(old_layer, name), width - have, dim=-2)
                b = _pad_left(getattr(new_layer, name), width - new, dim=-2)
                setattr(old_layer, name, torch.cat([a, b], dim=0))
        self.mask = torch.cat([_pad_left(self.mask, width - have, 1), _pad_left(mask, width - new, 1)], dim=0)

    # ---- decode: one token for every row ----------------------------------------------
    def _step(self) -> None:
        import torch

        t0 = time.perf_counter()
        device = self.mask.device
        last = torch.tensor([[r.tokens[-1]] for r in self.active], dtype=torch.long, device=device)
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=1)
        position_ids = self.mask.sum(dim=1, keepdim=True) - 1
        out = self._forward(last, self.mask, position_ids, self.cache)
        self.cache = self._cache_of(out)
        tokens = next_tokens(out.logits[:, -1, :], [r.sampler for r in self.active])
        now = time.perf_counter()
        for r, t in zip(self.active, tokens):
            self._push(r, t, now)
        self.phases.add("decode", now - t0)

    def _forward(self, input_ids, mask, position_ids, cache):
        kwargs = {self.cache_arg: cache, **self.logits_kw}
        return self.model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
                          use_cache=True, **kwargs)

    def _cache_of(self, out):
        return out[self.cache_arg] if self.cache_arg in out else out.past_key_values

    def _push(self, row: Row, token: int, now: float) -> None:
        row.tokens.append(token)
        row.last_at = now
        if token in self.stop_ids and not row.params.ignore_eos:
            row.finish = "eos"
        elif len(row.tokens) >= row.params.max_new_tokens:
            row.finish = "length"
        if row.on_token is not None:
            row.on_token(token)

    # ---- rows leave ---------------------------------------------------------------------
    def _drop(self, done: list[Row]) -> None:
        import torch

        keep = [i for i, r in enumerate(self.active) if r.finish is None]
        if not keep:
            self._clear()
            return
        if len(keep) < len(self.active):
            index = torch.tensor(keep, dtype=torch.long, device=self.mask.device)
            self.cache.batch_select_indices(index)
            self.mask = self.mask.index_select(0, index)
            self.active = [self.active[i] for i in keep]
        if self.refillable:  # columns that are padding for every remaining row
            first = int(self.mask.any(dim=0).long().argmax())
            if first > 0:
                for layer in self.cache.layers:
                    layer.keys = layer.keys[:, :, first:, :]
                    layer.values = layer.values[:, :, first:, :]
                self.mask = self.mask[:, first:]


@functools.lru_cache(maxsize=None)
def _growing_layer_class():
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A ``DynamicLayer`` whose keys and values are views of buffers with room to grow.

        ``DynamicLayer.update`` concatenates, copying the whole cache at every step (quadratic in
        the length); here a step copies only the new positions. Full buffers grow by a quarter
        of what they hold (at least 16 positions, at most ``GROW``), so the spare room stays
        small next to the cache itself, on a GPU too. Keys or values replaced from outside (rows
        joined, dropped or trimmed) are adopted into fresh buffers at the next update.
        """

        GROW = 256  # most positions added at once

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._buffers = None  # (keys, values) of shape (batch, heads, capacity, head_dim)

        def update(self, key_states, value_states, *args, **kwargs):
            import torch

            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
            have = self.get_seq_length()
            need = have + key_states.shape[-2]
            buffers = self._buffers
            ours = buffers is not None and have > 0 and self.keys.data_ptr() == buffers[0].data_ptr() \
                and self.keys.shape[0] == buffers[0].shape[0]
            if not ours or need > buffers[0].shape[-2]:
                old = (self.keys, self.values) if have else None
                shape = list(key_states.shape)
                shape[-2] = need + min(self.GROW, max(16, need // 4))
                buffers = tuple(torch.empty(shape[:-1] + [s.shape[-1]], dtype=s.dtype, device=s.device)
                                for s in (key_states, value_states))
                if old is not None:
                    buffers[0][..., :have, :].copy_(old[0])
                    buffers[1][..., :have, :].copy_(old[1])
                self._buffers = buffers
            buffers[0][..., have:need, :].copy_(key_states)
            buffers[1][..., have:need, :].copy_(value_states)
            self.keys, self.values = buffers[0][..., :need, :], buffers[1][..., :need, :]
            return self.keys, self.values

    return GrowingLayer


def _overflow(prompt_tokens: int, max_new_tokens: int) -> Exception:
    from hanprompt.errors import UsageError

    return UsageError(f"the prompt is {prompt_tokens} tokens and max_new_tokens is {max_new_tokens}: "
                      "together they exceed the model's context")


def _accepts(model, name: str) -> bool:
    try:
        return name in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
