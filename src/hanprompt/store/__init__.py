"""The log: every run, generation, translation and analysis, in SQLite or PostgreSQL."""
from hanprompt.store.db import migrate, open_engine

__all__ = ["open_engine", "migrate"]
