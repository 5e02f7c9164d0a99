"""The key/values at the head of a GGUF file, read directly and only as far as needed.

A GGUF file (llama.cpp's ``docs/gguf.md``; the ``gguf`` package's ``GGUFReader`` reads the same
layout) starts with the bytes ``GGUF``, a uint32 version (2 or 3; version 1, which llama.cpp no
longer reads, had 32-bit lengths), a uint64 tensor count and a uint64 key/value count, then the
key/values: a string key (uint64 byte length, UTF-8 bytes), a uint32 value type, the value.
Strings are a uint64 length and bytes; arrays a uint32 item type, a uint64 count and the items.
Files written on a big-endian host hold every number big-endian (the version then reads as a
multiple of 65536 in little-endian).

:func:`read_keys` maps the file, reads the key/values in order, skips the arrays (the tokenizer's
vocabulary) and stops as soon as its caller has what it needs. The gguf backend needs four keys
(architecture, trained context, layer count, weight type) that converters mostly write before
the vocabulary: on SmolLM2-135M's 98 MB file they take about 0.2 ms to read, and all the header's
key/values about 9 ms (gemma-3-270m's, with 262,144 tokens to step over: about 20 ms). Opening the
file with llama.cpp (vocabulary only), as the backend did before, took about 0.09 s there, and
``gguf.GGUFReader``, which parses every key/value and tensor description into numpy arrays,
1.8 s plus 0.05 s to import ``gguf``.
"""
from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Callable
from pathlib import Path

#: value types: their struct code (fixed-size numbers); 8 is a string, 9 an array
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
#: longest key accepted (llama.cpp's keys are under 100 bytes); a longer one means a damaged header
_MAX_KEY = 65536


class HeaderError(ValueError):
    """The file's header cannot be read: too short, or not laid out as GGUF (the message says which)."""


class _Reader:
    """Numbers, strings and skips over the mapped file; ``pos`` is the byte read next."""

    def __init__(self, data, size: int):
        self.data, self.size, self.pos, self.order = data, size, 0, "<"

    def _need(self, n: int, what: str = "") -> int:
        end = self.pos + n
        if end > self.size:
            where = f" ({what} at byte {self.pos} needs more)" if what else ""
            raise HeaderError(f"it ends at byte {self.size}, inside its header{where}")
        return end

    def number(self, code: str):
        end = self._need(struct.calcsize(code))
        value = struct.unpack_from(self.order + code, self.data, self.pos)[0]
        self.pos = end
        return value

    def string(self, limit: int | None = None) -> str:
        n = self.number("Q")
        if limit is not None and n > limit:
            raise HeaderError(f"a key of {n} bytes at byte {self.pos - 8} is longer than any GGUF key")
        start, self.pos = self.pos, self._need(n, f"a string of {n} bytes")
        return bytes(self.data[start:self.pos]).decode("utf-8", errors="replace")

    def value(self, kind: int):
        """The number or string of type ``kind``; None after stepping over an array."""
        if kind in _FIXED:
            return self.number(_FIXED[kind])
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            self.skip_array()
            return None
        raise HeaderError(f"a value of unknown type {kind} at byte {self.pos - 4}")

    def skip_array(self) -> None:
        item, count = self.number("I"), self.number("Q")
        if item in _FIXED:
            self.pos = self._need(count * struct.calcsize(_FIXED[item]), f"an array of {count} items")
            return
        if item != _STRING:  # llama.cpp reads no arrays of arrays either
            raise HeaderError(f"an array of items of type {item} at byte {self.pos - 12}, which GGUF does not have")
        self._need(count * 8, f"an array of {count} strings")  # 8 bytes of length each at least
        # the vocabulary: tens of thousands of strings, stepped over in a tight loop
        data, pos, size, unpack = self.data, self.pos, self.size, struct.Struct(self.order + "Q").unpack_from
        for _ in range(count):
            if pos + 8 > size:
                break
            pos += 8 + unpack(data, pos)[0]
        else:
            if pos <= size:
                self.pos = pos
                return
        raise HeaderError(f"it ends at byte {size}, inside its header")


def read_keys(path: str | Path, enough: Callable[[dict], bool] = lambda found: False) -> dict:
    """The key/values of the GGUF header of ``path``, arrays left out, read until ``enough(found)``.

    Numbers come back as ``int``/``float``/``bool``, strings as ``str``; arrays (the tokenizer's
    vocabulary, tens of thousands of items) are skipped, not read. ``enough`` is asked after each
    key read; reading stops when it says True, or at the end of the key/values.

    Raises HeaderError (a ValueError) when the file is not GGUF, is an unsupported version, or its
    header is cut short or inconsistent; OSError when it cannot be read.
    """
    path = Path(path)
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size < 4 or f.read(4) != b"GGUF":
            raise HeaderError("it does not start with the bytes 'GGUF'")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _read(_Reader(data, size), enough)


def _read(r: _Reader, enough: Callable[[dict], bool]) -> dict:
    r.pos = 4  # after the magic
    version = r.number("I")
    if version and version & 0xFFFF == 0:  # written on a big-endian host
        r.order = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in (2, 3):
        raise HeaderError(f"it is GGUF version {version}, which llama.cpp does not read (it reads 2 and 3)")
    r.number("Q")  # the tensor count
    kv_count = r.number("Q")
    if kv_count > r.size:  # each key/value takes more than a byte
        raise HeaderError(f"it claims {kv_count} key/values, more than its {r.size} bytes can hold")
    found: dict = {}
    for _ in range(kv_count):
        if enough(found):
            break
        key = r.string(limit=_MAX_KEY)
        kind = r.number("I")
        value = r.value(kind)
        if kind != _ARRAY:
            found[key] = value
    return found
