"""Reading text the user points at: files, stdin, small settings files; errors carry the fix."""
from __future__ import annotations

import codecs
import contextlib
import sys
from pathlib import Path
from typing import Iterator

from hanprompt.errors import InputError


def read_text(path: Path, what: str, flag: str) -> str:
    """A whole small UTF-8 file (a dictionary, a stopword list), or InputError naming ``flag``."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist; check the path given to {flag}") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8; save it as UTF-8 and pass it to {flag} again") from None
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror}; check the path given to {flag}") from None


def check_encoding(encoding: str) -> str:
    """The encoding's canonical name, or InputError when Python does not know it."""
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}; pass --encoding utf-8, cp949 or euc-kr") from None


def check_readable(paths: list[str]) -> None:
    """Fail before any work when a named file is missing or unreadable ('-' is stdin)."""
    for name in paths:
        if name == "-":
            continue
        path = Path(name)
        if path.is_dir():
            raise InputError(f"{name} is a folder; pass the text files inside it")
        try:
            with open(path, "rb"):
                pass
        except FileNotFoundError:
            raise InputError(f"cannot read {name}: no such file; check the path") from None
        except OSError as e:
            raise InputError(f"cannot read {name}: {e.strerror}; check the path and its permissions") from None


def iter_lines(name: str, encoding: str = "utf-8") -> Iterator[str]:
    """The non-blank lines of a file ('-' for stdin), decoded as they are read."""
    shown = "stdin" if name == "-" else name
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # a byte-order mark from Windows editors is not text
    number = 0
    try:
        with _open(name, encoding) as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    yield line
    except UnicodeDecodeError as e:
        hint = (
            "pass --encoding, e.g. --encoding cp949"
            if encoding == "utf-8-sig"
            else "pass the encoding it was saved in with --encoding (utf-8, cp949, euc-kr)"
        )
        raise InputError(f"{shown} is not valid {e.encoding} text (line {number + 1}); {hint}") from None
    except OSError as e:
        raise InputError(f"cannot read {shown}: {e.strerror}; check the path and its permissions") from None


def _open(name: str, encoding: str):
    if name != "-":
        return open(name, encoding=encoding, errors="strict")
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # stdin already replaced by text (tests, embedding)
        return contextlib.nullcontext(sys.stdin)
    return contextlib.nullcontext(codecs.getreader(encoding)(buffer, errors="strict"))


def check_writable(out: str | None, flag: str) -> None:
    """Fail before any work when an output file's folder does not exist."""
    if out is None:
        return
    folder = Path(out).expanduser().resolve().parent
    if not folder.is_dir():
        raise InputError(f"cannot write {out}: folder {folder} does not exist; create it or change {flag}")
