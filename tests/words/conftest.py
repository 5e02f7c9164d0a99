"""Korean texts written for these tests, and a helper that saves them to files."""
from __future__ import annotations

import json

import pytest

# Written for hanprompt's tests. 한국 appears with 의, 에서, 을 and 은; 서울 with 의 and 에.
PARTICLES_KO = (
    "한국의 겨울은 춥지만 한국에서 먹는 붕어빵은 따뜻하다. "
    "여행객들은 한국을 떠나기 전에 서울의 시장에 들른다. "
    "한국은 작은 나라지만 서울에 가면 볼 것이 많다.\n"
)

JEJU_KO = (
    "제주도 여행 둘째 날에는 성산일출봉에 올랐다. 성산일출봉 정상에서 본 바다는 넓었다.\n"
    "다음 날은 전주로 건너가 한옥마을을 걸었다. 한옥마을 골목에는 찻집이 많았다.\n"
)

VERBS_KO = "우리는 시장에서 국수를 먹었다. 다음 날에도 국수를 먹었고, 바다는 아름다웠다. 산도 아름다웠다.\n"


@pytest.fixture
def write(tmp_path):
    """write(name, text, encoding="utf-8") -> the path of a new file under tmp_path."""

    def _write(name: str, text: str, encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return path

    return _write


@pytest.fixture
def ko():
    """The texts above, by name."""
    return {"particles": PARTICLES_KO, "jeju": JEJU_KO, "verbs": VERBS_KO}


@pytest.fixture
def words_json(cli):
    """words_json(*args) runs `hanprompt words ... --json` and returns (parsed JSON, stderr)."""

    def run(*args):
        code, out, err = cli("words", *args, "--json")
        assert code == 0, err
        return json.loads(out), err

    return run


@pytest.fixture
def store_run():
    """store_run(url, texts, kind=..., name=..., models=..., variants=...) -> run id.

    Writes a run and its generations through hanprompt.store, as an experiment would.
    """
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation, create_run, finish_run

    def _store(url, texts, *, kind="experiment", name="trip", models=None, variants=None, errors=None):
        engine = open_engine(url)
        run_id = create_run(engine, name=name, kind=kind)
        with engine.begin() as conn:
            for i, text in enumerate(texts):
                add_generation(conn, run_id, {
                    "model": (models or ["hf:tiny"] * len(texts))[i], "backend": "hf", "response": text,
                    "variant": (variants or [None] * len(texts))[i],
                    "error": (errors or [None] * len(texts))[i],
                })
        finish_run(engine, run_id)
        return run_id

    return _store


@pytest.fixture
def db(hanprompt_home):
    """The default SQLite URL of this test's private home."""
    from hanprompt import settings

    return settings.db_url()
