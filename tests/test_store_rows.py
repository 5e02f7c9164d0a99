"""Rows written many at a time: every row keeps every column, whatever the first row holds."""
from __future__ import annotations


def test_checks_keep_score_and_reason_when_the_first_row_has_neither(tmp_path):
    from hanprompt.store import open_engine
    from hanprompt.store.experiments import add_checks, run_results
    from hanprompt.store.runs import add_generation, create_run

    engine = open_engine(f"sqlite:///{tmp_path / 'log.db'}")
    run_id = create_run(engine, name="checks", kind="experiment", spec={})
    with engine.begin() as conn:
        gen = add_generation(conn, run_id, {"model": "hf:tiny", "backend": "hf", "response": "안녕하세요"})
        add_checks(conn, gen, [
            {"name": "language", "spec": {"language": "ko"}, "passed": True},
            {"name": "similar", "spec": {"similar": "안녕"}, "passed": False, "score": 0.42,
             "reason": "cosine 0.42 (needs 0.80)"},
        ])
    (result,) = run_results(engine, run_id)
    first, second = result["checks"]
    assert first["score"] is None and first["reason"] is None
    assert second["score"] == 0.42 and second["reason"] == "cosine 0.42 (needs 0.80)"
