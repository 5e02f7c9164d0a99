"""One run, the same numbers in every view: `compare` (table and --json), the HTML report, the viewer.

The run is written through the store's own functions and holds what makes figures drift apart:
copies of one greedy generation (a repeat served from the cache within the run, and both
repeats of a cell served from an earlier run), an error, a check without a verdict, a sampled
cell, overrides (``--repeat 2``, ``--no-cache``-free) and variants stored in another order than
the file's.
"""
from __future__ import annotations

import html
import json
import re

import pytest

pytest.importorskip("starlette")

FILE_ORDER = ["alpha", "gamma", "beta"]  # the file's order; the answers are stored beta, alpha, gamma
MODEL = "hf:tiny-a"


def _gen(variant: str, response: str, **extra) -> dict:
    record = {
        "model": MODEL, "backend": "hf", "device": "cpu", "dtype": "float32",
        "params": {"max_new_tokens": 16, "temperature": 0.0},
        "messages": [{"role": "user", "content": f"{variant} prompt"}], "prompt": f"{variant} prompt",
        "response": response, "input_tokens": 5, "output_tokens": 4, "ttft_s": 0.05, "total_s": 0.5,
        "tokens_per_s": 20.0, "finish_reason": "eos", "variant": variant, "repeat_index": 0,
        "cache_key": f"key-{variant}", "cost": 0.01,
    }
    record.update(extra)
    return record


PASS = {"name": "contains", "spec": {"contains": "서울"}, "passed": True, "score": None, "reason": "has it"}
FAIL = {"name": "contains", "spec": {"contains": "부산"}, "passed": False, "score": None, "reason": "lacks it"}
UNJUDGED = {"name": "llm-rubric", "spec": {"llm-rubric": "polite"}, "passed": None, "score": None,
            "reason": "no judge set"}

#: what every view must show, per variant (one model): passed/checked over independent answers,
#: answers stored, copies from the cache, tok/s of answers generated here, cost spent here
EXPECTED = {
    "alpha": {"passed": 1, "checked": 1, "n": 2, "cached": 1, "independent": 1, "tokens_per_s": 20.0,
              "cost": 0.01, "errors": 0},
    "gamma": {"passed": 0, "checked": 1, "n": 2, "cached": 2, "independent": 1, "tokens_per_s": None,
              "cost": None, "errors": 0},
    "beta": {"passed": 1, "checked": 1, "n": 2, "cached": 0, "independent": 2, "tokens_per_s": 30.0,
             "cost": 0.02, "errors": 1},
}


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    from hanprompt.store import open_engine
    from hanprompt.store.experiments import add_checks
    from hanprompt.store.runs import add_generation, create_run, finish_run

    url = f"sqlite:///{tmp_path_factory.mktemp('figures') / 'log.db'}"
    engine = open_engine(url)
    spec = {"file": "order.yaml",
            "spec": {"name": "order", "params": {"max_new_tokens": 16, "temperature": 0}, "repeat": 1,
                     "variants": [{"id": v, "prompt": f"{v} prompt"} for v in FILE_ORDER]},
            "overrides": {"models": [{"spec": MODEL}], "repeat": 2}}

    def run(rows) -> tuple[int, list[int]]:
        run_id = create_run(engine, name="order", kind="experiment", spec=spec)
        ids = []
        with engine.begin() as conn:
            for record, checks in rows:
                ids.append(add_generation(conn, run_id, record))
                add_checks(conn, ids[-1], checks)
        finish_run(engine, run_id)
        return run_id, ids

    earlier, (paid,) = run([(_gen("gamma", "부산 아님"), [FAIL])])
    run_id, ids = run([
        (_gen("beta", "서울 1", params={"max_new_tokens": 16, "temperature": 0.7}, cost=0.02,
              tokens_per_s=30.0, cache_key=None), [PASS]),
        (_gen("beta", "", params={"max_new_tokens": 16, "temperature": 0.7}, repeat_index=1, cache_key=None,
              error="backend: out of memory", output_tokens=0, tokens_per_s=None, cost=None), []),
        (_gen("alpha", "서울"), [PASS, UNJUDGED]),
    ])
    with engine.begin() as conn:
        copy = add_generation(conn, run_id, _gen("alpha", "서울", repeat_index=1, cached=True,
                                                 cached_from_id=ids[2]))
        add_checks(conn, copy, [PASS, UNJUDGED])
        for rep in (0, 1):
            gid = add_generation(conn, run_id, _gen("gamma", "부산 아님", repeat_index=rep, cached=True,
                                                    cached_from_id=paid))
            add_checks(conn, gid, [FAIL])
    return url, run_id, earlier


def _rates(text: str) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in re.findall(r"\d+% \((\d+)/(\d+)\)", text)]


def _expected_rates() -> list[tuple[int, int]]:
    return [(EXPECTED[v]["passed"], EXPECTED[v]["checked"]) for v in FILE_ORDER]


def test_compare_json_holds_the_figures_in_file_order(cli, logged):
    url, run_id, earlier = logged
    code, out, err = cli("compare", run_id, "--json", "--db", url)
    assert code == 0, err
    data = json.loads(out)
    assert data["variants"] == FILE_ORDER
    assert [c["variant"] for c in data["cells"]] == FILE_ORDER
    assert [p["variant"] for p in data["prompts"]] == FILE_ORDER
    for cell in data["cells"] + data["prompts"]:
        want = EXPECTED[cell["variant"]]
        assert {k: cell[k] for k in want} == pytest.approx(want), cell["variant"]
    gamma = next(c for c in data["cells"] if c["variant"] == "gamma")
    assert gamma["paid_in"] == [earlier]  # where the cached answers were paid for
    assert data["run"]["settings"]["repeat"] == 2


def test_compare_table_shows_the_same_figures(cli, logged):
    url, run_id, _ = logged
    code, out, err = cli("compare", run_id, "--db", url)
    assert code == 0, err
    assert _rates(out) == _expected_rates()  # the pass-rate table, rows in the file's order
    cells = re.findall(r"passed (\d+)/(\d+) · (\d+) repeats", out)  # each cell of the side-by-side table
    assert [(int(k), int(n), int(r)) for k, n, r in cells] == [
        (EXPECTED[v]["passed"], EXPECTED[v]["checked"], EXPECTED[v]["n"]) for v in FILE_ORDER]
    assert "checks 2/2" not in out and "checks 4/4" not in out
    assert out.index("alpha") < out.index("gamma") < out.index("beta")


def _page_figures(text: str) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in re.findall(r"passed (\d+)/(\d+)", html.unescape(text))]


def test_report_shows_the_same_figures(cli, logged, tmp_path):
    url, run_id, earlier = logged
    out = tmp_path / "r.html"
    code, _, err = cli("report", run_id, "-o", out, "--db", url)
    assert code == 0, err
    text = html.unescape(out.read_text(encoding="utf-8"))
    assert _page_figures(text) == [(2, 3)] + _expected_rates()  # the run's total, then each cell
    assert re.search(r"<dt>repeat</dt><dd>2</dd>", text)
    assert "cost 0.03 in this run" in text and f"paid for in run {earlier}" in text


def test_viewer_shows_the_same_figures(logged):
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine

    url, run_id, earlier = logged
    client = TestClient(create_app(read_only_engine(url)), base_url="http://127.0.0.1")
    page = client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert _rates(text) == _expected_rates()  # the per variant x model table
    assert _page_figures(text) == [(2, 3)] + _expected_rates()  # the run's total, then each cell
    assert re.search(r"<dt>repeat</dt><dd>2</dd>", text)
    assert "cost 0.03 in this run" in text and f"paid for in run {earlier}" in text


def test_the_runs_list_shows_the_run_pages_figures(logged):
    """The viewer's runs list takes each run's answers and pass rate from the read model, as its page
    and `compare` do: copies count once, checks without a verdict count nowhere."""
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine

    url, run_id, earlier = logged
    client = TestClient(create_app(read_only_engine(url)), base_url="http://127.0.0.1")
    text = html.unescape(client.get("/").text)
    rows = re.findall(r'<a href="/runs/(\d+)">\d+</a>(.*?)</tr>', text, re.DOTALL)
    figures = {int(i): re.findall(r'<td class="num">([^<]*)</td>', body) for i, body in rows}
    # answers stored, then passed/checked over independent answers: the run page's "passed 2/3"
    assert figures[run_id][:2] == ["6", "67% (2/3)"]
    assert figures[earlier][:2] == ["1", "0% (0/1)"]
    page = html.unescape(client.get(f"/runs/{run_id}").text)
    assert _page_figures(page)[0] == (2, 3) and re.search(r"<dd>6 answers", page)


def test_a_real_greedy_run_repeated_shows_one_answer_everywhere(cli, tiny_model, tmp_path, spec_file):
    """A greedy cell repeated 3 times with 2 checks is one independent answer: `run`, `--json`,
    the report and the viewer all say passed 1/1 (not 6/6 or 3/3) and repeat 3."""
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine

    url = f"sqlite:///{tmp_path / 'real.db'}"
    path = spec_file(f"""\
        name: greedy
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 6, temperature: 0}}
        checks: [{{max-words: 10000}}, {{not-contains: "no such text here"}}]
        variants:
          - {{id: zeta, prompt: "first in the file"}}
          - {{id: alpha, prompt: "second in the file"}}
        """)
    code, out, err = cli("run", path, "--repeat", "3", "--db", url)
    assert code == 0, err
    assert re.findall(r"passed (\d+)/(\d+) · (\d+) repeats", out) == [("1", "1", "3")] * 2
    assert _rates(out) == [(1, 1), (1, 1)] and out.index("zeta") < out.index("alpha")
    code, out, err = cli("compare", "1", "--json", "--db", url)
    data = json.loads(out)
    assert data["variants"] == ["zeta", "alpha"] and data["run"]["settings"]["repeat"] == 3
    assert [(c["passed"], c["checked"], c["n"], c["independent"]) for c in data["cells"]] == [(1, 1, 3, 1)] * 2
    report = tmp_path / "r.html"
    code, _, err = cli("report", "1", "-o", report, "--db", url)
    assert code == 0, err
    for text in (report.read_text(encoding="utf-8"),
                 TestClient(create_app(read_only_engine(url)), base_url="http://127.0.0.1").get("/runs/1").text):
        text = html.unescape(text)
        assert _page_figures(text) == [(2, 2), (1, 1), (1, 1)]  # the run's total, then each cell
        assert re.search(r"<dt>repeat</dt><dd>3</dd>", text)
