"""`hanprompt view` started as a user starts it (127.0.0.1, a free port), driven in Chromium."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import unicodedata

import pytest
from report_sample import KO_SHORT

pytest.importorskip("starlette")


class Viewer:
    """A `hanprompt view --port 0` process; ``url`` is where it listens."""

    def __init__(self, db: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hanprompt", "view", "--port", "0", "--db", db],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
        )
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            found = re.search(r"hanprompt viewer at (http://127\.0\.0\.1:\d+/)", line)
            if found:
                self.url = found.group(1)
                return
        self.stop()
        raise AssertionError(f"the viewer did not start: {line}{self.proc.stderr.read()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture(scope="module")
def viewer(sample_log, browser):
    v = Viewer(sample_log.url)
    yield v
    v.stop()


def _go(page, url: str, status: int = 200):
    response = page.goto(url)
    assert response.status == status, url
    return response


def test_pages_load_without_errors_and_show_korean(page, viewer, sample_log):
    for path in ("", f"runs/{sample_log.experiment}", "generations", f"generations/{sample_log.korean_generation}",
                 f"compare?a={sample_log.previous}&b={sample_log.experiment}", f"runs/{sample_log.bench}"):
        _go(page, viewer.url + path)
        assert page.evaluate("document.documentElement.dataset.script") == "ran", path
    assert page.problems == []
    _go(page, viewer.url + f"runs/{sample_log.experiment}")
    assert KO_SHORT in page.inner_text("body")
    faces = page.evaluate("""async () => (await document.fonts.load('16px "hanprompt-ko"', '서울'))
        .map(f => f.status)""")
    assert faces == ["loaded"]  # served from /font/, allowed by font-src 'self'
    sizes = page.locator("figure.chart img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) >= 3 and min(sizes) > 100


def test_filters_work_combine_and_live_in_the_url(page, viewer):
    _go(page, viewer.url + "generations")
    total = page.locator("tr.generation").count()
    page.fill("input[name=q]", unicodedata.normalize("NFD", "서울"))  # as macOS types it
    page.select_option("select[name=check]", "passed")
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "check=passed" in page.url and "q=" in page.url
    rows = page.locator("tr.generation")
    narrowed = rows.count()
    assert 0 < narrowed < total
    assert all("five-line" in t for t in rows.all_inner_texts())
    page.fill("input[name=model]", "tiny-b")
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    assert "model=tiny-b" in page.url and "check=passed" in page.url
    assert 0 < rows.count() < narrowed and all("hf:tiny-b" in t for t in rows.all_inner_texts())
    bookmarked = page.url
    _go(page, bookmarked)  # the same view again from the address alone
    assert page.input_value("input[name=model]") == "tiny-b"
    assert page.locator("select[name=check]").input_value() == "passed"
    assert page.problems == []


def test_a_generation_opens_from_the_list(page, viewer, sample_log):
    _go(page, viewer.url + "generations")
    page.click(f'a[href="/generations/{sample_log.korean_generation}"]')
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/generations/{sample_log.korean_generation}")
    body = page.inner_text("body")
    assert "Messages" in body and "cosine 0.81 (needs 0.80)" in body and "서울은 한국의 수도입니다." in body


def test_two_runs_compared_from_the_form(page, viewer, sample_log):
    _go(page, viewer.url)
    page.fill("input[name=a]", str(sample_log.previous))
    page.fill("input[name=b]", str(sample_log.experiment))
    page.click("form[action='/compare'] button")
    page.wait_for_load_state("load")
    assert f"a={sample_log.previous}" in page.url and f"b={sample_log.experiment}" in page.url
    body = page.inner_text("body")
    assert "(+100 pt)" in body and "not in this run" in body


def test_injected_markup_does_not_run(page, viewer, sample_log):
    for path in (f"runs/{sample_log.experiment}", f"generations/{sample_log.xss_generation}", "generations"):
        _go(page, viewer.url + path)
        assert page.evaluate("window.__pwned") is None, path
        assert page.locator("script").count() == 1
        assert "<script>window.__pwned = 'script'</script>" in page.inner_text("body")
    assert page.evaluate("getComputedStyle(document.body).display") == "block"
    assert page.problems == []


def test_unknown_ids_give_a_404_page_with_a_link_back(page, viewer):
    _go(page, viewer.url + "runs/424242", status=404)
    assert "no run with id 424242" in page.inner_text("body")
    page.click("text=back to the runs")
    page.wait_for_load_state("load")
    assert page.url == viewer.url


def test_an_empty_log_shows_a_friendly_page(page, browser, tmp_path):
    v = Viewer(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        _go(page, v.url)
        assert "The log holds no runs yet" in page.inner_text("body")
        _go(page, v.url + "generations")
        assert "the log holds none yet" in page.inner_text("body")
    finally:
        v.stop()
    assert page.problems == []


@pytest.mark.parametrize("width", [390, 1280])
def test_readable_at_phone_and_desktop_width(page, viewer, sample_log, width):
    page.set_viewport_size({"width": width, "height": 900})
    for path in ("", f"runs/{sample_log.experiment}", "generations"):
        _go(page, viewer.url + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
