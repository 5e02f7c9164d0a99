"""Fixtures of the experiment tests: a slower tiny model, spec files, and looking into the log."""
from __future__ import annotations

import sqlite3

import pytest


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory):
    """A somewhat larger random Llama, so a run lasts long enough to be killed midway."""
    from hanprompt.testing.models import build_tiny_llama

    shape = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4)
    return build_tiny_llama(tmp_path_factory.mktemp("models") / "slow-llama", shape=shape)


@pytest.fixture
def log_db(hanprompt_home):
    """Count rows of the default SQLite log with plain sqlite3 (0 when it does not exist yet)."""
    path = hanprompt_home / "hanprompt.db"

    def count(table: str, where: str = "1=1") -> int:
        if not path.exists():
            return 0
        with sqlite3.connect(path, timeout=30) as conn:
            try:
                return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
            except sqlite3.OperationalError:  # no tables yet
                return 0

    count.path = path
    return count


@pytest.fixture
def many_variants():
    """The text of an experiment with ``n`` literal variants v0..v{n-1}."""
    return _many_variants


def _many_variants(n: int, max_new_tokens: int = 24, extra: str = "") -> str:
    lines = [f"name: many\nparams: {{max_new_tokens: {max_new_tokens}, temperature: 0}}\n{extra}variants:"]
    lines += [f"  - id: v{i}\n    prompt: \"Question number {i}: tell me about topic {i}.\"" for i in range(n)]
    return "\n".join(lines) + "\n"
