"""Reading text the user points at: files, stdin, small settings files; errors carry the fix."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from hanprompt import textio
from hanprompt.errors import InputError


def read_text(path: Path, what: str, flag: str) -> str:
    """A whole small file (a dictionary, a stopword list) through the one reader (hanprompt.textio)."""
    return textio.read_text(path, what=what, flag=flag)


def check_encoding(encoding: str) -> str:
    """The encoding's canonical name, or InputError when Python does not know it."""
    return textio.check_encoding(encoding)


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


def iter_lines(name: str, encoding: str | None = None, *, blank: bool = False) -> Iterator[str]:
    """The non-blank lines of a file ('-' for stdin), decoded and NFC-normalised as they are read;
    blank lines too when ``blank`` (Markdown needs them to tell its blocks apart)."""
    for line in textio.iter_lines(name, encoding=encoding, what="file", flag="FILE"):
        if blank or line.strip():
            yield line


def check_writable(out: str | None, flag: str) -> None:
    """Fail before any work when an output path is a folder or its folder does not exist."""
    if out is not None:
        from hanprompt.outputs import check_output

        check_output(out, flag)
