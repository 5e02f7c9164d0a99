"""Fixtures of the integrity tests: real processes on a real SQLite file or PostgreSQL database."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, select

# One thread each: on a busy 2-core machine, spinning OpenMP threads slow these runs many times over.
ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory):
    """A somewhat larger random Llama, so that a run lasts long enough to be stopped midway."""
    from hanprompt.testing.models import build_tiny_llama

    shape = dict(hidden_size=256, intermediate_size=512, num_hidden_layers=4)
    return build_tiny_llama(tmp_path_factory.mktemp("models") / "slow-llama", shape=shape)


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-ko")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The log as a URL: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def rows(db_url):
    """rows(table, *where) -> how many rows (0 before the schema exists)."""
    from hanprompt.store import open_engine
    from hanprompt.store.schema import metadata

    def count(table: str, *where) -> int:
        engine = open_engine(db_url)
        t = metadata.tables[table]
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(t).where(*where)).scalar_one()

    return count


@pytest.fixture
def experiment(tmp_path):
    """experiment(n, max_new_tokens, extra_yaml) -> the path of an experiment with variants v0..v{n-1}."""

    def write(n: int, max_new_tokens: int = 24, extra: str = "", name: str = "exp.yaml"):
        lines = [f"name: integrity\nparams: {{max_new_tokens: {max_new_tokens}, temperature: 0}}\n"
                 f"{textwrap.dedent(extra)}variants:"]
        lines += [f"  - id: v{i}\n    prompt: \"Question number {i}: tell me about topic {i}.\"" for i in range(n)]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture
def hp(db_url):
    """hp(*args) -> a started `hanprompt ARGS --db URL` process; .run(*args) waits for it."""

    started: list[subprocess.Popen] = []

    def start(*args, env: dict | None = None) -> subprocess.Popen:
        p = subprocess.Popen(
            [sys.executable, "-m", "hanprompt", *map(str, args), "--db", db_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, **ENV, **(env or {})),
        )
        started.append(p)
        return p

    def run(*args, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
        p = start(*args, env=env)
        out, err = p.communicate(timeout=timeout)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    start.run = run
    yield start
    for p in started:  # a failed test leaves none running
        if p.poll() is None:
            p.kill()
        p.communicate()
