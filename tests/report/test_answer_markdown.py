"""Answers read like answers: their Markdown rendered, sanitized, with the raw text one click away.

hanprompt.markup.to_html without a browser, then the report and the viewer in Chromium with
answers that carry Markdown and hostile HTML.
"""
from __future__ import annotations

from html.parser import HTMLParser

import pytest
from report_sample import HOSTILE, _gen

from hanprompt.markup import ALLOWED_TAGS, to_html

MD_ANSWER = (
    "## 서울 여행\n\n"
    "서울은 **한국의 수도**이고 *볼거리*가 많습니다.\n\n"
    "- 경복궁\n- 북촌 <strong>한옥마을</strong>\n\n"
    "1. 첫째 날\n2. 둘째 날\n\n"
    "| 곳 | 시간 |\n|---|---|\n| 경복궁 | 2시간 |\n\n"
    "`지하철 3호선`을 타세요.\n\n"
    "```python\nprint('서울')\n```\n"
)

#: HTML and Markdown that would run or load something if it survived; each sets window.__pwned
MD_HOSTILE = dict(HOSTILE, **{
    "md-link": "[누르세요](javascript:window.__pwned='md-link')",
    "md-image": "![그림](x\" onerror=\"window.__pwned='md-image')",
    "svg": "<svg onload=\"window.__pwned='svg'\"><circle r=1></circle></svg>",
    "iframe": "<iframe src=\"javascript:window.__pwned='iframe'\"></iframe>",
    "toggle": "<details open ontoggle=\"window.__pwned='toggle'\">x</details>",
    "mxss": "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__pwned='mxss'\">",
    "data": "<a href=\"data:text/html,<script>window.__pwned='data'</script>\">data</a>",
    "form": "<form action=\"javascript:window.__pwned='form'\"><button>보내기</button></form>",
    "meta": "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__pwned='meta'\">",
    "object": "<object data=\"javascript:window.__pwned='object'\"></object>",
    "remote": "![tracker](https://example.com/pixel.png)",
    "style-attr": "<p style=\"display:none\">숨김</p>",
})
HOSTILE_ANSWER = "# 답\n\n" + "\n\n".join(MD_HOSTILE.values()) + "\n\n끝까지 **읽혔습니다**."


class _Tags(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_markdown_becomes_headings_lists_emphasis_tables_and_code():
    html = to_html(MD_ANSWER)
    tags = [t for t, _ in _Tags(html).tags]
    for tag in ("h2", "p", "strong", "em", "ul", "ol", "li", "table", "th", "td", "code", "pre"):
        assert tag in tags, (tag, html)
    assert "<strong>한국의 수도</strong>" in html and "<strong>한옥마을</strong>" in html
    assert "<code>지하철 3호선</code>" in html and "print(" in html.split("<pre>")[1]
    assert "**" not in html and "##" not in html


@pytest.mark.parametrize("name", sorted(MD_HOSTILE))
def test_hostile_markup_loses_everything_that_could_run_or_load(name):
    html = to_html(MD_HOSTILE[name])
    for tag, attrs in _Tags(html).tags:
        assert tag in ALLOWED_TAGS, (tag, html)
        assert set(attrs) <= {"start", "colspan", "rowspan"}, (tag, attrs)


def test_markdown_that_is_malformed_still_renders_as_text():
    html = to_html("**굵게 시작만\n<strong>닫지 않음\n```\n닫지 않은 코드")
    assert "굵게 시작만" in html and "닫지 않음" in html and "닫지 않은 코드" in html
    html = to_html("<div>\n<![x <b>굵게</b> <script>x()</script>\n</div>")  # html.parser gives up on <![x
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "<b>" not in html


# --- in the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def md_log(tmp_path_factory):
    """A log with one experiment: a Markdown answer and a hostile one; (url, run id, generation ids)."""
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation, create_run, finish_run

    url = f"sqlite:///{tmp_path_factory.mktemp('mdlog') / 'hanprompt.db'}"
    engine = open_engine(url)
    run_id = create_run(engine, name="markdown", kind="experiment", spec={
        "file": "md.yaml", "spec": {"name": "markdown", "params": {"max_new_tokens": 64}, "repeat": 1},
        "overrides": {}})
    with engine.begin() as conn:
        ids = [add_generation(conn, run_id, _gen("hf:tiny-a", "markdown", MD_ANSWER)),
               add_generation(conn, run_id, _gen("hf:tiny-a", "hostile", HOSTILE_ANSWER))]
    finish_run(engine, run_id)
    return url, run_id, ids


def _check_page(page):
    """The rendered answers are there and inert; the raw text is one click away."""
    assert page.evaluate("window.__pwned") is None
    assert page.problems == []  # not even a handler refused by the policy: none reached the page
    assert page.evaluate("document.documentElement.dataset.script") == "ran"
    md = page.locator(".md")
    assert md.locator("h2").first.inner_text() == "서울 여행"
    assert "한국의 수도" in md.locator("strong").all_inner_texts()
    assert md.locator("li").count() >= 4 and md.locator("table td").count() >= 2
    assert "지하철 3호선" in md.locator("code").all_inner_texts()
    assert md.locator("a, img, svg, iframe, form, object, meta, style, script, math").count() == 0
    assert md.filter(has_text="끝까지").count() == 1
    assert "끝까지 읽혔습니다." in md.filter(has_text="끝까지").inner_text()
    body = page.inner_text("body")
    assert "**" not in body and "## 서울" not in body  # closed raw texts are not shown
    raw = page.locator("details.raw").filter(has_text="끝까지")
    assert not raw.evaluate("d => d.open")
    raw.locator("summary").click()
    shown = raw.locator("pre").inner_text()
    assert "끝까지 **읽혔습니다**." in shown and HOSTILE["script"] in shown
    assert page.evaluate("window.__pwned") is None


def test_report_renders_answers_safely(cli, md_log, tmp_path, page):
    url, run_id, _ = md_log
    out = tmp_path / "report.html"
    code, _, err = cli("report", run_id, "-o", out, "--db", url)
    assert code == 0, err
    page.goto(out.as_uri())
    page.wait_for_load_state("load")
    for full in page.locator("details.full").all():  # long answers: the rendered text under 'full text'
        full.locator("summary").click()
    _check_page(page)


def test_viewer_renders_answers_safely(md_log, page, browser):
    from test_viewer_browser import Viewer

    url, run_id, ids = md_log
    viewer = Viewer(url)
    try:
        page.goto(viewer.url + f"generations/{ids[0]}")
        assert page.locator(".md h2").inner_text() == "서울 여행"
        page.goto(viewer.url + f"generations/{ids[1]}")
        assert page.evaluate("window.__pwned") is None and page.problems == []
        page.goto(viewer.url + f"runs/{run_id}")
        for full in page.locator("details.full").all():
            full.locator("summary").click()
        _check_page(page)
    finally:
        viewer.stop()


def test_the_excerpt_reads_the_words_without_markup():
    from hanprompt.markup import preview_text

    shown = " ".join(preview_text(MD_ANSWER).split())
    assert shown.startswith("서울 여행 서울은 한국의 수도이고 볼거리가 많습니다. 경복궁 북촌 한옥마을 첫째 날")
    assert "지하철 3호선을 타세요. print('서울')" in shown  # code kept in a preview, no backtick left
    assert " ".join(preview_text("줄<br>바꿈 | 칸 |").split()) == "줄 바꿈 | 칸 |"  # a tag still parts words
