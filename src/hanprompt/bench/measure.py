"""Measuring one configuration: load, warm-up, timed repeats, and an optional batch.

Every run sends its own prompt of about ``prompt_tokens`` tokens (different from the first
words on, so no prompt cache skips the prefill) and generates exactly ``gen_tokens`` tokens
(EOS ignored, as llama-bench does), greedy. From each completion:

- prefill tokens/s = prompt tokens / TTFT (TTFT: request start, tokenization included, to
  the first generated token);
- decode tokens/s = (output tokens - 1) / (end-to-end latency - TTFT);
- end-to-end latency: request start to the last token.

With a batch of N, aggregate decode tokens/s = sum of (output tokens - 1) over the rows /
the time from the first token to the last (rows that share one forward pass share a clock).

A server (``openai:``) is timed from what its stream shows, in this order: the server's own
decode time where the completion carries one (``timings["server_decode_s"]``, from llama.cpp's
``timings``): (output tokens - 1) / decode_s; else the arrival times of the streamed pieces:
(output tokens - tokens per piece) / (last piece - first piece), tokens per piece = output
tokens / pieces, when at least ``MIN_STREAM_PIECES`` pieces came; else the stream is too coarse
to time (a server that sends every token in one chunk) and no decode figure is given.
"""
from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

from hanprompt.backends.base import Backend, Completion, GenParams
from hanprompt.bench.memory import PeakMemory
from hanprompt.bench.stats import summary
from hanprompt.bench.tokens import Count, filler_messages

#: pieces of text a streamed answer needs before its decode is timed from their arrival times:
#: the first, and at least two intervals after it
MIN_STREAM_PIECES = 3


@dataclass
class Measured:
    """Raw results of one configuration, before roofline and cost are added."""

    load_s: float | None
    info: dict
    prompt_tokens: int
    completions: list[Completion]
    batch: list[Completion] | None
    batch_shared_clock: bool
    peak_rss: int
    start_rss: int
    peak_vram: int | None
    backend: Backend | None = None
    notes: list[str] = field(default_factory=list)
    #: per timed completion, the perf_counter times its pieces of text arrived (servers only)
    streams: list[list[float]] | None = None


def run_config(
    load: Callable[[], Backend],
    count: Count | None,
    *,
    prompt_tokens: int,
    gen_tokens: int,
    repeat: int,
    warmup: int,
    batch: int | None,
    vram: Callable[[], int | None] | None = None,
    on_loaded: Callable[[Backend], None] | None = None,
    trace_stream: bool = False,
) -> Measured:
    """Load with ``load()`` and measure; the backend is returned in ``Measured.backend``.

    ``trace_stream``: record when each piece of text of a timed completion arrives (for
    servers, whose decode can only be timed from their stream).

    Prompts are sized with the backend's ``count_tokens`` where it has one, else with ``count``.

    Exceptions from loading or generating propagate (the caller classifies them).
    """
    params = GenParams(max_new_tokens=gen_tokens, temperature=0.0, ignore_eos=True)
    with PeakMemory(vram=vram) as memory:
        start = time.perf_counter()
        backend = load()
        load_s = time.perf_counter() - start
        if on_loaded is not None:
            on_loaded(backend)
        if backend.count_tokens(backend.render([{"role": "user", "content": "x"}])) is not None:
            count = backend.count_tokens  # the backend's own count of a rendered prompt
        runs = iter(range(warmup + repeat + (batch or 0)))  # every prompt its own: no prefill is cached

        def prompt() -> list[dict]:
            return filler_messages(count, backend.render, prompt_tokens, variant=next(runs))

        for _ in range(warmup):
            backend.generate(prompt(), params)
        streams: list[list[float]] | None = [] if trace_stream else None
        completions = []
        for _ in range(repeat):
            if streams is None:
                completions.append(backend.generate(prompt(), params))
                continue
            times: list[float] = []
            arrived = lambda _piece, times=times: times.append(time.perf_counter())  # noqa: E731
            completions.append(backend.generate(prompt(), params, on_text=arrived))
            streams.append(times)
        rows = backend.generate_batch([(prompt(), params) for _ in range(batch)]) if batch else None
    info = {
        "device": backend.info.device,
        "placement": backend.info.placement,
        "dtype": backend.info.dtype,
        "kernels": backend.info.kernels or None,  # e.g. "oneDNN packed linear x211" (hf, CPU float32)
        "warnings": list(backend.info.warnings),
    }
    known = [c.input_tokens for c in completions if c.input_tokens]
    return Measured(
        load_s=load_s, info=info, completions=completions,
        prompt_tokens=round(statistics.fmean(known)) if len(known) == len(completions) else None,
        batch=rows, batch_shared_clock=backend.supports_batching, peak_rss=memory.peak_rss,
        start_rss=memory.start_rss, peak_vram=memory.vram_delta, backend=backend, streams=streams,
    )


def release(measured: Measured | None) -> None:
    """Drop the measured backend and give its memory back before the next configuration."""
    if measured is not None:
        backend, measured.backend = measured.backend, None
        close = getattr(backend, "close", None)
        if close is not None:
            close()
        del backend
    gc.collect()
    import sys

    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def decode_rate(c: Completion) -> float | None:
    """(output tokens - 1) / (latency - TTFT): tokens/s after the first."""
    span = c.total_s - c.ttft_s
    return (c.output_tokens - 1) / span if c.output_tokens > 1 and span > 0 else None


def stream_decode_rate(c: Completion, times: list[float]) -> tuple[float | None, str]:
    """(tokens/s, source) of a server's completion, from what its stream shows; see the module docstring.

    source: "server timings", "stream" or, with None, why it cannot be timed.
    """
    decode_s = (c.timings or {}).get("server_decode_s")  # the server's own clock; "decode_s" is the stream's
    if decode_s and c.output_tokens > 1:
        return (c.output_tokens - 1) / decode_s, "server timings"
    if len(times) >= MIN_STREAM_PIECES and c.output_tokens >= len(times):
        span = times[-1] - times[0]
        if span > 0:
            return (c.output_tokens - c.output_tokens / len(times)) / span, "stream"
    pieces = f"{len(times)} piece{'s' if len(times) != 1 else ''}"
    return None, (f"stream too coarse to time: {c.output_tokens} tokens arrived in {pieces} and the server "
                  f"sent no timings (at least {MIN_STREAM_PIECES} pieces are needed)")


def timing_metrics(m: Measured) -> dict:
    """Prefill, decode, TTFT and end-to-end summaries over the repeats, and the batch figure.

    For a server (``m.streams`` recorded) also ``decode_source`` ("server timings", "stream")
    and, when no repeat could be timed, ``decode_untimed`` (why) with no decode or batch figure.
    """
    cs = m.completions
    # a server that reports no usage, for a model whose tokenizer is unknown here: no prefill figure
    prefill = [c.input_tokens / c.ttft_s for c in cs if c.ttft_s > 0 and c.input_tokens]
    untimed = None
    if m.streams is None:
        decode = [r for r in map(decode_rate, cs) if r is not None]
    else:
        timed = [stream_decode_rate(c, times) for c, times in zip(cs, m.streams)]
        decode = [r for r, _ in timed if r is not None]
        sources = sorted({why for r, why in timed if r is not None})
        untimed = None if decode else timed[0][1] if timed else "no timed repeats"
    out = {
        "load_s": m.load_s,
        "prompt_tokens": m.prompt_tokens,
        "gen_tokens": summary([c.output_tokens for c in cs])["mean"],
        "prefill_tok_s": summary(prefill) if prefill else None,
        "decode_tok_s": summary(decode) if decode else None,
        "ttft_s": summary([c.ttft_s for c in cs]),
        "e2e_s": summary([c.total_s for c in cs]),
        "peak_rss_bytes": m.peak_rss,
        "start_rss_bytes": m.start_rss,
        "peak_vram_bytes": m.peak_vram,
    }
    if m.streams is not None:
        out["decode_source"] = ", ".join(sources) or None
        if untimed:
            out["decode_untimed"] = untimed
    if m.batch and not untimed:  # a stream too coarse for one answer is too coarse for a batch
        tokens = sum(max(c.output_tokens - 1, 0) for c in m.batch)
        if m.batch_shared_clock:  # one forward pass for all rows: first token to last
            span = max(c.total_s for c in m.batch) - min(c.ttft_s for c in m.batch)
        else:  # one row after another
            span = sum(c.total_s - c.ttft_s for c in m.batch)
        out["batch"] = {
            "size": len(m.batch),
            "decode_tok_s": tokens / span if span > 0 else None,
            "e2e_s": max(c.total_s for c in m.batch) if m.batch_shared_clock else sum(c.total_s for c in m.batch),
            "shared_forward": m.batch_shared_clock,
        }
    return out
