"""Continuous batching in the hf backend: mixed parameters, per-row seeds, refilled slots, OOM halving."""
from __future__ import annotations

import pytest

from hanprompt.backends import GenParams, load
from hanprompt.errors import DeviceError


def _msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


PROMPTS = [
    "Hi",
    "A much longer prompt that needs left padding in the batch, surely, and then some more words.",
    "서울에서 부산까지 가는 가장 좋은 방법은 무엇인가요?",
    "What?",
    "Write a short poem about the sea in autumn.",
    "Tell me about Jeju.",
]

#: greedy and sampled rows, different budgets, temperatures, top-p and seeds, in one batch
MIXED = [
    GenParams(max_new_tokens=20),
    GenParams(max_new_tokens=6, temperature=0.8, seed=7),
    GenParams(max_new_tokens=14, temperature=1.3, top_p=0.9, seed=8),
    GenParams(max_new_tokens=3),
    GenParams(max_new_tokens=17, temperature=0.8, seed=7),
    GenParams(max_new_tokens=9, temperature=2.0, top_p=0.5, seed=123),
]


@pytest.fixture(scope="module")
def backend(tiny_model):
    return load(str(tiny_model))


def _same(a, b) -> None:
    assert (a.text, a.output_tokens, a.finish_reason, a.input_tokens) == (
        b.text, b.output_tokens, b.finish_reason, b.input_tokens)


def test_a_mixed_batch_gives_each_row_what_it_gives_alone(backend):
    requests = [(_msgs(p), params) for p, params in zip(PROMPTS, MIXED)]
    alone = [backend.generate(m, p) for m, p in requests]
    for got, want, (_, params) in zip(backend.generate_batch(requests), alone, requests):
        _same(got, want)
        assert got.output_tokens == params.max_new_tokens or got.finish_reason == "eos"
    for max_batch in (1, 2, 4):  # refilled batches of every size
        for got, want in zip(backend.generate_many(requests, max_batch=max_batch), alone):
            _same(got, want)


def test_unseeded_sampling_differs_between_rows(backend):
    params = GenParams(max_new_tokens=16, temperature=1.5)
    rows = backend.generate_batch([(_msgs("Hi"), params)] * 3)
    assert len({r.text for r in rows}) > 1


def test_a_finished_rows_slot_is_refilled(backend):
    """Two slots, one long row: the short rows queued behind it run (and end) in its free slot."""
    long = (_msgs("Write a long story."), GenParams(max_new_tokens=40))
    shorts = [(_msgs(p), GenParams(max_new_tokens=3)) for p in ("Hi", "What?", "Jeju", "Busan")]
    order: list[int] = []
    done = backend.generate_many([long] + shorts, max_batch=2,
                                 on_done=lambda items: order.extend(i for i, _ in items))
    assert done[0].finish_reason == "length" and done[0].output_tokens == 40
    assert all(d.output_tokens <= 3 for d in done[1:])
    assert order[-1] == 0  # every short row ended before the long one: none waited for it
    assert sorted(order) == [0, 1, 2, 3, 4]


def test_rows_are_handed_over_as_they_end(backend):
    requests = [(_msgs("Hi"), GenParams(max_new_tokens=n)) for n in (9, 2, 5)]
    calls: list[list[int]] = []
    backend.generate_many(requests, max_batch=3, on_done=lambda items: calls.append([i for i, _ in items]))
    assert [i for call in calls for i in call] == [1, 2, 0]
    assert len(calls) == 3  # three different steps


def test_timings_split_prefill_and_decode(backend):
    c = backend.generate(_msgs("Hi"), GenParams(max_new_tokens=5))
    assert set(c.timings) == {"queue_s", "prefill_s", "decode_s"}
    assert c.timings["prefill_s"] == pytest.approx(c.ttft_s)
    assert c.timings["decode_s"] == pytest.approx(c.total_s - c.ttft_s)


class FakeCudaOOMModel:
    """A named fake for what cannot happen here: a CUDA device running out of memory.

    It wraps the real tiny model and raises ``torch.OutOfMemoryError`` whenever a forward pass
    holds more than ``limit`` rows; everything else is the real model.
    """

    def __init__(self, model, limit: int):
        self._model, self.limit, self.calls = model, limit, 0

    def __getattr__(self, name):
        return getattr(self._model, name)

    def __call__(self, **kwargs):
        import torch

        self.calls += 1
        if kwargs["input_ids"].shape[0] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory (fake)")
        return self._model(**kwargs)


def test_out_of_memory_halves_the_batch_and_says_so_once(backend):
    requests = [(_msgs(p), params) for p, params in zip(PROMPTS, MIXED)]
    want = backend.generate_batch(requests)
    real = backend.model
    backend.model = FakeCudaOOMModel(real, limit=2)
    notices: list[str] = []
    try:
        got = backend.generate_many(requests, max_batch=6, on_notice=notices.append)
        assert len(notices) == 1 and "out of memory with 6 rows" in notices[0] and "3 at a time" in notices[0]
        for a, b in zip(got, want):
            _same(a, b)
        backend.model = FakeCudaOOMModel(real, limit=0)
        with pytest.raises(DeviceError, match="out of memory while generating one row"):
            backend.generate(_msgs("Hi"), GenParams(max_new_tokens=3))
    finally:
        backend.model = real


def test_greedy_rows_equal_transformers_generate_past_the_cache_growth(backend):
    """The cache grows in blocks (batching.GrowingLayer) and is re-seated when rows leave or join:
    greedy tokens equal transformers' own ``generate`` (whose cache concatenates every step), one
    prompt at a time, past several growths."""
    import torch

    budgets = [60, 35, 50]  # the second row leaves early, the third takes its slot
    requests = [(_msgs(p), GenParams(max_new_tokens=n, ignore_eos=True)) for p, n in zip(PROMPTS, budgets)]
    ours = backend.generate_many(requests, max_batch=2)
    for (messages, params), got in zip(requests, ours):
        ids = backend._encode([backend.render(messages)])
        n = params.max_new_tokens
        with torch.inference_mode():
            out = backend.model.generate(**ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                         pad_token_id=backend.tokenizer.pad_token_id)
        want = backend.tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
        assert got.output_tokens == n and got.text == want
