"""Numeric limits and the model's context window, on a tiny real model with 64 positions."""
from __future__ import annotations

import json
import math

import pytest

from hanprompt import limits
from hanprompt.backends import registry
from hanprompt.backends.base import GenParams
from hanprompt.backends.context import fit
from hanprompt.errors import UsageError, for_cli

CONTEXT = 64
LONG = "start " + "word " * 120 + "end"  # far more than 64 tokens


@pytest.fixture(scope="module")
def short_model(tmp_path_factory):
    """A tiny Llama that attends to 64 positions only."""
    from hanprompt.testing.models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("models") / "short-llama", max_position_embeddings=CONTEXT)


@pytest.mark.parametrize("values, flag, fix", [
    ({"max_new_tokens": 10**23}, "--max-new-tokens", "from 1 to 1,000,000"),
    ({"max_new_tokens": 0}, "--max-new-tokens", "from 1 to 1,000,000"),
    ({"temperature": math.inf}, "--temperature", "from 0 (greedy) to 10"),
    ({"temperature": math.nan}, "--temperature", "from 0 (greedy) to 10"),
    ({"temperature": 10.5}, "--temperature", "from 0 (greedy) to 10"),
    ({"top_p": 0.0}, "--top-p", "above 0 and at most 1"),
    ({"top_p": math.nan}, "--top-p", "above 0 and at most 1"),
    ({"seed": 2**63}, "--seed", "from 0 to 9,223,372,036,854,775,807"),
    ({"seed": -1}, "--seed", "from 0 to 9,223,372,036,854,775,807"),
])
def test_generation_parameters_are_bounded(values, flag, fix):
    with pytest.raises(UsageError) as e:
        GenParams.build(**values)
    # the command line names the flag; a library caller reads the argument's own name
    assert for_cli(e.value).startswith(f"{flag} must be") and fix in str(e.value)
    assert str(e.value).startswith(f"{next(iter(values))} must be")


def test_the_edges_are_allowed():
    p = GenParams.build(max_new_tokens=limits.MAX_NEW_TOKENS, temperature=10, top_p=1.0, seed=limits.MAX_SEED)
    assert p.seed == 2**63 - 1 and p.temperature == 10.0


def test_the_hf_backend_reads_its_context_from_the_config(short_model, tiny_model):
    short = registry.load(str(short_model))
    assert short.context_length == CONTEXT
    assert registry.load(str(tiny_model)).context_length == 1024
    prompt = short.render([{"role": "user", "content": "안녕하세요, hello"}])
    completion = short.generate([{"role": "user", "content": "안녕하세요, hello"}], GenParams(max_new_tokens=1))
    assert short.count_tokens(prompt) == completion.input_tokens


def test_fit_refuses_with_both_numbers_and_cuts_when_asked(short_model):
    backend = registry.load(str(short_model))
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": LONG}]
    params = GenParams(max_new_tokens=8)
    prompt_tokens = backend.count_tokens(backend.render(messages))
    with pytest.raises(UsageError) as e:
        fit(backend, messages, params)
    assert f"the prompt is {prompt_tokens:,} tokens and max_new_tokens is 8" in str(e.value)
    assert "64-token context" in str(e.value) and "truncate='left' or 'right'" in str(e.value)
    assert "pass --truncate left|right" in for_cli(e.value) and "--" not in str(e.value)
    for side, kept_end in (("left", "end"), ("right", "start")):
        cut = fit(backend, messages, params, side)
        assert cut[0] == messages[0]  # the system message stays whole
        text = cut[1]["content"]
        assert (text.endswith(kept_end) if side == "left" else text.startswith(kept_end)) and len(text) < len(LONG)
        assert backend.count_tokens(backend.render(cut)) + 8 <= CONTEXT
        # the most that fits: one more character would not
        longer = LONG[-(len(text) + 1):] if side == "left" else LONG[:len(text) + 1]
        assert backend.count_tokens(backend.render([messages[0], {"role": "user", "content": longer}])) + 8 > CONTEXT
    assert fit(backend, [{"role": "user", "content": "hi"}], params) == [{"role": "user", "content": "hi"}]


def test_max_new_tokens_must_leave_room_for_the_prompt(short_model):
    backend = registry.load(str(short_model))
    with pytest.raises(UsageError, match="max_new_tokens 64 does not fit the 64-token context"):
        fit(backend, [{"role": "user", "content": "hi"}], GenParams(max_new_tokens=64), "left")
    with pytest.raises(UsageError, match="even with the prompt cut to nothing"):
        fit(backend, [{"role": "system", "content": LONG}, {"role": "user", "content": "hi"}],
            GenParams(max_new_tokens=8), "right")


def test_the_backend_itself_never_runs_past_its_positions(short_model):
    backend = registry.load(str(short_model))
    with pytest.raises(UsageError, match="exceeds the 64-token context"):
        backend.generate([{"role": "user", "content": LONG}], GenParams(max_new_tokens=4))
    with pytest.raises(UsageError, match="exceeds the 64-token context"):
        backend.generate_batch([([{"role": "user", "content": "hi"}], GenParams(max_new_tokens=60))])


def _rows(hanprompt_home) -> tuple[int, int]:
    import sqlite3

    db = hanprompt_home / "hanprompt.db"
    if not db.exists():
        return 0, 0
    with sqlite3.connect(db) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("runs", "generations"))


def test_ask_refuses_a_long_prompt_before_generating_and_truncates_on_request(cli, short_model, hanprompt_home):
    code, out, err = cli("ask", LONG, "--model", short_model, "--max-new-tokens", "4")
    assert code == 2 and out == "" and "exceeds the 64-token context" in err and len(err.splitlines()) == 1
    assert _rows(hanprompt_home) == (0, 0)
    code, out, err = cli("ask", LONG, "--model", short_model, "--max-new-tokens", "4", "--truncate", "left", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["input_tokens"] + 4 <= CONTEXT and answer["messages"][-1]["content"].endswith("end")
    assert _rows(hanprompt_home) == (1, 1)


def test_run_refuses_a_long_prompt_with_nothing_written_and_truncates_on_request(cli, tmp_path, short_model,
                                                                                 hanprompt_home):
    spec = tmp_path / "exp.yaml"
    spec.write_text("name: long\nparams: {max_new_tokens: 4, temperature: 0}\nvariants:\n"
                    f"  - {{id: short, prompt: hi}}\n  - {{id: long, prompt: \"{LONG}\"}}\n", encoding="utf-8")
    code, out, err = cli("run", spec, "-m", short_model)
    assert code == 2 and "exceeds the 64-token context" in err and len(err.splitlines()) == 1
    assert _rows(hanprompt_home) == (0, 0)
    code, out, err = cli("run", spec, "-m", short_model, "--truncate", "right", "--json")
    assert code == 0, err
    results = {r["variant"]: r for r in json.loads(out)}
    assert results["long"]["input_tokens"] + 4 <= CONTEXT and results["short"]["response"] is not None


def test_a_budget_from_the_file_is_named_as_the_files_key_too(cli, tmp_path, short_model, hanprompt_home):
    # max_new_tokens written in the file, no option given: the message must not only blame the flag
    spec = tmp_path / "exp.yaml"
    spec.write_text("name: big\nparams: {max_new_tokens: 64}\nvariants:\n  - {id: a, prompt: hi}\n", encoding="utf-8")
    code, out, err = cli("run", spec, "-m", short_model)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "--max-new-tokens 64 does not fit the 64-token context" in err
    assert "(max_new_tokens: in the file's params, or --max-new-tokens)" in err
    assert _rows(hanprompt_home) == (0, 0)
    from hanprompt.experiments import run_experiment

    with pytest.raises(UsageError) as e:
        run_experiment(spec, models=[str(short_model)])
    assert "--" not in str(e.value) and "(max_new_tokens: in the file's params, or params)" in str(e.value)
