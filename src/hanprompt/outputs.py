"""Files hanprompt writes for the user (exports, CSV, charts, reports): checked first, private, whole.

Each is checked before any work (a folder, or a file in a missing folder, is refused with the
fix), written to a temporary file beside it created 0600 (prompts and answers are often
private), and renamed into place only when complete, so a failure never leaves half a file.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

from hanprompt.errors import InputError, with_value

#: files and the database are readable by their owner only
PRIVATE_FILE = 0o600


def check_output(out: str | os.PathLike, flag: str, example: str = "out") -> Path:
    """The path ``out``; InputError naming ``flag`` and the fix when it is a folder or its folder is missing."""
    path = Path(out).expanduser()
    if path.is_dir():
        raise InputError(f"{with_value(flag, out)} is a folder; pass a file name such as {path / example}")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise InputError(f"{with_value(flag, out)}: folder {folder} does not exist; create it or write somewhere else")
    return path


@contextlib.contextmanager
def writing(out: str | os.PathLike, flag: str, *, binary: bool = False, encoding: str = "utf-8",
            newline: str | None = None) -> Iterator[IO]:
    """An open file for ``out``: a 0600 temporary file beside it, renamed over ``out`` when the block ends.

    On any error the temporary file is removed and ``out`` is left as it was. Raises InputError
    (exit 2) when the path is refused or the file cannot be written.
    """
    path = check_output(out, flag)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.absolute().parent)
    except OSError as e:
        raise InputError(f"{with_value(flag, out)}: cannot write there ({e.strerror}); write somewhere else") from None
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding, newline=newline) as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{with_value(flag, out)}: cannot write it ({e.strerror}); write somewhere else") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def private_file(path: str | os.PathLike) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite then keeps the mode, and gives it
    to its -wal and -shm files)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
