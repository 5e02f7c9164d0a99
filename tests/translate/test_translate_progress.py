"""translate on a terminal: one bar per translator over the segments."""
from __future__ import annotations


def test_translate_draws_one_bar_per_translator_on_a_terminal(tiny_marian, tiny_m2m100, tmp_path, on_a_terminal):
    src = tmp_path / "s.en"
    src.write_text("".join(f"Sentence {i}.\n" for i in range(5)), encoding="utf-8")
    code, out, shown = on_a_terminal(["translate", "--file", src, "-t", f"mt:{tiny_marian}",
                                       "-t", f"mt:{tiny_m2m100}", "--batch-size", "2"])
    assert code == 0, shown
    assert shown.count("5/5") >= 2 and "segments" in shown
    assert "marian-en-ko" in shown and "m2m100" in shown
