"""What a benchmark measures: the options, checked before anything is loaded or stored.

Every bad value raises ``UsageError`` naming the flag and the fix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hanprompt.errors import UsageError, arg

DEVICES = ("cpu", "cuda", "mps", "auto")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ALL_LAYERS = "all"


@dataclass(frozen=True)
class BenchOptions:
    """One benchmark: models x configurations, each measured ``repeat`` times after ``warmup``.

    ``devices``, ``dtypes`` and ``max_memory`` apply to hf models; ``gpu_layers`` (ints or
    ``"all"``), ``threads`` and ``ctx_size`` to gguf models; ``openai:`` models are measured over
    the stream, with ``api_key_env`` and ``api_prices`` (input, output per million tokens, the
    API's price list). ``bandwidth`` maps a
    device kind (``"cpu"``, ``"cuda"``) to GB/s (10^9 bytes/s) and replaces the on-the-spot
    measurement; ``price_per_hour`` is what the machine costs per hour, in any currency.
    """

    models: tuple[str, ...]
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("auto",)
    gpu_layers: tuple[int | str, ...] = (0,)
    prompt_tokens: int = 512
    gen_tokens: int = 128
    repeat: int = 5
    warmup: int = 1
    batch: int | None = None
    bandwidth: dict[str, float] = field(default_factory=dict)
    price_per_hour: float | None = None
    max_memory: str | None = None
    threads: int | None = None  # gguf: llama.cpp's CPU threads (default: backends.gguf.default_threads)
    ctx_size: int | None = None  # gguf: context opened (default: prompt_tokens + gen_tokens)
    api_key_env: str | None = None  # openai: the variable holding the key
    api_prices: tuple[float, float] | None = None  # openai: (input, output) price per million tokens

    def check(self, flags: bool = False) -> "BenchOptions":
        """Raise UsageError for the first bad value; return self.

        Messages name the argument with :func:`hanprompt.errors.arg`: ``prompt_tokens`` in
        ``str(error)``, ``--prompt-tokens`` in :func:`hanprompt.errors.for_cli`. ``flags`` is
        kept for older callers and changes nothing.
        """
        from hanprompt import limits

        def name(field: str) -> str:
            return arg(field, flag={"dtypes": "dtype"}.get(field))

        if not self.models:
            raise UsageError(f"no model to benchmark: pass {arg('models', 'SPEC', flag='model')} (once per model)")
        for key, least, most in (
            ("prompt_tokens", 1, limits.MAX_NEW_TOKENS), ("gen_tokens", 2, limits.MAX_NEW_TOKENS),
            ("repeat", 1, limits.MAX_REPEAT), ("warmup", 0, limits.MAX_REPEAT),
        ):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"{name(key)} must be a whole number, not {value!r}")
            limits.check_range(name(key), value, least, most)
        if self.batch is not None:
            if isinstance(self.batch, bool) or not isinstance(self.batch, int):
                raise UsageError(f"{name('batch')} must be a whole number, not {self.batch!r}")
            limits.check_range(f"{name('batch')} (batch 1 is always measured)", self.batch, 2, limits.MAX_CONCURRENCY)
        for device in self.devices:
            if device not in DEVICES:
                raise UsageError(f"{name('devices')}: unknown device {device!r}; choose from {', '.join(DEVICES)}")
        for dtype in self.dtypes:
            if dtype not in DTYPES:
                raise UsageError(f"{name('dtypes')}: unknown dtype {dtype!r}; "
                                 f"choose from {', '.join(DTYPES)}")
        for layers in self.gpu_layers:
            if layers != ALL_LAYERS and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 0):
                raise UsageError(f"{name('gpu_layers')}: {layers!r} is not a layer count; "
                                 "give whole numbers or 'all', e.g. 0,8,all")
        for memory, gbs in self.bandwidth.items():
            _positive(gbs, f"{name('bandwidth')} {memory}")
        if self.price_per_hour is not None:
            _positive(self.price_per_hour, name("price_per_hour"))
        if self.threads is not None:
            limits.check_range(name("threads"), self.threads, 1, limits.MAX_THREADS)
        if self.ctx_size is not None:
            need = self.prompt_tokens + self.gen_tokens
            limits.check_range(f"{name('ctx_size')} (prompt plus generated tokens at least)", self.ctx_size, need,
                               limits.MAX_NEW_TOKENS)
        if self.api_prices is not None:
            for price, flag in zip(self.api_prices, ("price-input", "price-output")):
                if isinstance(price, bool) or not isinstance(price, (int, float)) or not 0 <= price < math.inf:
                    raise UsageError(f"{arg('api_prices', flag=flag)}: "
                                     f"a price per million tokens is a number, 0 or more (got {price!r})")
        if self.max_memory is not None:
            from hanprompt.backends.hf import parse_max_memory

            if "auto" not in self.devices:
                raise UsageError(f"{name('max_memory')} caps the auto device; add auto to "
                                 f"{name('devices')} or drop {name('max_memory')}")
            parse_max_memory(self.max_memory)
        return self


def _positive(value, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a positive number, not {value!r}")
    return float(value)


def _items(text: str, flag: str) -> list[str]:  # flag: an arg() mark
    items = [part.strip() for part in str(text).split(",")]
    if not all(items):
        raise UsageError(f"{flag}: empty item in {text!r}; write a comma-separated list like cpu,cuda")
    return items


def parse_devices(text: str) -> tuple[str, ...]:
    """``"cpu,cuda"`` -> ``("cpu", "cuda")``; unknown or repeated names are a UsageError."""
    flag = arg("devices")
    devices = _items(text, flag)
    for device in devices:
        if device not in DEVICES:
            raise UsageError(f"{flag}: unknown device {device!r} in {text!r}; choose from {', '.join(DEVICES)}")
    if len(set(devices)) != len(devices):
        raise UsageError(f"{flag}: {text!r} names a device twice; name each once")
    return tuple(devices)


def parse_dtypes(text: str) -> tuple[str, ...]:
    """``"float32,bfloat16"`` -> a tuple of dtype names."""
    flag = arg("dtypes", flag="dtype")
    dtypes = _items(text, flag)
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise UsageError(f"{flag}: unknown dtype {dtype!r} in {text!r}; choose from {', '.join(DTYPES)}")
    return tuple(dict.fromkeys(dtypes))


def parse_gpu_layers(text: str) -> tuple[int | str, ...]:
    """``"0,8,all"`` -> ``(0, 8, "all")``: whole numbers of layers, or all of them."""
    out: list[int | str] = []
    flag = arg("gpu_layers")
    for item in _items(text, flag):
        if item.lower() == ALL_LAYERS:
            out.append(ALL_LAYERS)
        elif item.isdigit():
            out.append(int(item))
        else:
            raise UsageError(f"{flag}: {item!r} is not a number of layers (0 or more) nor 'all'; "
                             "write e.g. 0,8,all")
    return tuple(dict.fromkeys(out))


def parse_bandwidth(text: str) -> dict[str, float]:
    """``"25"`` (every device) or ``"cpu=25,cuda=3350,pcie=25"``, in GB/s -> ``{"cpu": 25.0, ...}``.

    ``pcie`` is the host-to-GPU link that weights offloaded to RAM cross on every token.
    """
    out: dict[str, float] = {}
    flag = arg("bandwidth")
    for item in _items(text, flag):
        key, sep, value = item.rpartition("=")
        keys = [key.strip()] if sep else ["cpu", "cuda", "mps"]
        if sep and key.strip() not in ("cpu", "cuda", "mps", "pcie"):
            raise UsageError(f"{flag}: unknown memory {key.strip()!r}; write GB/s, or cpu=GB/s,cuda=GB/s,pcie=GB/s")
        number = parse_positive(value, flag)
        out.update(dict.fromkeys(keys, number))
    return out


def parse_positive(text: str, flag: str) -> float:
    """A positive finite number from the command line, or a UsageError naming ``flag`` (a flag as
    written, or an :func:`hanprompt.errors.arg` mark)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} must be a positive number, not {text!r}") from None
    return _positive(value, flag)
