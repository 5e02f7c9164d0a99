"""Tiny GGUF files written from the tiny Hugging Face Llama folders of ``hanprompt.testing.models``.

The ``gguf`` package's ``GGUFWriter`` writes the same weights, tokenizer and chat template that
transformers loads, in llama.cpp's layout: tensor names from ``gguf.TensorNameMap``, the query
and key projections permuted the way llama.cpp's ``convert_hf_to_gguf.py`` does for Llama
(HF keeps the rotary halves apart, llama.cpp interleaves them), and the byte-level BPE vocabulary
and merges under ``tokenizer.ggml.*`` with the GPT-2 pre-tokenizer (``gpt-2``), which is what the tiny
tokenizer's ``ByteLevel(use_regex=True)`` splits with. A greedy answer from the GGUF therefore
matches the answer transformers gives for the same folder (up to float rounding).
"""
from __future__ import annotations

import json
from pathlib import Path

#: output types: GGUF tensor type of the 2-D weights, and the file type recorded in the metadata
OUTTYPES = ("f32", "f16", "q8_0")


def _permute(weights, n_head: int):
    """HF's rotary layout to llama.cpp's, as in ``convert_hf_to_gguf.py`` (LlamaModel.permute)."""
    return (
        weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def _chat_template(folder: Path) -> str | None:
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    return config.get("chat_template")


def _vocab(folder: Path, vocab_size: int):
    """Tokens (byte-level strings), their types and the BPE merges from ``tokenizer.json``."""
    import gguf

    data = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    by_id = {i: t for t, i in data["model"]["vocab"].items()}
    special = {}
    for added in data.get("added_tokens", []):
        by_id[added["id"]] = added["content"]
        special[added["id"]] = added["special"]
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:  # rows of the embedding that no token uses
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(by_id[i])
        if i in special:
            types.append(gguf.TokenType.CONTROL if special[i] else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    ids = {t: i for i, t in enumerate(tokens)}
    return tokens, types, merges, ids


def write_gguf(hf_folder: str | Path, path: str | Path, *, outtype: str = "f32") -> Path:
    """Write the Llama model saved in ``hf_folder`` as one GGUF file at ``path``; return the path.

    ``outtype``: ``f32``, ``f16`` or ``q8_0`` for the 2-D weights (norms stay float32).
    Raises ValueError for another model type or outtype.
    """
    import gguf
    import numpy as np
    from safetensors.numpy import load_file

    if outtype not in OUTTYPES:
        raise ValueError(f"outtype {outtype!r}: use one of {', '.join(OUTTYPES)}")
    folder, path = Path(hf_folder), Path(path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "llama":
        raise ValueError(f"{folder} holds a {config.get('model_type')} model; only llama is written")
    n_head, n_kv = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // n_head
    rope = config.get("rope_parameters") or {}
    tokens, types, merges, ids = _vocab(folder, config["vocab_size"])

    qtype = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
             "q8_0": gguf.GGMLQuantizationType.Q8_0}[outtype]
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name(folder.name)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_vocab_size(config["vocab_size"])
    writer.add_file_type(ftype)
    if qtype not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
        writer.add_quantization_version(gguf.GGML_QUANT_VERSION)

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    if config.get("bos_token_id") is not None:
        writer.add_bos_token_id(config["bos_token_id"])
    writer.add_add_bos_token(False)
    eos = config["eos_token_id"]
    writer.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    if config.get("pad_token_id") is not None:
        writer.add_pad_token_id(config["pad_token_id"])
    template = _chat_template(folder)
    if template:
        writer.add_chat_template(template)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, config["num_hidden_layers"])
    weights = load_file(str(folder / "model.safetensors"))
    for hf_name, data in weights.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if name is None:
            raise ValueError(f"{folder}: no GGUF name for tensor {hf_name}")
        data = data.astype(np.float32)
        if hf_name.endswith("q_proj.weight"):
            data = _permute(data, n_head)
        elif hf_name.endswith("k_proj.weight"):
            data = _permute(data, n_kv)
        if data.ndim == 2:
            writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def build_tiny_gguf(path: str | Path, *, hf_folder: str | Path | None = None, outtype: str = "f32",
                    shape: dict | None = None) -> Path:
    """A tiny random Llama (see ``build_tiny_llama``) as a GGUF file at ``path``."""
    from hanprompt.testing.models import build_tiny_llama

    path = Path(path)
    if hf_folder is None:
        hf_folder = build_tiny_llama(path.with_suffix(".hf"), shape=shape)
    return write_gguf(hf_folder, path, outtype=outtype)


if __name__ == "__main__":  # python -m hanprompt.testing.gguf_models FILE.gguf [--smollm2-shape] [--outtype q8_0]
    import argparse

    from hanprompt.testing.models import SMOLLM2_135M_SHAPE

    parser = argparse.ArgumentParser(prog="python -m hanprompt.testing.gguf_models",
                                     description="Write a tiny random-weight Llama as a GGUF file.")
    parser.add_argument("path", help="the .gguf file to write")
    parser.add_argument("--from", dest="hf_folder", metavar="DIR", help="an existing tiny Llama folder to convert")
    parser.add_argument("--outtype", choices=OUTTYPES, default="f32")
    parser.add_argument("--smollm2-shape", action="store_true", help="SmolLM2-135M's shape (benchmarks)")
    args = parser.parse_args()
    print(build_tiny_gguf(args.path, hf_folder=args.hf_folder, outtype=args.outtype,
                          shape=SMOLLM2_135M_SHAPE if args.smollm2_shape else None))
