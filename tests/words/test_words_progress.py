"""words over stored answers: documents done, through the library and on a terminal."""
from __future__ import annotations


def test_word_counts_of_stored_answers_report_documents_done(store_run, db):
    from hanprompt.analysis.service import WordOptions, analyse_store

    run_id = store_run(db, [f"서울 여행 {i}번째 이야기" for i in range(250)])
    calls = []
    analyse_store(WordOptions(), db=db, run_id=run_id, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(0, 250), (100, 250), (200, 250), (250, 250)]
    assert all(label == calls[0][2] for *_, label in calls)


def test_words_draws_documents_doneon_a_terminal(store_run, db, on_a_terminal):
    run_id = store_run(db, ["서울 여행", "부산 바다"])
    code, out, shown = on_a_terminal(["words", "--run", run_id])
    assert code == 0, shown
    assert "2/2" in shown and "documents" in shown
