"""hanprompt optimize on the real SmolLM2-135M-Instruct (gguf, greedy), with deterministic checks.

Four countries: two search rows, two held-out rows (seed 0). The budget of 8 cells holds one
round: the original and one built-in edit (few-shot, with the file's examples) on the search
rows, then both on the held-out rows.
"""
from __future__ import annotations

import pytest

from hanprompt.experiments.spec import load_spec
from hanprompt.store import open_engine

FILE = """\
name: capitals
params: {{max_new_tokens: 12, temperature: 0}}
vars:
  country: [France, Italy, Spain, Germany]
checks:
{checks}
variants:
  - id: plain
    prompt: "What is the capital of {{{{country}}}}?"
  - id: shown
    style: few-shot
    task: "What is the capital of {{{{country}}}}?"
    examples:
      - {{input: "What is the capital of Japan?", output: "Capital: Tokyo."}}
      - {{input: "What is the capital of Kenya?", output: "Capital: Nairobi."}}
"""
REACHABLE = '  - contains: "Capital:"\n  - max-words: 6\n'
UNREACHABLE = '  - contains: "QX7Z"\n'


def _file(tmp_path, checks: str):
    path = tmp_path / "capitals.yaml"
    path.write_text(FILE.format(checks=checks), encoding="utf-8")
    return path


def _runs(kind: str | None = None) -> list[dict]:
    from hanprompt import settings
    from hanprompt.store.runs import list_runs

    return list_runs(open_engine(settings.db_url()), kind=kind)


def test_builtin_edit_wins_on_held_out_rows_and_survives_an_interruption(tmp_path, smollm2_gguf):
    from hanprompt import optimize
    from hanprompt.experiments.optimize import OptimizeInterrupted

    path = _file(tmp_path, REACHABLE)
    out = tmp_path / "out.yaml"
    calls = []

    def stop_once(done, total, label):  # a Ctrl-C in the middle of the first round
        calls.append(done)
        if done >= 1 and len([c for c in calls if c >= 1]) == 1:
            raise KeyboardInterrupt

    with pytest.raises(OptimizeInterrupted) as info:
        optimize(path, variant="plain", budget=8, models=[f"gguf:{smollm2_gguf}"], output=out, progress=stop_once)
    opt_id = info.value.run_id
    assert _runs("optimize")[0]["status"] == "interrupted"
    assert not out.exists()

    result = optimize(path, resume=opt_id, output=out)
    assert result.run_id == opt_id
    assert result.split == {"var": "country", "seed": 0, "search": result.split["search"],
                            "held_out": result.split["held_out"]}
    assert sorted(result.split["search"] + result.split["held_out"]) == ["France", "Germany", "Italy", "Spain"]
    (round1,) = result.rounds
    by_id = {c["id"]: c for c in round1["candidates"]}
    assert by_id["plain"]["origin"] == "original"
    assert by_id["plain~few-shot"]["passed"] > by_id["plain"]["passed"]
    assert result.winner["id"] == "plain~few-shot"
    held = result.held_out
    assert held["winner"]["checked"] == held["original"]["checked"] == 2
    assert held["winner"]["passed"] > held["original"]["passed"]
    assert result.outcome.startswith(("improved", "no clear improvement on the held-out rows"))
    # no cell ran twice: 4 search and 4 held-out cells, one generation each; the interrupted round was resumed
    assert sum(r["generations"] for r in _runs("experiment")) == 8
    assert (result.generated, result.cached) == (8, 0)
    assert _runs("optimize")[0]["status"] == "done"
    # the copy holds the winner as a new variant; the user's file is untouched
    assert path.read_text(encoding="utf-8") == FILE.format(checks=REACHABLE)
    copy = load_spec(out)
    new = {v.id: v for v in copy.spec.variants}["plain-optimized"]
    assert [m.role for m in new.messages] == ["user", "assistant", "user", "assistant", "user"]
    # the report shows the search: score per round, the winner's diff, the held-out comparison
    from hanprompt import settings
    from hanprompt.report.build import build_report

    page = build_report(open_engine(settings.db_url()), [opt_id])
    assert "Optimization of variant plain" in page and "Score per round" in page
    assert "+assistant: Capital: Tokyo." in page
    from markupsafe import escape

    assert f"{held['winner']['passed']}/2" in page and str(escape(held["verdict"])) in page  # as the page escapes it


def test_nothing_helps_says_no_clear_improvement(tmp_path, smollm2_gguf, cli):
    path = _file(tmp_path, UNREACHABLE)
    out = tmp_path / "out.yaml"
    code, stdout, stderr = cli("optimize", str(path), "--variant", "plain", "--budget", "8",
                               "--model", f"gguf:{smollm2_gguf}", "-o", str(out))
    assert code == 0, stderr
    assert "plain: 0/2 passed (original)" in stdout
    assert "no clear improvement" in stdout
    assert "held-out rows (" not in stdout  # no winner: the held-out rows are not spent
    assert not out.exists()
    assert _runs("optimize")[0]["status"] == "done"


@pytest.mark.parametrize("args, checks, message", [
    (["--variant", "nope"], REACHABLE, "no variant 'nope'"),
    (["--variant", "plain"], "  []\n", "nothing to optimize for"),
    (["--variant", "plain", "--budget", "7"], REACHABLE, "below one round"),
    ([], REACHABLE, "--variant is required"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, cli, args, checks, message):
    path = _file(tmp_path, checks)
    code, stdout, stderr = cli("optimize", str(path), *args)
    assert code == 2 and stdout == ""
    assert message in stderr and len(stderr.strip().splitlines()) == 1
    assert "Traceback" not in stderr
    assert _runs() == []


def test_too_few_rows_refused(tmp_path, cli):
    path = tmp_path / "few.yaml"
    path.write_text(FILE.format(checks=REACHABLE).replace("[France, Italy, Spain, Germany]", "[France, Italy, Spain]"),
                    encoding="utf-8")
    code, _, stderr = cli("optimize", str(path), "--variant", "plain")
    assert code == 2 and "at least 4 values" in stderr
    assert _runs() == []


def test_proposer_calls_are_budgeted_and_stored(tmp_path, smollm2_gguf):
    """SmolLM2 as the OPRO proposer: its answers are stored (role proposer) and counted; an answer
    without the {{country}} placeholder is not used (asked again once, then the round is skipped)."""
    from sqlalchemy import select

    from hanprompt import optimize, settings
    from hanprompt.store.schema import generations

    path = _file(tmp_path, REACHABLE)
    spec = f"gguf:{smollm2_gguf}"
    result = optimize(path, "plain", budget=12, models=[spec], proposer=spec, output=tmp_path / "out.yaml")
    assert result.rounds[0]["candidates"][1]["id"] == "plain~few-shot"  # round 1: half the room, one edit
    assert 1 <= result.proposer_calls <= 2 * 4
    with open_engine(settings.db_url()).connect() as conn:
        stored = conn.execute(select(generations.c.messages).where(
            generations.c.run_id == result.run_id, generations.c.role == "proposer")).scalars().all()
    assert len(stored) == result.proposer_calls
    assert "plain: 0/2" in stored[0][0]["content"] or "passed 0/2" in stored[0][0]["content"]
    proposed = [c for r in result.rounds[1:] for c in r["candidates"]]
    skipped = [n for n in result.notices if "gave no usable prompt" in n or "repeated a prompt" in n]
    assert proposed or skipped
    # a resume walks the same rounds: a proposed prompt is taken from its round's file, not asked again
    again = optimize(path, resume=result.run_id, output=tmp_path / "out.yaml")
    assert again.rounds == result.rounds and again.outcome == result.outcome
    if not skipped:
        with open_engine(settings.db_url()).connect() as conn:
            assert len(conn.execute(select(generations.c.id).where(
                generations.c.run_id == result.run_id, generations.c.role == "proposer")).all()) == len(stored)


def test_korean_edits_and_a_seeded_split(tmp_path):
    """The built-in edits of a Korean variant follow its language; the split is the seed's, every time."""
    from hanprompt.experiments.optimize import _as_messages, _edits, _split

    path = tmp_path / "ko.yaml"
    path.write_text(
        "name: ko\nvars:\n  city: [서울, 부산, 대구, 광주, 대전]\nchecks:\n  - speech-level: polite\n"
        "variants:\n  - id: ask\n    system: 여행 안내원입니다.\n    prompt: \"{{city}}에 대해 알려 줘.\"\n",
        encoding="utf-8")
    loaded = load_spec(path)
    variant = loaded.spec.variants[0]
    original = _as_messages(variant)
    edits = _edits(loaded, variant, original)
    assert "few-shot" not in edits and "role" not in edits  # no examples in the file; a system message already
    assert edits["speech-level"](original)[-1]["content"].endswith("해요체(-요)로 답하세요.")
    assert edits["brief"](original)[-1]["content"].endswith("서론 없이 세 문장 이내로 짧게 답하세요.")
    assert edits["brief"](original)[0] == {"role": "system", "content": "여행 안내원입니다."}
    first, again, other = _split(loaded, variant, 0), _split(loaded, variant, 0), _split(loaded, variant, 1)
    assert first == again and len(first["held_out"]) == 2 and len(first["search"]) == 3
    assert sorted(first["search"] + first["held_out"]) == sorted(["서울", "부산", "대구", "광주", "대전"])
    assert other["held_out"] != first["held_out"] or other["search"] != first["search"]


def test_shipped_example(tmp_path, smollm2_gguf, cli):
    """examples/optimize-capitals.yaml as its header says: plain improves, shown cannot."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "optimize-capitals.yaml"
    before = example.read_text(encoding="utf-8")
    code, stdout, stderr = cli("optimize", str(example), "--variant", "plain", "--budget", "24",
                               "--model", f"gguf:{smollm2_gguf}", "-o", str(tmp_path / "plain.yaml"))
    assert code == 0, stderr
    assert "verdict: B better" in stdout and "improved: plain~few-shot beats plain" in stdout
    code, stdout, stderr = cli("optimize", str(example), "--variant", "shown", "--budget", "24",
                               "--model", f"gguf:{smollm2_gguf}", "-o", str(tmp_path / "shown.yaml"))
    assert code == 0, stderr
    assert "shown: 6/6 passed (original)" in stdout and "no clear improvement" in stdout
    import re

    # the first search asked the few-shot wording on the same rows: those answers are reused, not asked again
    assert int(re.search(r"(\d+) results reused", stderr).group(1)) > 0
    assert example.read_text(encoding="utf-8") == before and not (tmp_path / "shown.yaml").exists()


def test_the_printed_resume_command_keeps_the_output_encoding_and_log(tmp_path):
    from hanprompt.cli import build_parser
    from hanprompt.cli.optimize import resume_command

    out = tmp_path / "my copy.yaml"
    args = build_parser().parse_args(["optimize", "exp.yaml", "--variant", "plain", "-o", str(out),
                                      "--encoding", "cp949", "--db", "sqlite:///x.db"])
    command = resume_command(args, 7)
    assert command == f"hanprompt optimize exp.yaml --resume 7 -o '{out}' --encoding cp949 --db sqlite:///x.db"
    plain = build_parser().parse_args(["optimize", "exp.yaml", "--variant", "plain"])
    assert resume_command(plain, 7) == "hanprompt optimize exp.yaml --resume 7"


def test_an_optimization_follows_the_one_run_lifecycle(tmp_path, monkeypatch):
    """Resuming an optimization takes its lease like any run (RunBusy while a live process holds
    it), and a failure is recorded as ``failed`` with its one line (store.runs.end_state)."""
    from hanprompt import optimize, settings
    from hanprompt.errors import BackendError, RunBusy
    from hanprompt.experiments import optimize as module
    from hanprompt.store.runs import RunLife, get_run

    path = _file(tmp_path, REACHABLE)
    engine = open_engine(settings.db_url())
    spec = load_spec(path).spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    state = {"file": str(path), "variant": "plain", "budget": 8, "proposer": None, "seed": 0, "models": None,
             "split": None, "spec": spec, "rounds": []}
    with RunLife(engine, name="capitals: optimize plain", kind="optimize", spec=state) as held:  # this process: live
        with pytest.raises(RunBusy, match=f"run {held.run_id} is held by process"):
            optimize(path, resume=held.run_id)

    def broken(*args, **kwargs):
        raise BackendError("")  # an empty message still gives one line

    monkeypatch.setattr(module, "run_experiment", broken)
    with pytest.raises(BackendError):
        optimize(path, variant="plain", budget=8)
    (run,) = [get_run(engine, r["id"]) for r in _runs("optimize") if r["id"] != held.run_id]
    assert (run["status"], run["error"], run["holder"]) == ("failed", "BackendError", None)  # its lease given up
