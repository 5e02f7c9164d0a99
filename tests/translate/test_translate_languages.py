"""Language codes per model family, and their effect on real tiny models."""
from __future__ import annotations

import pytest

from hanprompt.errors import UsageError
from hanprompt.translate import base
from hanprompt.translate.languages import family_code, language, marian_target_token


def test_simple_codes_map_to_each_family():
    ko, en = language("ko"), language("en")
    assert (family_code("nllb", ko), family_code("nllb", en)) == ("kor_Hang", "eng_Latn")
    assert (family_code("m2m100", ko), family_code("m2m100", en)) == ("ko", "en")
    assert language("kor_Hang") is ko and language("KO") is ko and language("kor") is ko


def test_unknown_code_lists_the_supported_ones():
    with pytest.raises(UsageError) as e:
        language("xx", "--to")
    assert "'xx'" in str(e.value) and "ko (Korean)" in str(e.value) and "en (English)" in str(e.value)


def test_marian_target_token_only_for_multi_target_models():
    assert marian_target_token(language("ko"), [], "m") is None
    assert marian_target_token(language("ko"), [">>jpn<<", ">>kor<<"], "m") == ">>kor<<"
    assert marian_target_token(language("ko"), [">>kor_Hang<<", ">>kor<<"], "m") == ">>kor_Hang<<"
    with pytest.raises(UsageError, match=">>jpn<<"):
        marian_target_token(language("de"), [">>jpn<<", ">>kor<<"], "m")


def test_m2m100_sets_the_source_and_forces_the_target_token(tiny_m2m100):
    t = base.load(f"mt:{tiny_m2m100}")
    ko, ja, en = language("ko"), language("ja"), language("en")
    assert t.family == "m2m100"
    assert t._lang_id(ko) == t.tokenizer.get_lang_id("ko")
    ids = t.generate_ids(["Where is the station?", "Thank you."], en, ko)
    assert t.tokenizer.src_lang == "en"
    assert t.tokenizer("x")["input_ids"][0] == t.tokenizer.get_lang_id("en")
    # After the decoder start token, every output begins with the forced target language.
    assert [row[1] for row in ids] == [t.tokenizer.get_lang_id("ko")] * 2
    assert [row[1] for row in t.generate_ids(["Thank you."], en, ja)] == [t.tokenizer.get_lang_id("ja")]
    (text,) = t.translate_segments(["Where is the station?"], en, ko)
    assert "__ko__" not in text  # the language token is not part of the translation


def test_multi_target_marian_gets_the_target_token(tiny_marian_multi):
    t = base.load(f"mt:{tiny_marian_multi}")
    en = language("en")
    assert t._prefix(language("ko")) == ">>kor<< "
    for code, token in (("ko", ">>kor<<"), ("ja", ">>jpn<<")):
        batch = t.encode(["Hello there.", "Thank you."], en, language(code))
        assert batch["input_ids"][:, 0].tolist() == [t.tokenizer.convert_tokens_to_ids(token)] * 2
    assert t.translate_segments(["Hello there."], en, language("ko"))[0]  # decodes without the token
    with pytest.raises(UsageError, match="no target token for German"):
        t.check(en, language("de"))


def test_single_target_marian_refuses_another_pair(tiny_marian):
    t = base.load(f"mt:{tiny_marian}")
    assert t._prefix(language("ko")) == ""
    batch = t.encode(["Hello there."], language("en"), language("ko"))
    assert batch["input_ids"][0, 0].item() != t.tokenizer.unk_token_id  # no stray language token
    with pytest.raises(UsageError, match="translates en -> ko only"):
        t.check(language("en"), language("ja"))
