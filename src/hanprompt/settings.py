"""Where the home folder, the database URL and the defaults come from, in one place.

Precedence is the usual one: a command-line value, then the environment, then the default.
"""
from __future__ import annotations

import os
from pathlib import Path

#: Used when no --model is given: a small instruct model that writes Korean (see README).
DEFAULT_MODEL = "hf:Qwen/Qwen2.5-0.5B-Instruct"
DEFAULT_MAX_NEW_TOKENS = 256


def home(cli_value: str | None = None) -> Path:
    """The folder that holds the default database and caches."""
    value = cli_value or os.environ.get("HANPROMPT_HOME")
    if value:
        return Path(value).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("hanprompt", appauthor=False))


def db_url(cli_value: str | None = None) -> str:
    """The SQLAlchemy URL of the log: --db, then HANPROMPT_DB, then a SQLite file in the home."""
    value = cli_value or os.environ.get("HANPROMPT_DB")
    if value:
        return value
    return f"sqlite:///{home() / 'hanprompt.db'}"
