"""Model shapes (weight bytes per layer, KV-cache size) read from a loaded model or its files.

A loaded hf model gives its placement as well (where each layer's weights are read from); a
model folder's safetensors headers and a GGUF file's tensor table give the shape without
loading anything, which is what fit advice needs after an out-of-memory failure.
"""
from __future__ import annotations

import math
from pathlib import Path

from hanprompt.bench.roofline import ModelShape, classify
from hanprompt.errors import InputError

#: bytes per element of safetensors dtypes
_ST_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
             "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I8": 1, "U8": 1, "BOOL": 1}
#: llama.cpp stores the KV cache in f16 unless told otherwise
GGUF_KV_BYTES = 2


def _kv_per_layer(config, dtype_bytes: int) -> int:
    """K and V bytes per token of context per layer: 2 x kv heads x head size x element size."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    heads = text.num_attention_heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return 2 * kv_heads * head_dim * dtype_bytes


def _assemble(sizes: dict[tuple[str, int | None], int], n_layers: int, tied: bool, kv: int, source: str) -> ModelShape:
    layers = [sizes.get(("layer", i), 0) for i in range(n_layers)]
    embedding = sizes.get(("embedding", None), 0)
    head = sizes.get(("head", None), 0)
    if tied:  # the output projection is the embedding matrix: read in full every token
        head, embedding = head + embedding, 0
    return ModelShape(layers, head, embedding, kv, source)


# ---- hf: a loaded model --------------------------------------------------------------------
def _memory_of(device, gpu_in_map: bool) -> str:
    """The memory a weight is read from, given its device in an accelerate device map."""
    if isinstance(device, int) or str(device).startswith("cuda"):
        return "cuda"
    text = str(device)
    if text == "cpu":  # with a GPU in the map, accelerate runs CPU-offloaded modules on the GPU
        return "pcie" if gpu_in_map else "cpu"
    return text if text in ("disk", "mps") else "cpu"


def _device_in_map(name: str, device_map: dict) -> object:
    best, best_len = None, -1
    for key, device in device_map.items():
        if (key == "" or name == key or name.startswith(key + ".")) and len(key) > best_len:
            best, best_len = device, len(key)
    return best


def hf_loaded(model) -> tuple[ModelShape, list[str], str, list[str]]:
    """(shape, memory of each layer, memory of the head, memory of each layer's KV cache)."""
    device_map = getattr(model, "hf_device_map", None) or {}
    gpu_in_map = any(_memory_of(d, False) == "cuda" for d in device_map.values())
    input_embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    # a head packed for oneDNN (backends.cpu_linear) is a copy of its own, tied or not
    tied = output is not None and getattr(output, "weight", None) is input_embedding
    sizes: dict[tuple[str, int | None], int] = {}
    memories: dict[tuple[str, int | None], str] = {}
    for name, param in model.named_parameters():  # tied parameters are listed once
        role = classify(name)
        if param is input_embedding:
            role = ("embedding", None)
        sizes[role] = sizes.get(role, 0) + param.numel() * param.element_size()
        where = _device_in_map(name, device_map) if device_map else param.device.type
        memories.setdefault(role, _memory_of(where, gpu_in_map))
    for name, module in model.named_modules():  # packed linear layers keep their weight as a buffer
        packed = getattr(module, "packed_bytes", None)
        if packed is not None:
            role = classify(f"{name}.weight")
            sizes[role] = sizes.get(role, 0) + packed
            memories.setdefault(role, "cpu")
    n_layers = 1 + max((i for kind, i in sizes if kind == "layer"), default=-1)
    dtype_bytes = next(p.element_size() for p in model.parameters() if p.is_floating_point())
    shape = _assemble(sizes, n_layers, tied, _kv_per_layer(model.config, dtype_bytes), "hf model")
    layer_memory = [memories.get(("layer", i), "cpu") for i in range(n_layers)]
    head_memory = memories.get(("embedding", None) if tied else ("head", None), "cpu")
    # The KV cache lives where the layer computes: offloaded layers compute on the GPU.
    kv_memory = ["cuda" if m in ("pcie", "disk") and gpu_in_map else m for m in layer_memory]
    return shape, layer_memory, head_memory, kv_memory


# ---- hf: a model folder --------------------------------------------------------------------
def hf_folder(folder: str | Path, dtype_bytes: int | None = None) -> ModelShape:
    """The shape of the model in ``folder`` from its config and safetensors headers.

    ``dtype_bytes`` rescales the stored sizes to the precision it will be loaded in (float32
    files loaded as bfloat16: 2). Raises InputError when the folder holds no safetensors.
    """
    from safetensors import safe_open
    from transformers import AutoConfig

    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise InputError(f"{folder} holds no .safetensors weights; the shape cannot be read from its files")
    config = AutoConfig.from_pretrained(folder)
    sizes: dict[tuple[str, int | None], int] = {}
    names: set[str] = set()
    stored_bytes = None
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            for name in f.keys():
                piece = f.get_slice(name)
                kind = piece.get_dtype()
                floating = kind in ("F32", "F16", "BF16")
                if floating:
                    stored_bytes = stored_bytes or _ST_BYTES[kind]
                each = dtype_bytes if dtype_bytes and floating else _ST_BYTES.get(kind, 2)
                role = classify(name)
                sizes[role] = sizes.get(role, 0) + math.prod(piece.get_shape()) * each
                names.add(name)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    tied = bool(getattr(text, "tie_word_embeddings", False)) and not any(n.endswith("lm_head.weight") for n in names)
    kv = _kv_per_layer(config, dtype_bytes or stored_bytes or 2)
    return _assemble(sizes, text.num_hidden_layers, tied, kv, f"safetensors in {folder}")


# ---- gguf ----------------------------------------------------------------------------------
def _field(reader, key: str):
    field = reader.get_field(key)
    return None if field is None else field.contents()


def gguf_file(path: str | Path) -> ModelShape:
    """The shape of a GGUF model from its metadata and tensor table (nothing is loaded).

    Raises InputError when the file cannot be read as GGUF.
    """
    from gguf import GGUFReader

    try:
        reader = GGUFReader(str(path))
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path} as GGUF: {e}; pass a .gguf model file") from e
    arch = _field(reader, "general.architecture") or "llama"
    n_layers = int(_field(reader, f"{arch}.block_count") or 0)
    heads = _field(reader, f"{arch}.attention.head_count")
    kv_heads = _field(reader, f"{arch}.attention.head_count_kv") or heads
    heads = max(heads) if isinstance(heads, list) else heads
    kv_heads = max(kv_heads) if isinstance(kv_heads, list) else kv_heads
    embd = _field(reader, f"{arch}.embedding_length")
    key_len = _field(reader, f"{arch}.attention.key_length") or (embd // heads if embd and heads else 0)
    value_len = _field(reader, f"{arch}.attention.value_length") or key_len
    sizes: dict[tuple[str, int | None], int] = {}
    names = set()
    for tensor in reader.tensors:
        role = classify(tensor.name)
        sizes[role] = sizes.get(role, 0) + int(tensor.n_bytes)
        names.add(tensor.name)
    tied = "output.weight" not in names
    kv = (kv_heads or 0) * (key_len + value_len) * GGUF_KV_BYTES
    return _assemble(sizes, n_layers, tied, kv, f"GGUF {Path(path).name}")


def gguf_placement(shape: ModelShape, gpu_layers: int) -> tuple[list[str], str, list[str]]:
    """Where llama.cpp puts each layer for ``n_gpu_layers``: the last N layers on the GPU, and
    the output head too once N exceeds the layer count (llama.cpp's ``i_gpu_start`` rule)."""
    n = shape.n_layers
    start = max(n - gpu_layers, 0)
    layers = ["cuda" if i >= start else "cpu" for i in range(n)]
    head = "cuda" if gpu_layers > n else "cpu"
    return layers, head, list(layers)


def describe(shape: ModelShape) -> dict:
    """The shape as plain numbers for JSON."""
    return {
        "layers": shape.n_layers,
        "weight_bytes": shape.weight_bytes,
        "read_per_token_bytes": shape.read_per_token,
        "largest_layer_bytes": max(shape.layers, default=0),
        "kv_bytes_per_context_token": shape.kv_per_layer * shape.n_layers,
        "source": shape.source,
    }

