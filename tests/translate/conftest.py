"""Fixtures of the translation tests: tiny random-weight Marian and M2M100 models, built once."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "translation"


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory) -> Path:
    """A single-target (en -> ko) MarianMT model with trained SentencePiece tokenizers."""
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-ko")


@pytest.fixture(scope="session")
def tiny_marian_multi(tmp_path_factory) -> Path:
    """A multi-target Marian model that needs a >>kor<< / >>jpn<< token in front of the source."""
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-mul",
                             target_tokens=[">>kor<<", ">>jpn<<"], target_lang=None)


@pytest.fixture(scope="session")
def tiny_m2m100(tmp_path_factory) -> Path:
    """An M2M100 model with its 100 language tokens (__ko__, __en__, ...)."""
    from hanprompt.testing.mt_models import build_tiny_m2m100

    return build_tiny_m2m100(tmp_path_factory.mktemp("mt") / "m2m100")


@pytest.fixture
def count_rows(hanprompt_home):
    """Rows of a table in the default SQLite log (0 when the log or table does not exist)."""
    path = hanprompt_home / "hanprompt.db"

    def count(table: str) -> int:
        if not path.exists():
            return 0
        with sqlite3.connect(path, timeout=30) as conn:
            try:
                return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            except sqlite3.OperationalError:
                return 0

    return count


@pytest.fixture
def default_engine():
    """The default log's engine (in this test's private home)."""
    from hanprompt import settings
    from hanprompt.store import open_engine

    return open_engine(settings.db_url())
