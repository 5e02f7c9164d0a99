"""The report opened offline in a real browser (Debian's Chromium through Playwright)."""
from __future__ import annotations

import pytest
from report_sample import KO_SHORT


@pytest.fixture
def report_file(cli, sample_log, tmp_path):
    out = tmp_path / "report.html"
    code, _, err = cli("report", sample_log.previous, sample_log.experiment, "-o", out, "--db", sample_log.url)
    assert code == 0, err
    return out


def _open_offline(page, path):
    """Open the file with every request outside file: and data: refused and recorded."""
    refused = []

    def guard(route):
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.context.route("**/*", guard)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return refused


def test_report_loads_offline_without_errors_and_injected_markup_stays_inert(page, report_file):
    refused = _open_offline(page, report_file)
    assert refused == []
    assert page.problems == []
    assert page.evaluate("window.__pwned") is None  # no <script>, onerror= or javascript: ran
    assert page.evaluate("document.documentElement.dataset.script") == "ran"  # our own script did
    # the injected text is visible as text, in the prompt and in the responses
    page.locator("details.prompt").first.evaluate("d => d.open = true")
    assert "<script>window.__pwned = 'script'</script>" in page.inner_text("body")
    # none of it became an element: one script (ours), no javascript: link, no image without data
    assert page.locator("script").count() == 1
    assert page.locator("a").count() == 0 and page.locator("img:not([src^='data:'])").count() == 0
    assert page.evaluate("getComputedStyle(document.body).display") == "block"  # the <style> did not apply


def test_side_by_side_charts_and_korean_show(page, report_file):
    _open_offline(page, report_file)
    body = page.inner_text("body")
    assert KO_SHORT in body and "서울은 한국의 수도입니다." in body
    # the embedded Korean face loads under the policy and covers what is shown
    faces = page.evaluate("""async () => {
        const faces = await document.fonts.load('16px "hanprompt-ko"', '서울 경복궁');
        return faces.map(f => f.family + ':' + f.status);
    }""")
    assert faces == ['"hanprompt-ko":loaded'] or faces == ["hanprompt-ko:loaded"]
    assert page.locator("table.sbs").count() == 2
    assert page.locator("table.sbs thead th").all_inner_texts()[:3] == ["variant", "hf:tiny-a", "hf:tiny-b"]
    images = page.locator("figure.chart img")
    assert images.count() >= 6
    sizes = images.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
    assert all(done and w > 100 and h > 50 for done, w, h in sizes), sizes


def test_filter_and_full_texts_work(page, report_file, sample_log):
    _open_offline(page, report_file)
    rows = f"#run{sample_log.experiment}-rows > tr"
    assert page.locator(rows).count() == 4
    box = page.locator(f'input[data-filter="{rows}"]')
    box.fill("city=부산")
    assert page.locator(f"{rows}:not(.hidden)").count() == 1
    assert page.locator(f"#run{sample_log.experiment}-count").inner_text() == "1 of 4"
    box.fill("")
    assert page.locator(f"{rows}:not(.hidden)").count() == 4
    full = page.locator("details.full")
    assert full.count() > 0 and not full.first.evaluate("d => d.open")
    page.locator('button[data-details="open"]').first.click()
    assert all(full.evaluate_all("ds => ds.map(d => d.open)"))


@pytest.mark.parametrize("width", [390, 1280])
def test_readable_at_phone_and_desktop_width(page, report_file, width):
    page.set_viewport_size({"width": width, "height": 900})
    _open_offline(page, report_file)
    # nothing makes the page itself wider than the screen; wide tables scroll inside their box
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    cell = page.locator("table.sbs td").first.bounding_box()
    assert cell["width"] >= (300 if width == 390 else 400)
