"""Text crossing hanprompt's edge: one reader for files and stdin, NFC, and spreadsheet-safe CSV cells.

Every file or stream hanprompt reads (experiment files, translation sources and references,
word-count inputs, stopword lists, user dictionaries) goes through :func:`read_text` or
:func:`iter_lines`, so they all agree:

- UTF-8 with or without a byte-order mark (the mark is removed); UTF-16 and UTF-32 with a
  byte-order mark are decoded; anything else needs an explicit ``encoding`` (``--encoding``).
- Lines end at ``\\n`` or ``\\r\\n`` only (``str.splitlines`` also splits at U+2028, form feeds and
  eight other characters, which are text here); a final line end does not add an empty line.
- Text comes back in Unicode normalization form C: decomposed Hangul (NFD, as macOS file names
  and some copy-paste give it) and composed Hangul are the same text for every comparison and
  count (Unicode Standard Annex #15).
"""
from __future__ import annotations

import codecs
import re
import sys
import unicodedata
from pathlib import Path
from typing import BinaryIO, Iterator

from hanprompt.errors import InputError, arg

#: the argument a path is blamed on by default: ``name`` to a library caller, ``--file`` on the command line
FILE = arg("name", flag="file")

# Longest first: a UTF-32-LE mark begins with the UTF-16-LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CHUNK = 1 << 16

#: Characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def nfc(text: str) -> str:
    """``text`` in Unicode normalization form C (composed Hangul syllables)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def split_lines(text: str) -> list[str]:
    """Lines ended by ``\\n`` or ``\\r\\n`` only; a final line end adds no empty line."""
    if not text:
        return []
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_encoding(encoding: str | None) -> str | None:
    """The codec's canonical name (None stays None); InputError for a codec Python does not know."""
    if encoding is None:
        return None
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; pass {arg('encoding', 'utf-8')}, cp949, euc-kr or utf-16") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, rot13, zlib...
        raise InputError(f"{encoding!r} is not a text encoding; pass {arg('encoding', 'utf-8')}, cp949, euc-kr or utf-16")
    return info.name


def _sniff(head: bytes, encoding: str | None) -> str:
    """The codec for a stream starting with ``head``: its byte-order mark's, else ``encoding`` or UTF-8."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            # A byte-order mark is unambiguous; utf-16/utf-32 read it themselves, utf-8-sig drops it.
            return name
    return encoding or "utf-8"


def _shown(name: str | Path) -> str:
    return "stdin" if str(name) == "-" else str(name)


def _open_binary(name: str | Path, what: str, flag: str) -> BinaryIO:
    if str(name) == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        if buffer is None:  # stdin replaced by a text stream (embedding, some test runners)
            import io

            return io.BytesIO(sys.stdin.read().encode("utf-8"))
        return buffer
    path = Path(name)
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; pass a text file to {flag}")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist; check the path given to {flag}") from None
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}; check the path given to {flag}") from None


def _decode_error(name, what: str, flag: str, codec: str, line: int, explicit: bool) -> InputError:
    shown = _shown(name)
    label = f"{what} {shown}" if str(name) != "-" else "stdin"
    if explicit:
        hint = f"pass the encoding it was saved in with {arg('encoding')} (utf-8, cp949, euc-kr, utf-16)"
    else:
        hint = f"save it as UTF-8, or pass its encoding with {arg('encoding')}, e.g. {arg('encoding', 'cp949')}"
    return InputError(f"{label} is not valid {codec} text (line {line}); {hint}")


def iter_lines(name: str | Path, *, encoding: str | None = None, what: str = "file",
               flag: str = FILE) -> Iterator[str]:
    """The lines of a file (``'-'`` for stdin), decoded and NFC-normalised as they are read.

    Memory stays flat whatever the file's size. ``encoding`` applies to files without a
    byte-order mark (default UTF-8). Raises InputError (naming ``flag`` and
    ``encoding``, :func:`hanprompt.errors.arg`: ``--encoding`` on the command line) when the file cannot
    be read or decoded.
    """
    check_encoding(encoding)
    fh = _open_binary(name, what, flag)
    closing = str(name) != "-"
    try:
        head = fh.read(_CHUNK)
        codec = _sniff(head, encoding)
        decoder = codecs.getincrementaldecoder(codec)(errors="strict")
        pending = ""
        line_no = 0
        chunk = head
        while True:
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                before = pending + chunk[: e.start].decode(codec, errors="replace")
                raise _decode_error(name, what, flag, codecs.lookup(codec).name, line_no + before.count("\n") + 1,
                                    encoding is not None) from None
            pending += text
            if "\n" in pending:
                *lines, pending = pending.split("\n")
                for line in lines:
                    line_no += 1
                    yield nfc(line[:-1] if line.endswith("\r") else line)
            if final:
                break
            try:
                chunk = fh.read(_CHUNK)
            except OSError as e:
                raise InputError(f"cannot read {_shown(name)}: {e.strerror}; check the path given to {flag}") from None
        if pending:
            yield nfc(pending[:-1] if pending.endswith("\r") else pending)
    finally:
        if closing:
            fh.close()


def read_text(name: str | Path, *, encoding: str | None = None, what: str = "file", flag: str = FILE) -> str:
    """A whole file (``'-'`` for stdin) as NFC text with ``\\n`` line ends; see :func:`iter_lines`.

    A final line end is kept when the file has one. Raises InputError with the fix.
    """
    check_encoding(encoding)
    fh = _open_binary(name, what, flag)
    try:
        data = fh.read()
    except OSError as e:
        raise InputError(f"cannot read {what} {_shown(name)}: {e.strerror}; check the path given to {flag}") from None
    finally:
        if str(name) != "-":
            fh.close()
    codec = _sniff(data[:4], encoding)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as e:
        line = data[: e.start].decode(codec, errors="replace").count("\n") + 1
        raise _decode_error(name, what, flag, codecs.lookup(codec).name, line, encoding is not None) from None
    return nfc(text.replace("\r\n", "\n"))


def csv_cell(value):
    """``value`` safe for a spreadsheet: text that would start a formula gets a leading ``'``.

    Only text is changed (numbers stay numbers), following OWASP's CSV-injection advice:
    a cell beginning with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


#: C0 controls, DEL and C1 controls: what a terminal may act on instead of showing
_CONTROLS = {keep: re.compile("[" + "".join(
    re.escape(chr(c)) for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in keep) + "]")
    for keep in ("\n\t", "")}


def visible(text: object, keep: str = "\n\t") -> str:
    """``text`` with every control character but those in ``keep`` written out (ESC as ``\\x1b``).

    For anything stored or user-supplied that goes to a terminal: escape sequences in a model's
    answer are shown, never obeyed. ``keep=""`` also writes out newlines and tabs (one-line messages).
    """
    pattern = _CONTROLS[keep]
    return pattern.sub(lambda m: ascii(m.group())[1:-1], "" if text is None else str(text))
