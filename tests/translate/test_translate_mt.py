"""mt: translators on tiny real models: batching, long texts, refusal of other models."""
from __future__ import annotations

import pytest

from hanprompt.errors import BackendError
from hanprompt.translate import base
from hanprompt.translate.languages import language

EN, KO = language("en"), language("ko")
TEXTS = ["Where is the nearest subway station?", "I would like a window seat, please.",
         "The meeting starts at nine.", "Please restart the server after the update.", "Thank you."]


def test_a_model_is_loaded_once_per_process(tiny_marian):
    assert base.load(f"mt:{tiny_marian}") is base.load(f"mt:{tiny_marian}")


def test_batches_give_the_same_translations_as_one_by_one(tiny_marian):
    t = base.load(f"mt:{tiny_marian}", batch_size=2)
    calls = []
    real = t.translate_segments

    def counting(segments, source, target):
        calls.append(len(segments))
        return real(segments, source, target)

    t.translate_segments = counting
    batched = t.translate(TEXTS, EN, KO)
    assert calls == [2, 2, 1]
    one_by_one = [t.translate([text], EN, KO)[0] for text in TEXTS]
    for a, b in zip(batched, one_by_one):
        # Padding must not change greedy decoding; only the length budget (set by a batch's
        # longest input) differs, and random weights never stop early, so compare the overlap.
        n = min(len(a.translation), len(b.translation))
        assert n > 0 and a.translation[:n] == b.translation[:n]
    assert all(r.seconds > 0 and r.segments == 1 for r in batched)


def test_long_texts_are_split_so_nothing_is_cut(tiny_marian):
    t = base.load(f"mt:{tiny_marian}")
    long_sentence = ", ".join(["the server restarts after the update"] * 40) + "."
    assert t.too_long(long_sentence)
    text = f"Thank you. {long_sentence}\n\nThe meeting starts at nine."
    (result,) = t.translate([text], EN, KO)
    assert result.segments > 3  # the long sentence became several pieces within the model's limit
    assert result.translation.count("\n\n") == 1  # the paragraph break survives


def test_a_causal_model_is_refused_with_the_llm_alternative(tiny_model):
    with pytest.raises(BackendError) as e:
        base.load(f"mt:{tiny_model}")
    assert "not a sequence-to-sequence" in str(e.value) and f"llm:{tiny_model}" in str(e.value)


def test_an_uncached_hub_model_says_how_to_use_a_local_path(cli_process):
    result = cli_process("translate", "Hello.", "--translator", "mt:hanprompt-test/no-such-model",
                         env={"HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    err = result.stderr.strip()
    assert len(err.splitlines()) == 1 and "neither in the local Hugging Face cache" in err and "mt:PATH" in err
    assert "hf download hanprompt-test/no-such-model" in err
