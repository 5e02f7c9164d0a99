"""Sentence splitting of English and Korean, re-joining in the original layout, batching."""
from __future__ import annotations

from hanprompt.translate.segment import batches, split_long, split_sentences, split_text


def _sentences(line: str) -> list[str]:
    return [s for s, _ in split_sentences(line)]


def test_english_sentences_split_at_ends_but_not_at_abbreviations():
    text = "Dr. Kim arrived at 3.30 p.m. today. Is it raining? Yes! See e.g. the U.S. report."
    assert _sentences(text) == ["Dr. Kim arrived at 3.30 p.m. today.", "Is it raining?", "Yes!",
                                "See e.g. the U.S. report."]


def test_korean_sentences_split_at_their_ends():
    text = "서울은 한국의 수도입니다. 부산에 가 봤어요? 정말 좋아요! 제주도는 섬이다。다음 문장"
    assert _sentences(text) == ["서울은 한국의 수도입니다.", "부산에 가 봤어요?", "정말 좋아요!",
                                "제주도는 섬이다。다음 문장"]
    assert _sentences("“좋아요.” 그가 말했다.") == ["“좋아요.”", "그가 말했다."]


def test_join_puts_translations_back_in_the_original_layout():
    text = "First one. Second one.\n\n  - A list item! Last line?\n"
    segments, layout = split_text(text)
    assert segments == ["First one.", "Second one.", "- A list item!", "Last line?"]
    assert layout.join(segments) == text  # identity translation gives the text back
    assert layout.join(["A", "B", "C", "D"]) == "A B\n\n  C D\n"


def test_empty_text_has_no_segments():
    segments, layout = split_text("")
    assert segments == [] and layout.join([]) == ""


def test_long_sentences_are_cut_at_clauses_then_words():
    sentence = "one two three, four five six; seven eight nine ten eleven twelve"
    pieces = split_long(sentence, lambda s: len(s.split()) > 3)
    assert all(len(p.split()) <= 3 for p in pieces)
    assert " ".join(pieces).replace(",", "").replace(";", "") == sentence.replace(",", "").replace(";", "")


def test_batches_cover_every_item_once_and_group_similar_lengths():
    items = ["a" * n for n in (9, 1, 5, 3, 7)]
    groups = batches(items, 2)
    assert sorted(i for g in groups for i in g) == list(range(5))
    assert [len(g) for g in groups] == [2, 2, 1]
    assert groups[0] == [1, 3]  # the two shortest together
