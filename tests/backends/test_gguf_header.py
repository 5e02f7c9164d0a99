"""The GGUF header reader against llama.cpp's own reading of real files, and on files cut short or damaged."""
from __future__ import annotations

import json
import random
import struct

import pytest

from hanprompt.backends.gguf import read_metadata
from hanprompt.backends.gguf_header import HeaderError, read_keys
from hanprompt.errors import BackendError, UsageError

gguf = pytest.importorskip("gguf")


def _llama_cpp_metadata(path) -> dict[str, str]:
    """Every key/value llama.cpp reads from ``path``'s header (arrays left out), as its strings."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from hanprompt.backends.gguf import route_native_logs

    route_native_logs(llama_cpp)
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return dict(llm.metadata)
    finally:
        llm.close()


def _as_llama_cpp_writes(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:f}"
    return str(value)


@pytest.mark.parametrize("model, expected", [
    ("smollm2_gguf", {"general.architecture": "llama", "general.file_type": 3, "llama.context_length": 8192,
                      "llama.block_count": 30, "llama.embedding_length": 576, "llama.attention.head_count": 9,
                      "llama.attention.head_count_kv": 3}),
    ("gemma_gguf", {"general.architecture": "gemma3", "general.file_type": 15, "gemma3.context_length": 32768,
                    "gemma3.block_count": 18, "gemma3.embedding_length": 640, "gemma3.attention.head_count": 4,
                    "gemma3.attention.head_count_kv": 1, "gemma3.attention.key_length": 256,
                    "gemma3.attention.value_length": 256}),
])
def test_real_files_read_as_llama_cpp_reads_them(request, model, expected):
    path = request.getfixturevalue(model)
    ours = read_keys(path)
    assert {k: _as_llama_cpp_writes(v) for k, v in ours.items()} == _llama_cpp_metadata(path)
    assert read_metadata(path) == expected  # gemma's file type comes after its 262,144 tokens


def _write(path, keys, endian=None) -> bytes:
    """A GGUF file with ``keys`` (name -> (adder, value)) in that order, and no tensors; its bytes."""
    writer = gguf.GGUFWriter(path, "llama", endianess=endian or gguf.GGUFEndian.LITTLE)
    writer.kv_data[0].clear()  # the architecture goes where ``keys`` puts it
    for key, (adder, value) in keys.items():
        getattr(writer, adder)(key, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    return path.read_bytes()


KEYS = {
    "llama.block_count": ("add_uint32", 4),
    "tokenizer.ggml.tokens": ("add_array", ["<s>", "한국어", "", "x" * 300] * 50),
    "tokenizer.ggml.scores": ("add_array", [0.5, -1.25]),
    "general.architecture": ("add_string", "llama"),
    "some.flag": ("add_bool", True),
    "some.int8": ("add_int8", -3),
    "some.uint64": ("add_uint64", 2**40),
    "some.float64": ("add_float64", 0.125),
    "tokenizer.chat_template": ("add_string", "{% for m in messages %}{{ m['content'] }}{% endfor %} 서울"),
    "llama.context_length": ("add_uint32", 2048),
    "tokenizer.ggml.token_type": ("add_array", [1, 3, 1]),
    "general.file_type": ("add_uint32", 7),
}
SCALARS = {k: v for k, (adder, v) in KEYS.items() if adder != "add_array"}


@pytest.mark.parametrize("endian", ["LITTLE", "BIG"])
def test_keys_in_any_order_either_byte_order_arrays_stepped_over(tmp_path, endian):
    path = tmp_path / "h.gguf"
    _write(path, KEYS, getattr(gguf.GGUFEndian, endian))
    assert read_keys(path) == SCALARS
    assert read_metadata(path) == {"general.architecture": "llama", "general.file_type": 7,
                                   "llama.context_length": 2048, "llama.block_count": 4}


def test_reading_stops_when_the_caller_has_enough(tmp_path):
    path = tmp_path / "h.gguf"
    data = _write(path, KEYS)
    cut = data.index(b"some.flag")  # the file ends before the keys after the architecture
    path.write_bytes(data[:cut])
    assert read_keys(path, lambda found: "general.architecture" in found) == {
        "llama.block_count": 4, "general.architecture": "llama"}
    with pytest.raises(HeaderError, match="inside its header"):
        read_keys(path)


def test_every_cut_inside_the_header_is_a_header_error(tmp_path):
    path = tmp_path / "h.gguf"
    data = _write(path, {k: KEYS[k] for k in ("general.architecture", "tokenizer.ggml.tokens", "llama.block_count",
                                              "tokenizer.ggml.scores", "tokenizer.chat_template")})
    end = data.index(b"{% for") + len(KEYS["tokenizer.chat_template"][1].encode())  # the last value's end
    for cut in range(end):
        path.write_bytes(data[:cut])
        with pytest.raises(HeaderError):
            read_keys(path)
    path.write_bytes(data[:end])
    assert read_keys(path)["tokenizer.chat_template"] == KEYS["tokenizer.chat_template"][1]


@pytest.mark.parametrize("seed", range(40))
def test_garbage_after_the_magic_is_a_header_error_or_keys(tmp_path, seed):
    rng = random.Random(seed)
    path = tmp_path / "g.gguf"
    body = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 7, 24, 100, 5000])))
    if seed % 2:  # a valid start, then noise: lengths, types and counts out of range
        body = struct.pack("<IQQ", 3, 1, rng.choice([1, 5, 2**40])) + body
    path.write_bytes(b"GGUF" + body)
    try:
        found = read_keys(path)
    except HeaderError as e:
        assert "\n" not in str(e)
    else:
        assert isinstance(found, dict)


@pytest.mark.parametrize("data, words", [
    (b"", "does not start with the bytes 'GGUF'"),
    (b"GGML" + bytes(20), "does not start with the bytes 'GGUF'"),
    (b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "GGUF version 1, which llama.cpp does not read"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**62), "longer than any GGUF key"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77),
     "a value of unknown type 77"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 10**9),
     "an array of 1000000000 strings"),
])
def test_damaged_headers_name_the_problem(tmp_path, data, words):
    path = tmp_path / "d.gguf"
    path.write_bytes(data)
    with pytest.raises(HeaderError, match=words):
        read_keys(path)
    with pytest.raises(BackendError, match="may be damaged or incomplete: download or convert it again"):
        read_metadata(path)


@pytest.mark.parametrize("model, per_token", [
    ("smollm2_gguf", 2 * 30 * 3 * (64 + 64) * 2 // 2),  # 30 layers, 3 KV heads of 576 / 9 = 64, K and V, f16
    ("gemma_gguf", 2 * 18 * 1 * (256 + 256) * 2 // 2),  # 18 layers, 1 KV head, key and value length 256
])
def test_the_kv_cache_size_is_the_one_llama_cpp_allocates(request, model, per_token):
    from hanprompt.backends.gguf import kv_cache_bytes

    meta = read_metadata(request.getfixturevalue(model))
    assert kv_cache_bytes(meta, 1) == per_token
    # llama.cpp's own figure for SmolLM2 at 999,999 tokens: "attempted to allocate 21976.88 MB"
    if model == "smollm2_gguf":
        assert kv_cache_bytes(meta, 999_999) / 2**20 == pytest.approx(21_972.6, abs=5)
    assert kv_cache_bytes({"general.architecture": "llama", "llama.block_count": 30}, 1) is None


def test_a_context_too_large_for_the_memory_is_refused_before_loading(cli, smollm2_gguf):
    # 50 million tokens: about 1 TiB of KV cache, more than any machine running the tests has free
    code, out, err = cli("ask", "hi", "--model", f"gguf:{smollm2_gguf}", "--ctx-size", "50000000")
    assert code == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1, err
    assert "--ctx-size 50000000 needs about 1,072.9 GiB" in err and "KV cache" in err and "give a smaller --ctx-size" in err
    code, out, _ = cli("logs", "--json")
    assert code == 0 and json.loads(out) == []  # nothing stored
    from hanprompt.backends.gguf import GGUFBackend

    with pytest.raises(UsageError, match=r"^ctx_size=50000000 needs about .* give a smaller ctx_size "):
        GGUFBackend.load(str(smollm2_gguf), ctx_size=50_000_000)
