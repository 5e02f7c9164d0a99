"""The report's HTML without a browser: content, escaping, policy, offline, secrets, bad input."""
from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import pytest
from markupsafe import Markup, escape
from report_sample import HOSTILE, HOSTILE_TEXT, KO_ANSWER, SECRET


class _Page(HTMLParser):
    """Tags with their attributes, and the text of every <style> and <script>."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.inline: dict[str, list[str]] = {"style": [], "script": []}
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.inline:
            self._open = tag
            self.inline[tag].append("")

    def handle_endtag(self, tag):
        if tag == self._open:
            self._open = None

    def handle_data(self, data):
        if self._open:
            self.inline[self._open][-1] += data

    def all(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]


@pytest.fixture
def report(cli, sample_log, tmp_path):
    """report(*run_ids) -> (html text, parsed page) of `hanprompt report` over the sample log."""

    def make(*run_ids):
        out = tmp_path / "report.html"
        code, _, err = cli("report", *run_ids, "-o", out, "--db", sample_log.url)
        assert code == 0, err
        text = out.read_text(encoding="utf-8")
        return text, _Page(text)

    return make


def test_side_by_side_holds_every_cell_with_checks_translations_and_cache_marks(report, sample_log):
    text, page = report(sample_log.experiment)
    # rows: one-line, five-line x (서울, 부산), xss; columns: the two models
    assert text.count('class="grid-row"') == 4
    assert "city=서울" in text and "city=부산" in text
    assert text.count('data-model="hf:tiny-a"') == 4 and text.count('data-model="hf:tiny-b"') == 4
    # repeats of a cell together, each answer numbered
    assert "repeat 2" in text and "2 answers" in text
    # the cache hit says so, names the answer it reuses, and shows no speed of its own
    cached = text[text.index(f"#{sample_log.cached_generation} ·"):][:400]
    assert f'<span class="badge cached">cached from #{sample_log.experiment_first}</span>' in cached
    assert "tok/s" not in cached
    # a judge's verdict is not an answer: no column, no row of its own
    assert "hf:judge-model" not in text and '{&#34;pass&#34;: true}' not in text
    # every check generically: type, pass/fail, score where it has one, reason
    assert '<span class="mono">icontains</span> · <span class="reason">lacks &#39;python&#39; (any case)' in text
    assert '<span class="mono">similar</span> · score 0.81 · <span class="reason">cosine 0.81 (needs 0.80)' in text
    assert '<span class="badge fail">fail</span>' in text and '<span class="badge pass">pass</span>' in text
    # a translation beneath its answer, with translator and Hangul share
    assert "mt:tiny-marian" in text and "한국의 수도는 서울이다." in text and "Hangul 100%" in text
    # full text on demand
    assert "<details class=\"full\"><summary>full text (90 characters)</summary>" in text
    assert str(escape(KO_ANSWER)) in text


def test_metadata_charts_and_word_analysis(report, sample_log):
    text, page = report(sample_log.experiment)
    for what in ("examples/prompt-styles.yaml", "한 줄 대 다섯 줄 프롬프트", "float32", "&#34;max_new_tokens&#34;: 64",
                 "13 answers (1 from the cache)", "cost 0.002"):
        assert what in text
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text)
    assert captions == ["Tokens/s per model", "Response length per variant", "Pass rate per variant × model",
                        "Top words (nouns, responses)"]
    assert "analysis" in text and "per variant" in text
    for img in page.all("img"):
        assert img["src"].startswith("data:image/svg+xml;base64,") and img["alt"]
        svg = base64.b64decode(img["src"].split(",", 1)[1]).decode("utf-8")
        # letters are drawn as paths: no <text> that would need a Korean font on the reader's machine
        assert svg.lstrip().startswith("<?xml") and "<path" in svg and "<text" not in svg
        assert "<script" not in svg


def test_word_chart_missing_says_which_command_makes_one(report, sample_log):
    text, _ = report(sample_log.previous)
    assert "No word analysis is stored for this run" in text
    assert f"hanprompt words --run {sample_log.previous} --by variant" in text


def test_model_text_is_text_everywhere(report, sample_log):
    text, page = report(sample_log.experiment)
    for payload in HOSTILE.values():
        assert payload not in text
    shown = str(escape(HOSTILE_TEXT))
    assert text.count(shown) == 4  # the prompt, the answers of both models, a translation
    assert text.count(f'<pre class="text">{shown}</pre>') == 1  # the prompt
    # only our own two inline blocks, and no element carries an event handler or a javascript: URL
    assert [len(page.inline["style"]), len(page.inline["script"])] == [1, 1]
    for tag, attrs in page.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert not any((v or "").strip().lower().startswith("javascript:") for v in attrs.values()), (tag, attrs)
    assert {t for t, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "span", "main", "h1", "h2", "h3", "section",
        "dl", "dt", "dd", "div", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "pre", "p",
        "ul", "li", "input", "button", "figure", "figcaption", "img", "footer", "script", "code",
        "br",  # a line break of an answer rendered from its Markdown
    }


def test_policy_allows_exactly_the_inline_style_and_script_by_hash(report, sample_log):
    from hanprompt.report.render import sha256_source

    text, page = report(sample_log.experiment, sample_log.previous)
    (meta,) = [m for m in page.all("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    policy = dict(part.strip().split(" ", 1) for part in meta["content"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["style-src"] == sha256_source(page.inline["style"][0])
    assert policy["script-src"] == sha256_source(page.inline["script"][0])
    assert policy["img-src"] == "data:" and policy["font-src"] == "data:"
    assert "unsafe-inline" not in meta["content"] and "http" not in meta["content"]
    assert text.index("Content-Security-Policy") < text.index("<style>")


def test_nothing_is_fetched_from_elsewhere(report, sample_log):
    _, page = report(sample_log.experiment, sample_log.translate, sample_log.words)
    for tag, attrs in page.tags:
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), (tag, name, value[:80])
        assert not (tag == "link"), attrs
    assert "@import" not in page.inline["style"][0]
    assert "url(" not in page.inline["style"][0].replace('url("data:font/woff;base64,', "")


def test_embedded_font_holds_the_hangul_shown(report, sample_log):
    from fontTools.ttLib import TTFont

    _, page = report(sample_log.experiment)
    css = page.inline["style"][0]
    assert 'font-family: "hanprompt-ko"' in css and "unicode-range: U+1100-11FF" in css
    data = base64.b64decode(re.search(r'data:font/woff;base64,([A-Za-z0-9+/=]+)', css).group(1))
    cmap = TTFont(io.BytesIO(data)).getBestCmap()
    for ch in "서울경복궁자갈치프롬트":
        assert ord(ch) in cmap, ch
    assert ord("A") not in cmap  # Latin keeps the reader's own font
    for family in ("Noto Sans KR", "NanumGothic", "Malgun Gothic", "Apple SD Gothic Neo"):
        assert f'"{family}"' in css


def test_no_secret_is_written(report, sample_log, cli, db, tmp_path):
    from hanprompt.store import open_engine
    from hanprompt.store.runs import create_run, finish_run

    text, _ = report(sample_log.experiment)
    assert SECRET not in text  # an api_key among a model's parameters
    engine = open_engine(db)
    run_id = create_run(engine, name="secrets", kind="experiment", spec={
        "models": [{"spec": "openai:gpt", "base_url": "https://user:hunter2@example.invalid/v1",
                    "headers": {"Authorization": "Bearer hunter3"}, "OPENAI_API_KEY": "hunter4"}],
    })
    finish_run(engine, run_id)
    code, _, err = cli("report", run_id, "-o", tmp_path / "secrets.html")
    assert code == 0, err
    text = (tmp_path / "secrets.html").read_text(encoding="utf-8")
    for secret in ("hunter2", "hunter3", "hunter4"):
        assert secret not in text
    assert "https://user:***@example.invalid/v1" in text
    assert "OPENAI_API_KEY" in text and "Authorization" in text  # the keys show, their values do not


def test_several_runs_are_compared_per_variant(report, sample_log):
    text, _ = report(sample_log.previous, sample_log.experiment)
    section = text[text.index('<section id="compare">'):text.index("</section>")]
    assert f"run {sample_log.previous}: prompt-styles" in section and f"run {sample_log.experiment}: prompt-styles" in section
    assert "(+100 pt)" in section  # five-line: 0% -> 100%
    assert "not in this run" in section  # xss is new in the second run
    assert text.count('<section id="run-') == 2


def test_translate_and_words_runs(report, sample_log):
    text, _ = report(sample_log.translate, sample_log.words)
    assert '<section id="compare">' not in text  # nothing to compare: neither run holds answers
    assert "Translation scores" in text and "41.5" in text and "tok:ko-mecab" in text
    assert "박물관은 월요일에 문을 닫습니다." in text
    assert "Word counts" in text and text.count("<figure") == 1


def test_default_is_the_newest_run(cli, sample_log, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("report", "--db", sample_log.url)
    assert code == 0, err
    assert f"report of run {sample_log.bench} written to report.html" in err
    assert f"<section id=\"run-{sample_log.bench}\">" in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", ["unknown run", "empty log", "missing folder", "folder"])
def test_bad_input_is_one_line_and_writes_nothing(cli, db, tmp_path, case):
    from hanprompt.store import open_engine

    open_engine(db)  # an empty log
    out = tmp_path / "out.html"
    args = {"unknown run": ["999", "-o", out], "empty log": ["-o", out],
            "missing folder": ["-o", tmp_path / "nope" / "r.html"], "folder": ["-o", tmp_path]}[case]
    code, stdout, err = cli("report", *args)
    assert code == 2 and stdout == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    expected = {"unknown run": "no run with id 999; list them with `hanprompt runs`",
                "empty log": "the log holds no runs yet", "missing folder": "does not exist; create it",
                "folder": "is a folder; pass a file name"}[case]
    assert expected in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_bench_run_shows_speeds_mbu_cost_and_skipped_rows(report, sample_log):
    text, _ = report(sample_log.bench)
    table = text[text.index("<h3>Benchmark</h3>"):]
    row = table[table.index("gguf:/models/tiny.gguf · ngl 0"):][:900]
    for figure in ("512.5", "43.6", "46.4", "94%", "31 ms", "180.2", "3.19"):
        assert f'<td class="num">{figure}</td>' in row, figure
    assert "skipped" in table and "CUDA is not available on this machine" in table
    assert re.findall(r"<figcaption>(.*?)</figcaption>", table) == [
        "Decode and prefill tokens/s", "Memory-bandwidth utilisation (MBU)", "Cost per million output tokens"]
    assert "Korean words" not in text  # a bench run holds no answers to count


def test_control_characters_are_written_out_not_embedded(report, sample_log):
    from hanprompt.report.render import environment

    shown = environment().from_string("{{ a }}|{{ b }}").render(a="x\x00y\x1b[31m<b>\u0085", b=Markup("<i>ok</i>"))
    assert shown == "x\\x00y\\x1b[31m&lt;b&gt;\\x85|<i>ok</i>"
    text, _ = report(sample_log.experiment)
    assert not [c for c in text if (ord(c) < 0x20 and c not in "\n\t\r") or 0x7F <= ord(c) < 0xA0]
