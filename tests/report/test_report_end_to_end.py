"""The whole path with real parts: a tiny model answers, a tiny MT model translates, Kiwi counts, the
report is written and opened in Chromium."""
from __future__ import annotations

import re
import textwrap

import pytest


@pytest.fixture(scope="module")
def tiny_marian(tmp_path_factory):
    from hanprompt.testing.mt_models import build_tiny_marian

    return build_tiny_marian(tmp_path_factory.mktemp("mt") / "marian-en-ko")


def test_experiment_with_translation_and_words_opens_in_the_browser(cli, tiny_model, tiny_marian, tmp_path, page):
    exp = tmp_path / "styles.yaml"
    exp.write_text(textwrap.dedent(f"""\
        name: styles
        models: ["hf:{tiny_model}"]
        params: {{max_new_tokens: 12, temperature: 0}}
        translate: {{to: ko, translator: "mt:{tiny_marian}"}}
        checks: [{{min-words: 2}}]
        vars: {{city: [서울, 부산]}}
        variants:
          - {{id: one-line, prompt: "{{{{city}}}} 여행지를 추천해 주세요."}}
          - {{id: injected, prompt: "<script>window.__pwned = 1</script> 한국의 수도는?"}}
        """), encoding="utf-8")
    code, _, err = cli("run", exp, "--json")
    assert code == 0, err
    code, _, err = cli("words", "--experiment", "styles", "--by", "variant", "--json")
    assert code == 0, err
    out = tmp_path / "styles.html"
    code, _, err = cli("report", "1", "-o", out)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "city=서울" in text and "city=부산" in text and "injected" in text
    assert f"mt:{tiny_marian}" in text  # each answer's translation beneath it
    assert "min-words" in text and "Top words" in text

    page.goto(out.as_uri())
    assert page.problems == []
    assert page.evaluate("window.__pwned") is None
    page.locator("details.prompt").last.evaluate("d => d.open = true")
    assert "<script>window.__pwned = 1</script> 한국의 수도는?" in page.inner_text("body")
    assert page.locator("#run1-rows > tr").count() == 3
    assert page.locator(".translation").count() == 3
    assert page.locator("figure.chart img").count() >= 3


def test_a_measured_bench_run_in_the_report(cli, tiny_model, tmp_path):
    code, _, err = cli("bench", "-m", tiny_model, "--devices", "cpu,cuda", "--prompt-tokens", "16",
                       "--gen-tokens", "8", "--repeat", "2", "--warmup", "0", "--bandwidth", "25",
                       "--price-per-hour", "0.5")
    assert code == 0, err
    out = tmp_path / "bench.html"
    code, _, err = cli("report", "-o", out)
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    table = text[text.index("<h3>Benchmark</h3>"):]
    ok_row = table[table.index(f"{tiny_model} · cpu"):].split("</tr>")[0]
    cells = re.findall(r'<td class="num">(.*?)</td>', ok_row)
    # prefill, decode, roofline, MBU, TTFT, batch, cost: all measured but the batch (no --batch)
    assert len(cells) == 7 and cells[5] == "–" and "–" not in cells[:5] + cells[6:], cells
    assert cells[3].endswith("%") and cells[4].endswith(" ms")
    assert "skipped" in table and "cuda" in table
    assert "Decode and prefill tokens/s" in table and "Memory-bandwidth utilisation (MBU)" in table
