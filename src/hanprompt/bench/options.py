"""What a benchmark measures: the options, checked before anything is loaded or stored.

Every bad value raises ``UsageError`` naming the flag and the fix.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from hanprompt.errors import UsageError

DEVICES = ("cpu", "cuda", "mps", "auto")
DTYPES = ("auto", "float32", "bfloat16", "float16")
ALL_LAYERS = "all"


@dataclass(frozen=True)
class BenchOptions:
    """One benchmark: models x configurations, each measured ``repeat`` times after ``warmup``.

    ``devices`` and ``dtypes`` apply to hf models, ``gpu_layers`` (ints or ``"all"``) to gguf
    models; ``openai:`` models are measured over the stream as they are. ``bandwidth`` maps a
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

    def check(self) -> "BenchOptions":
        """Raise UsageError for the first bad value; return self."""
        if not self.models:
            raise UsageError("no model to benchmark: pass --model SPEC (once per model)")
        for flag, value, least in (
            ("--prompt-tokens", self.prompt_tokens, 1), ("--gen-tokens", self.gen_tokens, 2),
            ("--repeat", self.repeat, 1), ("--warmup", self.warmup, 0),
        ):
            if not isinstance(value, int) or value < least:
                raise UsageError(f"{flag} must be a whole number of at least {least}, not {value!r}")
        if self.batch is not None and (not isinstance(self.batch, int) or self.batch < 2):
            raise UsageError(f"--batch must be 2 or more (batch 1 is always measured), not {self.batch!r}")
        for device in self.devices:
            if device not in DEVICES:
                raise UsageError(f"--devices: unknown device {device!r}; choose from {', '.join(DEVICES)}")
        for dtype in self.dtypes:
            if dtype not in DTYPES:
                raise UsageError(f"--dtype: unknown dtype {dtype!r}; choose from {', '.join(DTYPES)}")
        for layers in self.gpu_layers:
            if layers != ALL_LAYERS and (not isinstance(layers, int) or layers < 0):
                raise UsageError(f"--gpu-layers: {layers!r} is not a layer count; write numbers or 'all', e.g. 0,8,all")
        for device, gbs in self.bandwidth.items():
            _positive(gbs, f"--bandwidth {device}")
        if self.price_per_hour is not None:
            _positive(self.price_per_hour, "--price-per-hour")
        if self.max_memory is not None:
            from hanprompt.backends.hf import parse_max_memory

            if "auto" not in self.devices:
                raise UsageError("--max-memory caps --devices auto; add auto to --devices or drop --max-memory")
            parse_max_memory(self.max_memory)
        return self


def _positive(value, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UsageError(f"{flag} must be a positive number, not {value!r}")
    return float(value)


def _items(text: str, flag: str) -> list[str]:
    items = [part.strip() for part in str(text).split(",")]
    if not all(items):
        raise UsageError(f"{flag}: empty item in {text!r}; write a comma-separated list like cpu,cuda")
    return items


def parse_devices(text: str) -> tuple[str, ...]:
    """``"cpu,cuda"`` -> ``("cpu", "cuda")``; unknown or repeated names are a UsageError."""
    devices = _items(text, "--devices")
    for device in devices:
        if device not in DEVICES:
            raise UsageError(f"--devices: unknown device {device!r} in {text!r}; choose from {', '.join(DEVICES)}")
    if len(set(devices)) != len(devices):
        raise UsageError(f"--devices: {text!r} names a device twice; name each once")
    return tuple(devices)


def parse_dtypes(text: str) -> tuple[str, ...]:
    """``"float32,bfloat16"`` -> a tuple of dtype names."""
    dtypes = _items(text, "--dtype")
    for dtype in dtypes:
        if dtype not in DTYPES:
            raise UsageError(f"--dtype: unknown dtype {dtype!r} in {text!r}; choose from {', '.join(DTYPES)}")
    return tuple(dict.fromkeys(dtypes))


def parse_gpu_layers(text: str) -> tuple[int | str, ...]:
    """``"0,8,all"`` -> ``(0, 8, "all")``: whole numbers of layers, or all of them."""
    out: list[int | str] = []
    for item in _items(text, "--gpu-layers"):
        if item.lower() == ALL_LAYERS:
            out.append(ALL_LAYERS)
        elif item.isdigit():
            out.append(int(item))
        else:
            raise UsageError(f"--gpu-layers: {item!r} is neither a whole number nor 'all'; write e.g. 0,8,all")
    return tuple(dict.fromkeys(out))


def parse_bandwidth(text: str) -> dict[str, float]:
    """``"25"`` (every device) or ``"cpu=25,cuda=3350,pcie=25"``, in GB/s -> ``{"cpu": 25.0, ...}``.

    ``pcie`` is the host-to-GPU link that weights offloaded to RAM cross on every token.
    """
    out: dict[str, float] = {}
    for item in _items(text, "--bandwidth"):
        key, sep, value = item.rpartition("=")
        keys = [key.strip()] if sep else ["cpu", "cuda", "mps"]
        if sep and key.strip() not in ("cpu", "cuda", "mps", "pcie"):
            raise UsageError(f"--bandwidth: unknown memory {key.strip()!r}; write GB/s, or cpu=GB/s,cuda=GB/s,pcie=GB/s")
        number = parse_positive(value, "--bandwidth")
        out.update(dict.fromkeys(keys, number))
    return out


def parse_positive(text: str, flag: str) -> float:
    """A positive finite number from the command line, or a UsageError naming ``flag``."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise UsageError(f"{flag} must be a positive number, not {text!r}") from None
    return _positive(value, flag)
