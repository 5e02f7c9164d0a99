"""Korean words through Markdown and HTML: the markup is blanked before Kiwi reads the text.

Real Kiwi, real markdown-it-py; the texts are the kind small models write.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hanprompt.markup import plain_lines, plain_text


def counts(result: dict) -> dict[str, int]:
    return {row["word"]: row["count"] for row in result["top"]}


def count_texts(*texts: str, **options) -> dict[str, int]:
    from hanprompt.analysis.service import WordOptions, analyse_texts

    return counts(analyse_texts(list(texts), WordOptions(top=100, **options)).result)


def test_the_issue_example_counts_한국_twice_from_stdin():
    # printf '* <strong>한국의 주요 관광지</strong>\n**한국의** 수도는 서울입니다.\n' | hanprompt words -
    text = "* <strong>한국의 주요 관광지</strong>\n**한국의** 수도는 서울입니다.\n"
    done = subprocess.run([sys.executable, "-m", "hanprompt", "words", "-", "--json"], input=text,
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    found = counts(json.loads(done.stdout))
    assert found["한국"] == 2
    assert "국" not in found
    assert found["서울"] == 1 and found["관광지"] == 1 and found["수도"] == 1


@pytest.mark.parametrize("text", [
    # emphasis
    "**한국의** 수도는 서울입니다.", "*한국의* 수도는 서울입니다.", "__한국의__ 수도는 서울입니다.",
    "_한국의_ 수도는 서울입니다.", "~~한국의~~ 수도는 서울입니다.", "***한국의*** 수도는 서울입니다.",
    # headings
    "# 한국의 수도는 서울입니다", "### 한국의 수도는 서울입니다 ###", "한국의 수도는 서울입니다\n===",
    # lists
    "* 한국의 수도는 서울입니다.", "- 한국의 수도는 서울입니다.", "1. 한국의 수도는 서울입니다.",
    "- 지도\n  - **한국의** 수도는 서울입니다.", "> 한국의 수도는 서울입니다.",
    # tags
    "<strong>한국의</strong> 수도는 서울입니다.", "<b>한국의</b> 수도는 <i>서울</i>입니다.",
    "<p>한국의 수도는<br>서울입니다.</p>", "<div>\n<em>한국의</em> 수도는 서울입니다.\n</div>",
    '<span style="color:red">한국의</span> 수도는 서울입니다.',
    # links
    "[한국의 수도](https://ko.wikipedia.org/wiki/서울)는 서울입니다.",
    "한국의 수도는 [서울](https://seoul.go.kr \"서울\")입니다.",
    # a table
    "| 나라 | 수도 |\n|---|---|\n| **한국의** | 서울입니다 |",
])
def test_words_inside_markup_count_as_words(text):
    found = count_texts(text, foreign=True)  # Latin-script words counted too: tag names, URLs
    assert found.get("한국") == 1, (text, found)
    assert found.get("서울") == 1, (text, found)
    # nothing of the markup became a word, and no word lost its first or last syllable to a tag
    assert not [w for w in found if w.isascii()], (text, found)
    assert not {"국", "한"} & set(found), (text, found)


def test_every_cell_of_a_table_counts():
    # cells alike in one row: each is found after the one before
    found = count_texts("| 나라 | 수도 |\n|---|---|\n| 한국 | 한국 |\n| **서울** | `코드` 서울 |\n| 서울 | 서울 |")
    assert found["한국"] == 2 and found["서울"] == 4 and found["나라"] == 1 and "코드" not in found


@pytest.mark.parametrize("text", [
    "`한국의 수도` 서울입니다.",
    "``한국의 `수도` ``  서울입니다.",
    "```\n한국의 수도\n```\n서울입니다.",
    "~~~python\nprint('한국의 수도')\n\n# 한국\n~~~\n서울입니다.",
    "- 목록\n\n  ```\n  한국의 수도\n  ```\n\n서울입니다.",
])
def test_code_spans_and_blocks_are_not_counted(text):
    found = count_texts(text)
    assert "한국" not in found and "수도" not in found, (text, found)
    assert found.get("서울") == 1, (text, found)


def test_a_code_block_never_closed_runs_to_the_end_as_markdown_says():
    found = count_texts("서울입니다.\n```\n한국의 수도\n\n부산")
    assert found == {"서울": 1}


@pytest.mark.parametrize("text", [
    "**한국의 수도는 서울입니다.",  # ** never closed
    "한국의** 수도는 서울입니다.",
    "<strong>한국의 수도는 서울입니다.",  # <strong> never closed
    "</strong>한국의 수도는 서울입니다.",
    "<strong 한국의 수도는 서울입니다.",  # not a tag at all: text
    "[한국의 수도는 서울입니다.",
    "*한국의 _수도는** 서울입니다._",
    "<div>\n<![x 한국의 수도는 서울입니다.\n</div>",  # html.parser gives up on <![x: all text
])
def test_malformed_markup_is_counted_as_text(text):
    found = count_texts(text)
    assert found.get("한국") == 1 and found.get("서울") == 1, (text, found)


def test_the_naive_count_reads_the_same_plain_text():
    from hanprompt.analysis.service import WordOptions, analyse_texts

    result = analyse_texts(["**한국의** 수도는 <b>서울</b>입니다."], WordOptions(naive=True, top=50)).result
    assert set(counts(result["naive"])) == {"한국의", "수도는", "서울", "입니다"}


def test_a_markdown_file_is_read_as_one_document_across_blank_lines(write, words_json):
    # more lines than one parse takes (256), with a fenced block whose blank lines cross the cut
    prose = ["**한국의** 수도는 서울입니다.", ""] * 140
    fence = ["```text", "부산의 시장", "", "", "부산의 바다", "```", ""]
    lines = prose[:255] + [""] + fence + prose + ["```", "대전의 과학관", "", "대전"]  # the last fence never closed
    path = write("answer.md", "\n".join(lines) + "\n")
    result, _ = words_json(path, "--top", "50")
    found = counts(result)
    assert found["한국"] == found["서울"] == found["수도"] == 128 + 140
    assert not {"부산", "시장", "바다", "대전", "과학관"} & set(found)
    assert result["documents"] == 1


def test_stored_answers_are_counted_without_their_markup(store_run, db, words_json):
    run = store_run(db, ["# 여행 안내\n\n* <strong>한국의 주요 관광지</strong>\n* `경복궁`은 **서울**에 있습니다.",
                         "```python\nprint('부산')\n```\n한국의 바다는 넓습니다."])
    result, _ = words_json("--run", run, "--top", "50")
    found = counts(result)
    assert found["한국"] == 2 and found["서울"] == 1 and found["여행"] == 1
    assert not {"국", "경복궁", "부산", "print", "strong"} & set(found)


# --- the plain text itself ------------------------------------------------------------------

SAMPLES = [
    "* <strong>한국의 주요 관광지</strong>\n**한국의** 수도는 서울입니다.\n",
    "# 제목\n\n1. 하나 `코드` 둘\n2. [링크](http://x.kr) ![그림](y.png)\n\n| a | **b** |\n|---|---|\n| \\* | &amp; |\n",
    "앞\n\n```\n코드\n\n코드\n```\n\n<div>\n<b>굵게</b> 글\n<script>x()</script>\n</div>\n\n뒤\n",
    "**열림\n<strong>열림\n```\n끝까지\n\n코드\n",
    "줄\r\n바꿈\0널\r끝",
    # a line of form feed and line separator is not blank to Markdown: no cut after it
    "- <div>한국의\n\n  한국의\n\x0c\u2028\n\u2028</b>  ![\n> <script>\\|\n~~~1. `]\n",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_plain_text_keeps_every_position_and_line(text):
    plain = plain_text(text)
    assert len(plain) == len(text)
    for i, (ch, was) in enumerate(zip(plain, text)):
        # a character is either kept where it was or blanked; line ends stay line ends
        assert ch == " " or ch == was or was in "\\&\0\r", (i, ch, was)
        assert (ch == "\n") == (was == "\n") or (was == "\r"), (i, ch, was)


def test_plain_text_keeps_code_when_asked():
    text = "보기: `a + b` 그리고\n```py\nprint(1)\n```\n끝"
    assert " ".join(plain_text(text).split()) == "보기: 그리고 끝"
    assert " ".join(plain_text(text, code=True).split()) == "보기: a + b 그리고 print(1) 끝"


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 256])
@pytest.mark.parametrize("text", SAMPLES)
def test_a_file_read_in_pieces_gives_the_plain_text_of_the_whole(text, chunk):
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    whole = plain_text("\n".join(lines)).split("\n")
    assert list(plain_lines(lines, chunk=chunk)) == whole[: len(lines)]


# --- speech levels read the same plain text ---------------------------------------------------


def test_speech_levels_read_through_markup_and_leave_code_out():
    from hanprompt.analysis.speech_level import analyse

    (sentences,) = analyse(["## **안내**\n\n* <strong>경복궁</strong>은 **서울**에 있습니다.\n"
                            "```\n이건 코드야\n```\n`반말이야` 여기는 부산입니다."])
    judged = [(s.text, s.level) for s in sentences if s.level]
    # each sentence quoted as written, its markup included
    assert judged == [("* <strong>경복궁</strong>은 **서울**에 있습니다.", "formal"), ("여기는 부산입니다.", "formal")]
    assert [s.text for s in sentences if s.skipped] == ["## **안내**"]
    assert not any("코드" in s.text or "반말" in s.text for s in sentences)
