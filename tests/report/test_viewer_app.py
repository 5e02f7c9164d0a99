"""The viewer's pages through Starlette's test client: content, filters, 404s, read-only, bounded queries."""
from __future__ import annotations

import re
import unicodedata

import pytest
from markupsafe import escape
from report_sample import HOSTILE, KO_SHORT, SECRET

pytest.importorskip("starlette")
pytest.importorskip("httpx")


@pytest.fixture(scope="module")
def viewer_engine(sample_log):
    from hanprompt.report.viewer import read_only_engine

    return read_only_engine(sample_log.url)


@pytest.fixture(scope="module")
def client(viewer_engine):
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app

    with TestClient(create_app(viewer_engine, where="the test log"), base_url="http://127.0.0.1") as c:
        yield c


def _ids(html: str, path: str) -> list[int]:
    return [int(i) for i in re.findall(rf'<a href="/{path}/(\d+)">\1</a>', html)]


def test_runs_newest_first_with_kind_status_and_counts(client, sample_log):
    r = client.get("/")
    assert r.status_code == 200
    assert _ids(r.text, "runs") == [sample_log.bench, sample_log.words, sample_log.translate,
                                     sample_log.experiment, sample_log.previous]
    row = r.text[r.text.index(f'<a href="/runs/{sample_log.experiment}">{sample_log.experiment}</a>'):].split("</tr>")[0]
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    # answers (no judge verdict), passed/checked independent answers as the run's page says, translations
    assert cells == ["13", "67% (8/12)", "2"]
    assert "passed 8/12" in client.get(f"/runs/{sample_log.experiment}").text
    from hanprompt.store.runs import list_runs

    # `hanprompt runs` counts the same answers
    listed = {r["id"]: r for r in list_runs(data_engine(sample_log))}
    assert (listed[sample_log.experiment]["generations"], listed[sample_log.experiment]["translations"]) == (13, 2)
    assert _ids(client.get("/?kind=translate").text, "runs") == [sample_log.translate]
    page = client.get("/?before=3").text  # keyset paging
    assert _ids(page, "runs") == [2, 1]


def test_run_page_side_by_side_summary_and_words(client, sample_log):
    r = client.get(f"/runs/{sample_log.experiment}")
    assert r.status_code == 200
    text = r.text
    assert text.count('class="grid-row"') == 4 and "city=부산" in text
    assert "Per variant and model" in text and "100% (4/4)" in text and "0.81" in text  # pass rate, mean score
    assert f'cached from <a href="/generations/{sample_log.experiment_first}">' in text
    assert "Top words (nouns, responses)" in text and "hf:judge-model" not in text
    only = client.get(f"/runs/{sample_log.experiment}?variant=five-line").text
    assert only.count('class="grid-row"') == 2 and "all variants" in only
    assert "No word analysis is stored" in client.get(f"/runs/{sample_log.previous}").text
    bench = client.get(f"/runs/{sample_log.bench}").text
    assert "94%" in bench and "CUDA is not available on this machine" in bench
    assert "<figcaption>Decode and prefill tokens/s</figcaption>" in bench
    assert "Korean token efficiency" in bench and "133.0" in bench and "2.15x" in bench  # as the CLI shows it


def test_run_page_pages_through_answers(client, sample_log):
    from hanprompt.report import data

    first = data.run_page(data_engine(sample_log), sample_log.experiment, limit=5)
    assert len(first["results"]) == 5 and first["next"] == first["results"][-1]["id"]
    rest = data.run_page(data_engine(sample_log), sample_log.experiment, limit=50, after=first["next"])
    seen = [r["id"] for r in first["results"] + rest["results"]]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 13 and rest["next"] is None
    text = client.get(f"/runs/{sample_log.experiment}?after={first['next']}").text
    assert text.count("<div class=\"answer\">") == 8


def data_engine(sample_log):
    from hanprompt.store import open_engine

    return open_engine(sample_log.url)


def test_generation_page_shows_everything_stored(client, sample_log):
    text = client.get(f"/generations/{sample_log.korean_generation}").text
    for what in ("run 2: prompt-styles", "hf:tiny-a · hf", "five-line", "{&#34;city&#34;: &#34;서울&#34;}",
                 "cpu · float32", "12 in · 30 out", "finish: eos", "TTFT 50 ms", "25.0 tok/s", "cost",
                 "<h2>Messages</h2>", "templated prompt", "&lt;|im_start|&gt;user", "<h2>Checks</h2>",
                 "cosine 0.81 (needs 0.80)", "score 0.81"):
        assert what in text, what
    assert SECRET not in text and "(hidden)" in text
    xss = client.get(f"/generations/{sample_log.xss_generation}").text
    assert "<h2>Translations</h2>" in xss and "mt:tiny-marian" in xss


@pytest.mark.parametrize("query, expected", [
    ({"q": "자갈치"}, {"five-line"}),
    ({"q": unicodedata.normalize("NFD", "자갈치")}, {"five-line"}),  # typed decomposed, stored composed
    ({"model": "tiny-b"}, {"one-line", "five-line", "xss"}),
    ({"check": "failed"}, {"one-line", "five-line", "xss"}),  # the earlier run's five-line failed
    ({"check": "failed", "model": "tiny-b", "variant": "xss"}, {"xss"}),
    ({"q": "서울", "check": "passed", "run": "2"}, {"five-line"}),
    ({"q": "no such text anywhere"}, set()),
])
def test_filters_work_and_combine(client, sample_log, query, expected):
    r = client.get("/generations", params=query)
    assert r.status_code == 200
    variants = set(re.findall(r'<td data-label="variant">(.*?)</td>', r.text))
    assert variants == expected
    # each filter shows in the form, so the URL is the bookmark
    for key, value in query.items():
        if key == "check":
            assert f'<option value="{value}" selected>' in r.text
        else:
            assert f'name="{key}" value="{escape(value)}"' in r.text


def test_pages_follow_each_other_and_keep_the_filters(viewer_engine):
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app

    seen, url = [], "/generations?model=tiny-a&check=failed"
    with TestClient(create_app(viewer_engine, page_size=2), base_url="http://127.0.0.1") as c:
        while url:
            text = c.get(url.replace("&amp;", "&")).text
            seen += _ids(text, "generations")
            link = re.search(r'<a rel="next" href="([^"]+)"', text)
            url = link.group(1) if link else None
            if url:
                assert "model=tiny-a" in url and "check=failed" in url and "before=" in url
    # tiny-a's answers with a failing check: two of the earlier run, one-line, xss and the cache hit
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == 5


def test_two_runs_compared(client, sample_log):
    text = client.get("/compare", params={"a": sample_log.previous, "b": sample_log.experiment}).text
    assert "(+100 pt)" in text and "not in this run" in text
    assert f'<a href="/runs/{sample_log.previous}">run {sample_log.previous}</a>' in text
    assert "Give two run ids" in client.get("/compare").text


def test_model_text_is_text_and_the_policy_is_sent(client, sample_log):
    for path in (f"/runs/{sample_log.experiment}", f"/generations/{sample_log.xss_generation}", "/generations"):
        r = client.get(path)
        for payload in HOSTILE.values():
            assert payload not in r.text
        assert str(escape(HOSTILE["script"])) in r.text
        policy = r.headers["content-security-policy"]
        assert "'unsafe-inline'" not in policy and "frame-ancestors 'none'" in policy
        assert "font-src 'self'" in policy and "form-action 'self'" in policy
        assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/runs/999", "/generations/999", "/generations/abc", "/no/such/page",
                                  "/generations?before=-1"])
def test_unknown_ids_are_a_404_page_with_a_way_back(client, path):
    r = client.get(path)
    assert r.status_code == 404
    assert "Not found" in r.text and '<a href="/">← back to the runs</a>' in r.text


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_no_route_changes_anything(client, sample_log, method):
    from hanprompt.report import data

    before = data.runs_page(data_engine(sample_log))["runs"]
    for path in ("/", f"/runs/{sample_log.experiment}", "/generations", f"/generations/{sample_log.xss_generation}",
                 "/compare", "/font/hanprompt-ko.woff"):
        assert client.request(method, path).status_code == 405, (method, path)
    assert data.runs_page(data_engine(sample_log))["runs"] == before


def test_the_viewer_engine_cannot_write(viewer_engine, sample_log):
    from sqlalchemy import delete, exc

    from hanprompt.store.schema import runs

    with pytest.raises(exc.OperationalError, match="readonly|read-only|query_only"):
        with viewer_engine.begin() as conn:
            conn.execute(delete(runs).where(runs.c.id == sample_log.previous))


def test_other_host_names_are_refused(client):
    assert client.get("/", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_the_korean_font_is_served(client):
    import io

    from fontTools.ttLib import TTFont

    r = client.get("/font/hanprompt-ko.woff")
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff"
    font = TTFont(io.BytesIO(r.content))
    assert font.flavor == "woff" and "TSI3" not in font  # a table Chromium's sanitizer refuses
    cmap = font.getBestCmap()
    assert all(ord(ch) in cmap for ch in "가힣서울") and len(cmap) > 11_000  # every Hangul syllable


def test_an_empty_log_gets_a_friendly_page(db):
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine

    with TestClient(create_app(read_only_engine(db)), base_url="http://127.0.0.1") as c:
        runs, gens, compare = c.get("/"), c.get("/generations"), c.get("/compare?a=1&b=2")
    assert runs.status_code == 200 and "The log holds no runs yet" in runs.text
    assert 'hanprompt ask "한국의 수도는 어디인가요?"' in runs.text
    assert gens.status_code == 200 and "the log holds none yet" in gens.text
    assert compare.status_code == 404 and "no run with id 1" in compare.text


def test_korean_is_on_the_pages(client, sample_log):
    assert KO_SHORT in client.get(f"/runs/{sample_log.experiment}").text
    assert KO_SHORT in client.get("/generations").text


def _same_figures(url: str, run_id: int) -> None:
    from hanprompt.report import data, shape
    from hanprompt.store import open_engine

    engine = open_engine(url)
    summary = data.run_summary(engine, run_id)
    results = data.load_run(engine, run_id).results
    grid = shape.grid(results)
    assert summary["stats"].keys() == grid["stats"].keys()
    for key, expected in list(grid["stats"].items()) + [(v, s) for v, s in shape.by_variant(results).items()]:
        got = summary["stats"][key] if isinstance(key, tuple) else summary["by_variant"][key]
        assert got.keys() == expected.keys()
        for name, value in expected.items():
            assert _close(got[name], value), (key, name)
    assert summary["speeds"] == pytest.approx(shape.model_speeds(results))
    total = shape.stats(results)
    assert all(_close(summary["total"][k], v) for k, v in total.items())


def _close(a, b) -> bool:
    """Equal, numbers to rounding (figures hold intervals as dicts and run ids as lists)."""
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in b)
    if isinstance(b, float):
        return a == pytest.approx(b)
    return a == b


def test_database_aggregates_equal_figures_from_the_rows(sample_log):
    _same_figures(sample_log.url, sample_log.experiment)


@pytest.mark.postgres
def test_the_viewer_on_postgresql(pg_url):
    from report_sample import write_sample_log
    from sqlalchemy import delete, exc
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine
    from hanprompt.store.schema import runs

    log = write_sample_log(pg_url)
    _same_figures(pg_url, log.experiment)
    engine = read_only_engine(pg_url)
    try:
        with TestClient(create_app(engine), base_url="http://127.0.0.1") as c:
            assert "100% (4/4)" in c.get(f"/runs/{log.experiment}").text
            assert _ids(c.get("/generations", params={"q": unicodedata.normalize("NFD", "자갈치")}).text,
                        "generations")
            assert c.get(f"/compare?a={log.previous}&b={log.experiment}").status_code == 200
        with pytest.raises(exc.InternalError, match="read-only transaction"):
            with engine.begin() as conn:
                conn.execute(delete(runs))
    finally:
        engine.dispose()
