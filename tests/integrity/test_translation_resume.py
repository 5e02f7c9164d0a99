"""Translations resume: after a kill -9 between a chunk's generations and its translations, and on a
rerun of `translate --run`; --force replaces them in one transaction."""
from __future__ import annotations

from sqlalchemy import distinct, func, select

from procs import freeze_when
from hanprompt.store import open_engine
from hanprompt.store.schema import generations, runs, translations


def _per_generation(db_url, translator: str) -> list[int]:
    """How many translations by ``translator`` each generation has."""
    query = (
        select(func.count(translations.c.id))
        .select_from(generations.outerjoin(translations, (translations.c.generation_id == generations.c.id)
                                           & (translations.c.translator == translator)))
        .group_by(generations.c.id)
    )
    with open_engine(db_url).connect() as conn:
        return list(conn.execute(query).scalars())


def test_kill_9_between_generations_and_translations_then_resume(hp, experiment, tiny_model, slow_model, rows, db_url):
    # generation is quick (tiny model), translation slow (the larger model prompted to translate):
    # the process is stopped while a chunk is stored and its translations are not
    translator = f"llm:hf:{slow_model}"
    path = experiment(6, max_new_tokens=12, extra=f'translate: {{to: ko, translator: "{translator}"}}\n')
    proc = hp("run", path, "--model", tiny_model, "--max-concurrency", "2")
    freeze_when(proc, lambda: rows("generations") > rows("translations"), "stored but untranslated answers")
    proc.kill()
    proc.communicate()
    assert rows("generations") > rows("translations")

    done = hp.run("run", path, "--model", tiny_model, "--resume", "1")
    assert done.returncode == 0, done.stderr
    assert rows("generations") == 6
    assert _per_generation(db_url, translator) == [1] * 6
    assert rows("runs", runs.c.status == "done") == 1


def test_translate_run_completes_only_what_is_missing(hp, experiment, tiny_model, slow_model, tiny_marian, rows, db_url):
    path = experiment(3, max_new_tokens=6)
    assert hp.run("run", path, "--model", tiny_model).returncode == 0
    fast, slow = f"mt:{tiny_marian}", f"llm:hf:{slow_model}"
    # killed after the first translator's rows were stored, before the second's
    proc = hp("translate", "--run", "1", "-t", fast, "-t", slow)
    freeze_when(proc, lambda: rows("translations", translations.c.translator == fast) == 3
                and rows("translations", translations.c.translator == slow) == 0, "the first translator's rows")
    proc.kill()
    proc.communicate()
    assert rows("translations", translations.c.translator == slow) == 0

    again = hp.run("translate", "--run", "1", "-t", fast, "-t", slow, "--json")
    assert again.returncode == 0, again.stderr
    assert f"run 1 already has all 3 translations by {fast} (en→ko); nothing stored" in again.stderr
    assert _per_generation(db_url, fast) == [1] * 3 and _per_generation(db_url, slow) == [1] * 3

    # a rerun of a complete job stores nothing and says so, per translator
    third = hp.run("translate", "--run", "1", "-t", fast, "-t", slow)
    assert third.returncode == 0, third.stderr
    assert third.stdout == ""
    assert third.stderr.count("nothing stored") == 2
    assert rows("translations") == 6

    # --force replaces one translator's rows, in one transaction
    with open_engine(db_url).connect() as conn:
        before = set(conn.execute(select(translations.c.id).where(translations.c.translator == fast)).scalars())
    forced = hp.run("translate", "--run", "1", "-t", fast, "--force")
    assert forced.returncode == 0, forced.stderr
    with open_engine(db_url).connect() as conn:
        after = set(conn.execute(select(translations.c.id).where(translations.c.translator == fast)).scalars())
        assert conn.execute(select(func.count(distinct(translations.c.generation_id)))).scalar_one() == 3
    assert len(after) == 3 and not before & after
    assert rows("translations") == 6
