"""Fit advice after an out-of-memory failure, and warnings where a configuration is slow.

Advice is estimated from per-layer weight sizes (``shapes``) and the free GPU memory: the
largest ``--gpu-layers`` for a GGUF model, or a ``--max-memory`` split for hf ``auto``.
"""
from __future__ import annotations

import math

from hanprompt.bench.roofline import ModelShape
from hanprompt.errors import arg, note

GIB = 1024**3
MIB = 1024**2

_OOM_MARKERS = ("out of memory", "out of gpu memory", "outofmemory", "failed to allocate", "cudamalloc failed",
                "unable to allocate", "can't allocate memory", "cannot allocate memory")


def is_oom(exc: BaseException) -> bool:
    """Whether a load or generation failure was memory running out (GPU or host), judged by the
    exception and the ones it was raised from (torch.OutOfMemoryError inside a DeviceError)."""
    while exc is not None:
        if isinstance(exc, MemoryError):
            return True
        text = f"{type(exc).__name__}: {exc}".lower()
        if any(marker in text for marker in _OOM_MARKERS):
            return True
        exc = exc.__cause__
    return False


def reserve(free_bytes: int) -> int:
    """GPU memory left for compute buffers and activations: 5% of what is free, at least 256 MiB."""
    return max(256 * MIB, int(free_bytes * 0.05))


def gguf_gpu_layers(shape: ModelShape, free_vram: int, context: int) -> int | str:
    """The largest ``n_gpu_layers`` whose weights and KV cache (``context`` tokens) fit ``free_vram``.

    llama.cpp puts the last N layers on the GPU and the output head once N exceeds the layer
    count; returns ``"all"`` when everything fits, 0 when not even one layer does.
    """
    budget = free_vram - reserve(free_vram)
    n = shape.n_layers
    for gpu_layers in range(n + 1, 0, -1):
        on_gpu = shape.layers[max(n - gpu_layers, 0):]
        need = sum(on_gpu) + len(on_gpu) * shape.kv_per_layer * context
        if gpu_layers > n:
            need += shape.head
        if need <= budget:
            return "all" if gpu_layers > n else gpu_layers
    return 0


def hf_max_memory(shape: ModelShape, free_vram: int, available_ram: int | None, context: int) -> dict:
    """A ``--max-memory`` split for hf ``--device auto`` that fits, and what it implies.

    accelerate fills GPU 0 in module order (embedding, layers 0.., head) up to its cap, then
    RAM, then disk. Returns ``{"max_memory": "0=…GiB,cpu=…GiB", "gpu_layers": k,
    "needs_disk": bool}``.
    """
    kv_all = shape.kv_per_layer * shape.n_layers * context
    gpu_cap = max(0, free_vram - reserve(free_vram) - kv_all)
    gpu_gib = math.floor(gpu_cap / GIB * 10) / 10
    used = shape.embedding
    gpu_layers = 0
    for size in shape.layers:
        if used + size > gpu_gib * GIB:
            break
        used += size
        gpu_layers += 1
    rest = shape.weight_bytes - used
    cpu_gib = math.ceil(rest * 1.1 / GIB * 10) / 10 if rest > 0 else 0.1
    needs_disk = False
    if available_ram is not None and cpu_gib * GIB > available_ram * 0.9:
        cpu_gib = math.floor(available_ram * 0.9 / GIB * 10) / 10
        needs_disk = True
    return {"max_memory": f"0={gpu_gib:g}GiB,cpu={cpu_gib:g}GiB", "gpu_layers": gpu_layers,
            "needs_disk": needs_disk}


def oom_advice(backend: str, shape: ModelShape | None, free_vram: int | None, available_ram: int | None,
               context: int) -> str:
    """One sentence: what would fit, estimated from the weights' per-layer sizes (a
    :func:`hanprompt.errors.note`: library names in ``str``, flags in ``for_cli``)."""
    if shape is None:
        return "the model's per-layer sizes are unknown here: try fewer GPU layers or a smaller model"
    if free_vram is None:
        return (f"weights need {shape.weight_bytes / GIB:.2f} GiB; no GPU memory figure is available "
                "here to estimate a split")
    free = f"{free_vram / GIB:.2f} GiB free on the GPU"
    if backend == "gguf":
        layers = gguf_gpu_layers(shape, free_vram, context)
        if layers == 0:
            return note(f"not one layer fits in {free}: use {arg('gpu_layers', 0)} (CPU only) or a smaller "
                        "quantization")
        return note(f"{free}: the largest {arg('gpu_layers')} that fits is about {layers} (of {shape.n_layers})")
    split = hf_max_memory(shape, free_vram, available_ram, context)
    disk = f"; that still leaves weights for disk: add {arg('offload_folder', 'DIR')} (slow)" if split["needs_disk"] else ""
    return note(f"{free}: try {arg('devices', 'auto')} {arg('max_memory', split['max_memory'])} (about "
                f"{split['gpu_layers']} of {shape.n_layers} layers on the GPU){disk}")


def slow_paths(backend: str, placement: dict, gpu_layers: int | str | None, n_layers: int | None) -> list[str]:
    """Warnings for configurations known to run slowly, from the placement actually used."""
    warnings: list[str] = []
    devices = {str(d).split(":")[0] for d in placement}
    if backend == "hf":
        if "disk" in devices:
            warnings.append(note("disk offload: weights are read from disk for every token, orders of magnitude "
                            f"slower than RAM; give the GPU and RAM more room with {arg('max_memory')}"))
        if "cuda" in devices and "cpu" in devices:
            cpu = placement.get("cpu")
            warnings.append(f"partial GPU offload: {cpu} module(s) in RAM are copied over PCIe to the GPU on "
                            "every forward pass (about 32 GB/s on PCIe 4.0 x16, against hundreds of GB/s of "
                            "VRAM); fewer, larger moves help: more VRAM, or a quantized model that fits")
    elif backend == "gguf" and gpu_layers not in (None, 0) and n_layers:
        if gpu_layers != "all" and int(gpu_layers) <= n_layers:
            warnings.append(f"partial GPU offload: {n_layers - int(gpu_layers)} of {n_layers} layers stay on "
                            "the CPU and decode at RAM speed, and prompt processing copies their weights "
                            "over PCIe; 'all' layers on the GPU is far faster if they fit")
    return warnings


CPU_FLOAT16 = ("float16 on CPU: matrix products run 20-30x slower than float32 there (transformers "
               "issues #34692, #41867); hanprompt refuses it: use float32 or bfloat16 on CPU")
