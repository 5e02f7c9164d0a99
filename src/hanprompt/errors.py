"""The exceptions hanprompt raises. Each message names the problem and the fix.

A message that names one of the library's arguments (``max_new_tokens``) writes it with
:func:`arg`: ``str(error)`` then says ``max_new_tokens``, as a library caller writes it, and the
command line's :func:`for_cli` says ``--max-new-tokens``, as a user types it.
"""
from __future__ import annotations

import re

_ARG = re.compile("\x1f([A-Za-z_][A-Za-z0-9_]*)(?:\x1d([A-Za-z][A-Za-z0-9-]*))?\x1f([^\x1e]*)\x1e")


def arg(name: str, value: object = None, *, choices: tuple[str, ...] = (), flag: str | None = None) -> str:
    """An argument named in an error message, with its value or the values to choose from.

    ``arg("max_new_tokens")`` reads ``max_new_tokens`` to a library caller and
    ``--max-new-tokens`` on the command line; ``arg("truncate", choices=("left", "right"))``
    reads ``truncate='left' or 'right'`` and ``--truncate left|right``. ``flag`` is the command
    line's name where it differs from the library's: ``arg("source_lang", flag="from")`` reads
    ``source_lang`` and ``--from``.
    """
    text = "|".join(choices) if choices else ("" if value is None else str(value))
    cli = f"\x1d{flag}" if flag else ""
    return f"\x1f{name}{cli}\x1f{text.replace(chr(0x1e), '')}\x1e"


def lower_first(text: str) -> str:
    """``text`` with its first letter lower-cased, to follow a ``flag:`` (pydantic's "Input should
    be ..." reads "input should be ..."); the rest, a pattern or a value, is kept as it is, and a
    first word in capitals (``URL``) too."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def with_value(name: str, value: object) -> str:
    """``name`` followed by ``value``: an :func:`arg` mark without a value gets ``value`` as its own
    (``out=report.html`` / ``--output report.html``); any other name is written as given, a space, then the value."""
    m = _ARG.fullmatch(name)
    if m and not m.group(3):
        return arg(m.group(1), value, flag=m.group(2))
    return f"{name} {value}"


def _render(text: str, cli: bool) -> str:
    def one(m: re.Match) -> str:
        name, flag, value = m.group(1), m.group(2), m.group(3)
        if cli:
            return f"--{flag or name.replace('_', '-')}" + (f" {value}" if value else "")
        if not value:
            return name
        return f"{name}=" + " or ".join(repr(v) for v in value.split("|")) if "|" in value else f"{name}={value}"

    return _ARG.sub(one, text)


class Note(str):
    """A message that is not an error (a load warning), as a library caller reads it; its
    :attr:`cli` is the same message as the command line shows it (see :func:`note`)."""

    cli: str
    #: the text with its :func:`arg` marks kept, to build a longer note from (``note(f"{a.raw}; ...")``)
    raw: str

    def __new__(cls, text: str) -> Note:
        self = super().__new__(cls, _render(text, cli=False))
        self.cli, self.raw = _render(text, cli=True), text
        return self


def note(text: str) -> Note:
    """A warning whose :func:`arg` names read as each reader writes them: ``str`` (and JSON) give the
    library's names, :func:`for_cli` the command line's flags."""
    return Note(text)


def for_cli(error: BaseException | str) -> str:
    """The message of ``error`` (or of a :func:`note`) as the command line shows it: arguments
    named as flags."""
    if isinstance(error, Note):
        return error.cli
    if isinstance(error, HanpromptError):
        return _render(Exception.__str__(error), cli=True)
    return str(error)


def unrendered(error: BaseException | str) -> str:
    """The message of ``error`` with its :func:`arg` names kept unrendered, for an error raised again
    inside another (``SpecError(f"{where}: {unrendered(e)}")``): each reader then sees its own names."""
    if isinstance(error, Note):
        return error.raw
    return Exception.__str__(error) if isinstance(error, HanpromptError) else str(error)


def one_line(error: BaseException, limit: int | None = None, *, typed: bool = False) -> str:
    """Any exception as one line: the first non-blank line of its message, or its class name when
    the message is empty or blank; cut to ``limit`` characters (with "…") when given.

    ``typed`` puts the class name before the message of an exception that is not a
    :class:`HanpromptError` (``OSError: disk full``), for failures the user did not cause.
    """
    try:
        text = str(error)
    except Exception:  # a broken __str__ must not hide the failure behind a second one
        text = ""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    name = type(error).__name__
    if not first:
        return name
    if limit is not None and len(first) > limit:
        first = first[: max(limit - 1, 0)] + "…"
    return f"{name}: {first}" if typed and not isinstance(error, HanpromptError) else first


class HanpromptError(Exception):
    """Base class: a problem the user can fix. The CLI prints it on one line and exits 2."""

    exit_code = 2

    def __str__(self) -> str:  # arguments named as a library caller writes them
        return _render(super().__str__(), cli=False)


class UsageError(HanpromptError):
    """A bad option or argument."""


class ModelNotFound(HanpromptError):
    """A model spec that names nothing loadable."""


class BackendError(HanpromptError):
    """A backend could not load or run a model with the options given."""


class DeviceError(BackendError):
    """A device or dtype that this machine cannot provide."""


class StoreError(HanpromptError):
    """The database cannot be reached, opened or migrated."""


class NotFoundError(HanpromptError):
    """An id that names no stored record."""


class InputError(HanpromptError):
    """A file or text that cannot be used as input."""


class RunBusy(HanpromptError):
    """A run that another live process is working on."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM); handled like Ctrl-C, exit code 143."""

    exit_code = 143
