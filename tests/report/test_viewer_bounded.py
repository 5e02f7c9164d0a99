"""Every list the viewer shows is read a page at a time: the work a page costs does not grow with the log.

Two logs of the same shape, one ten times the other: each page runs only bounded statements
(LIMIT, or keyed by ids already on the page), and SQLite executes about as many virtual-machine
instructions for it on the large log as on the small one (a count, not a timing).

A filter stops reading as soon as a page is full, so filters that match often cost what an
unfiltered page costs; one that matches few rows (or none) reads on through the log to find
them: docs/performance.md times such a page on 100,000 generations.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event, insert

pytest.importorskip("starlette")

PER_RUN = 40


def build_log(url: str, runs: int) -> dict:
    """``runs`` experiment runs of PER_RUN answers each (two models, four variants), each answer checked."""
    from hanprompt.store import open_engine
    from hanprompt.store.db import now
    from hanprompt.store.runs import create_run, finish_run
    from hanprompt.store.schema import checks, generations

    engine = open_engine(url)
    ids = []
    for n in range(runs):
        run_id = create_run(engine, name=f"exp-{n % 3}", kind="experiment")
        with engine.begin() as conn:
            conn.execute(insert(generations), [
                {"run_id": run_id, "model": f"hf:model-{i % 2}", "backend": "hf", "variant": f"v{i % 4}",
                 "response": f"서울 답변 {n}-{i}", "prompt": f"질문 {i}", "output_tokens": 10 + i % 7,
                 "tokens_per_s": 20.0 + i % 5, "created_at": now(), "repeat_index": i // 8,
                 "cell_key": f"{n}-{i}"}
                for i in range(PER_RUN)
            ])
            gen_ids = [row[0] for row in conn.execute(
                generations.select().with_only_columns(generations.c.id).where(generations.c.run_id == run_id))]
            conn.execute(insert(checks), [
                {"generation_id": g, "name": "min-words", "spec": {"min-words": 2}, "passed": g % 3 != 0,
                 "reason": "words", "score": None} for g in gen_ids
            ])
        finish_run(engine, run_id)
        ids.append(run_id)
    return {"runs": ids, "newest_generation": gen_ids[-1]}


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bounded")
    small, large = f"sqlite:///{folder / 'small.db'}", f"sqlite:///{folder / 'large.db'}"
    return {"small": (small, build_log(small, 10)), "large": (large, build_log(large, 100))}


class Meter:
    """The viewer over one log, recording each statement and the VM instructions SQLite ran."""

    def __init__(self, url: str):
        from starlette.testclient import TestClient

        from hanprompt.report.viewer import create_app, read_only_engine

        self.engine = read_only_engine(url)
        self.statements: list[str] = []
        self.ticks = 0
        event.listen(self.engine, "connect", self._on_connect)
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        self.client = TestClient(create_app(self.engine, page_size=5), base_url="http://127.0.0.1")

    def _tick(self) -> int:
        self.ticks += 1
        return 0  # go on

    def _on_connect(self, dbapi_conn, _record):
        dbapi_conn.set_progress_handler(self._tick, 50)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(" ".join(statement.split()))

    def cost(self, path: str) -> tuple[int, list[str]]:
        assert self.client.get(path).status_code == 200  # warm: connections, caches
        self.ticks, self.statements = 0, []
        assert self.client.get(path).status_code == 200
        return self.ticks, list(self.statements)


def _pages(info: dict) -> list[str]:
    first, second = info["runs"][0], info["runs"][1]
    return [
        "/", f"/?before={info['runs'][-3]}", "/?kind=experiment", f"/runs/{first}", f"/runs/{first}?variant=v1",
        "/generations", "/generations?check=failed", "/generations?model=model-1&variant=v3",
        f"/generations?run={second}&check=passed", f"/generations/{info['newest_generation']}",
        f"/compare?a={first}&b={second}",
    ]


_BOUNDED = [
    re.compile(r"\bLIMIT\b"),
    re.compile(r"\.(id|generation_id|run_id) IN \("),  # the ids of a page already fetched
    re.compile(r"WHERE (runs|generations)\.id = \?"),  # one row by its key
]


def test_every_statement_is_bounded(logs):
    url, info = logs["large"]
    meter = Meter(url)
    for path in _pages(info):
        _, statements = meter.cost(path)
        assert statements, path
        for sql in statements:
            if sql.upper().startswith(("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK")):
                continue
            assert any(p.search(sql) for p in _BOUNDED), f"{path}: unbounded statement: {sql}"


def test_page_cost_does_not_grow_with_the_log(logs):
    (small_url, small), (large_url, large) = logs["small"], logs["large"]
    small_meter, large_meter = Meter(small_url), Meter(large_url)
    for small_path, large_path in zip(_pages(small), _pages(large)):
        few, _ = small_meter.cost(small_path)
        many, _ = large_meter.cost(large_path)
        # ten times the rows; a bounded page does the same work, give or take a B-tree level
        assert many <= 1.5 * few + 20, (large_path, few, many)
