"""Linear layers through oneDNN with pre-packed weights, for float32 models on the CPU.

``torch.nn.Linear`` on the CPU calls MKL's ``sgemm`` on the weight as stored. For the few rows
of a decoding step (one per sequence in the batch) that runs far below the machine's speed;
oneDNN with the weight reordered once into its blocked layout (the op PyTorch's own compiler,
Inductor, emits for CPU linears of varying batch size: ``torch.ops.mkldnn._reorder_linear_weight``
and ``torch.ops.mkldnn._linear_pointwise``) does the same product 1.5-4.5x faster at 1 to 15
rows, and a little faster for a prefill (measured: docs/performance.md). The result is the
same float32 product summed in another order: it differs from MKL's in the last bits, as
MKL's own results already differ between batch sizes.

:func:`pack` swaps every ``nn.Linear`` of a model for a :class:`PackedLinear` holding the
packed weight in place of the original one (a head tied to the input embedding gets a packed
copy: the embedding keeps its own). Nothing is packed where the ops are missing or a check
product disagrees with ``torch.nn.functional.linear``: the model keeps its plain layers.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

#: rows the packed layout is tuned for (a typical decoding batch; any number of rows works)
ROWS_HINT = 16


def available() -> bool:
    """Whether this torch has oneDNN and the packed-linear ops."""
    import torch

    ops = getattr(torch.ops, "mkldnn", None)
    try:
        return bool(torch.backends.mkldnn.is_available() and ops is not None
                    and hasattr(ops, "_reorder_linear_weight") and hasattr(ops, "_linear_pointwise"))
    except (AttributeError, RuntimeError):
        return False


def _module_class():
    import torch

    class PackedLinear(torch.nn.Module):
        """``y = x W^T + b`` with ``W`` (out_features, in_features) packed for oneDNN.

        Input (..., in_features) float32 on the CPU; output (..., out_features). ``packed_bytes``
        is the size of the packed weight, for memory and roofline accounting; ``tied`` says the
        weight was shared with the input embedding.
        """

        def __init__(self, linear: torch.nn.Linear, tied: bool = False):
            super().__init__()
            self.in_features, self.out_features = linear.in_features, linear.out_features
            weight = linear.weight.detach()
            self.packed_bytes = weight.numel() * weight.element_size()
            self.tied = tied
            self.register_buffer("packed_weight", torch.ops.mkldnn._reorder_linear_weight(weight, ROWS_HINT),
                                 persistent=False)
            self.bias = linear.bias

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self.packed_weight, self.bias, "none", [], "")

        def extra_repr(self) -> str:
            return f"in_features={self.in_features}, out_features={self.out_features}, packed for oneDNN"

    return PackedLinear


@functools.lru_cache(maxsize=None)
def packed_class():
    """The :class:`PackedLinear` module class (built on first use, so torch loads lazily)."""
    return _module_class()


def _agrees(linear, packed) -> bool:
    """Whether the packed layer gives ``F.linear``'s product (float32 tolerance) on a check input."""
    import torch

    x = torch.randn(3, linear.in_features, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        want = torch.nn.functional.linear(x, linear.weight, linear.bias)
        got = packed(x)
    scale = float(want.abs().max()) or 1.0
    return got.shape == want.shape and float((got - want).abs().max()) <= 1e-4 * scale


#: the packed layers are kept when they make the model's linear products at least this much faster
MIN_SPEEDUP = 1.10
#: rows of the products timed at load: one sequence decoding, and a batch of several
MEASURED_ROWS = (1, 8)


def _targets(model) -> list:
    import torch

    return [(name, module) for name, module in model.named_modules()
            if type(module) is torch.nn.Linear and module.weight.device.type == "cpu"
            and module.weight.dtype == torch.float32]


def measure_speedup(model, reps: int = 5) -> float:
    """How much faster the packed layers would make ``model``'s linear products on this host.

    One layer of each distinct weight shape is packed and timed against ``F.linear`` at
    :data:`MEASURED_ROWS` rows, the two alternating ``reps`` times (medians); each shape's times
    count once per layer of that shape. Returns plain seconds / packed seconds, the geometric mean
    over the row counts (> 1: packed is faster); 0.0 when the ops are missing or a product disagrees.
    Costs one product per shape, row count and rep on each side (about 0.1 s for SmolLM2-135M).
    """
    import statistics
    import time

    import torch

    if not available():
        return 0.0
    shapes: dict[tuple, list] = {}
    for _name, linear in _targets(model):
        entry = shapes.setdefault((tuple(linear.weight.shape), linear.bias is not None), [linear, 0])
        entry[1] += 1
    if not shapes:
        return 0.0
    cls = packed_class()
    ratio = 1.0
    gen = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        plain_s = {rows: 0.0 for rows in MEASURED_ROWS}
        packed_s = {rows: 0.0 for rows in MEASURED_ROWS}
        for linear, count in shapes.values():
            try:
                packed = cls(linear)
            except RuntimeError:
                return 0.0
            if not _agrees(linear, packed):
                return 0.0
            for rows in MEASURED_ROWS:
                x = torch.randn(rows, linear.in_features, generator=gen)
                torch.nn.functional.linear(x, linear.weight, linear.bias)  # first calls set up buffers
                packed(x)
                a, b = [], []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    torch.nn.functional.linear(x, linear.weight, linear.bias)
                    t1 = time.perf_counter()
                    packed(x)
                    t2 = time.perf_counter()
                    a.append(t1 - t0)
                    b.append(t2 - t1)
                plain_s[rows] += count * statistics.median(a)
                packed_s[rows] += count * statistics.median(b)
    for rows in MEASURED_ROWS:
        ratio *= plain_s[rows] / max(packed_s[rows], 1e-12)
    return ratio ** (1 / len(MEASURED_ROWS))


#: where :func:`host_speedup` keeps its measurements, in hanprompt's cache folder
CACHE_FILE = "linear-kernels.json"


def host_speedup(model, folder=None) -> float:
    """:func:`measure_speedup` for ``model``, measured once per host, torch version, thread count
    and set of weight shapes, then read back from ``folder/linear-kernels.json`` (``folder``:
    hanprompt's cache folder, created if missing, as for llama.cpp's check; None or a folder that
    cannot be written: measured every time).

    Keeping the first measurement makes the choice stable on a host (the packed and plain
    products differ in their last bits) and spares later loads its cost, whichever hanprompt
    home (log) they use: the measurement is the host's, not the log's.
    """
    import json
    import os
    from pathlib import Path

    import torch

    from hanprompt.bench.machine import cpu_model

    shapes = sorted({(tuple(m.weight.shape), m.bias is not None) for _n, m in _targets(model)})
    key = f"{cpu_model()} | torch {torch.__version__} | {torch.get_num_threads()} threads | {shapes}"
    path = Path(folder) / CACHE_FILE if folder is not None else None
    known: dict = {}
    if path is not None:
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
        if isinstance(known, dict) and isinstance(known.get(key), float) and known[key] > 0:
            return known[key]
        if not isinstance(known, dict):
            known = {}
    speedup = measure_speedup(model)
    if path is not None and speedup > 0:
        known[key] = round(speedup, 3)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:  # written whole, then renamed: a reader never sees half a file
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
    return speedup


def pack(model) -> int:
    """Swap the float32 CPU ``nn.Linear`` layers of ``model`` for :class:`PackedLinear`, in place.

    Returns how many layers were packed (0 when oneDNN is missing or its check product
    disagrees). Only models wholly on the CPU in float32 should be passed; layers on
    another device or in another dtype are left alone.
    """
    if not available():
        return 0
    cls = packed_class()
    embedding = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    shared = getattr(embedding, "weight", None)
    targets = _targets(model)
    packed = 0
    for name, linear in targets:
        try:
            replacement = cls(linear, tied=linear.weight is shared)
        except RuntimeError:
            return packed
        if packed == 0 and not _agrees(linear, replacement):
            return 0
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, replacement)
        packed += 1
    return packed
