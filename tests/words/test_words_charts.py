"""Charts: valid PNGs with Hangul drawn in a Korean font; a missing glyph fails the test."""
from __future__ import annotations

import warnings

import pytest

from hanprompt.analysis import charts, fonts

RESULT = {
    "analyzer": "kiwipiepy (nouns)", "documents": 2, "total_tokens": 10,
    "top": [
        {"word": "한국", "tag": "NNP", "count": 5, "share": 0.5},
        {"word": "성산일출봉", "tag": "NNP", "count": 3, "share": 0.3},
        {"word": "BTS", "tag": "SL", "count": 2, "share": 0.2},
    ],
}


def assert_png(path, min_width: int = 200) -> None:
    from PIL import Image

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.width >= min_width and image.height >= 100
        # Something was drawn: more than a blank canvas.
        assert len(image.convert("L").getcolors(maxcolors=100000) or []) > 10


def test_the_korean_font_comes_with_the_install():
    family, path = fonts.korean_font()
    assert path.suffix == ".ttf" and path.is_file()
    assert "koreanize_matplotlib" in str(path)  # bundled: no system font needed
    assert family == "NanumGothic"
    assert fonts.korean_rc()["axes.unicode_minus"] is False


def test_bar_chart_draws_hangul_without_missing_glyphs(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph ... missing from font(s)" becomes a failure
        out = charts.bar_chart(RESULT, tmp_path / "top.png")
    assert_png(out)


def test_without_the_korean_font_the_check_does_fail(tmp_path):
    # The control for the test above: Hangul in DejaVu Sans raises the missing-glyph warning.
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = Figure()
        fig.add_subplot().set_title("한국")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.savefig(tmp_path / "broken.png")


def test_small_multiples_and_word_cloud(tmp_path):
    groups = {"formal": RESULT, "casual": dict(RESULT, top=RESULT["top"][:1]),
              "hf:some/very-long-model-name-that-is-cut": RESULT, "plain": RESULT}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = charts.small_multiples(groups, tmp_path / "by.png", by="variant")
        cloud = charts.word_cloud(RESULT, tmp_path / "cloud.png")
    assert_png(out, min_width=800)
    assert_png(cloud)


def test_cli_chart_from_the_travel_example(cli, tmp_path):
    import json
    from pathlib import Path

    example = Path(__file__).parents[2] / "examples" / "korea-travel-ko.txt"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, out, err = cli("words", example, "--top", "10", "--json", "--chart", tmp_path / "top.png")
    assert code == 0, err
    top = json.loads(out)["top"]
    assert len(top) == 10
    counted = {row["word"]: row["count"] for row in top[:6]}
    # 한국 여행은 / 한국을 / 한국에서 / 한국의 and 서울에서 (twice) / 서울의 / 서울과, counted by hand.
    assert counted == {"한옥": 6, "마을": 4, "부산": 4, "서울": 4, "제주도": 4, "한국": 4}
    assert not {"한국의", "한국에서", "서울의", "서울에서"} & {row["word"] for row in top}
    assert_png(tmp_path / "top.png")
    assert "chart written" in err


def test_no_chart_for_an_empty_result(cli, write, tmp_path):
    code, _, err = cli("words", write("empty.txt", ""), "--chart", tmp_path / "top.png")
    assert code == 0 and "no chart drawn" in err
    assert not (tmp_path / "top.png").exists()
