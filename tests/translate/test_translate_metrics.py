"""chrF++, BLEU and Hangul share on fixed strings, against sacrebleu called directly."""
from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU, CHRF

from hanprompt.translate.metrics import bleu_tokenizer, hangul_share, score

HYP = ["서울은 한국의 수도입니다.", "기차는 네 번 승강장에서 출발해요.", "Thank you"]
REF = ["서울은 한국의 수도이다.", "기차는 4번 승강장에서 출발합니다.", "감사합니다."]


def test_chrf_plus_plus_and_bleu_agree_with_sacrebleu():
    s = score(HYP, REF, "ko")
    chrf = CHRF(word_order=2)
    assert s.chrf == pytest.approx(chrf.corpus_score(HYP, [REF]).score)
    assert s.chrf_signature == str(chrf.get_signature()) and "nw:2" in s.chrf_signature
    bleu = BLEU(tokenize=bleu_tokenizer("ko"))
    assert s.bleu == pytest.approx(bleu.corpus_score(HYP, [REF]).score)
    assert s.bleu_signature == str(bleu.get_signature())
    assert 0 < s.bleu < 100 and 0 < s.chrf < 100


def test_korean_bleu_uses_mecab_when_installed():
    assert bleu_tokenizer("ko") in ("ko-mecab", "char")
    pytest.importorskip("mecab_ko")
    assert "tok:ko-mecab" in score(HYP, REF, "ko").bleu_signature


def test_identical_text_scores_100():
    s = score(REF, REF, "ko")
    assert s.chrf == pytest.approx(100) and s.bleu == pytest.approx(100)


def test_hangul_share_counts_letters_only():
    assert hangul_share(["서울 Seoul 123!"]) == pytest.approx(2 / 7)
    assert hangul_share(["한국어만"]) == 1.0 and hangul_share(["", "42"]) == 0.0


def test_different_lengths_are_refused():
    with pytest.raises(ValueError):
        score(HYP, REF[:2], "ko")
