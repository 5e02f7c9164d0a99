"""The pages' Jinja2 environment, their inline assets and the Content-Security-Policy that allows them.

Templates autoescape everything; the only ``Markup`` is our own CSS and JavaScript, whose
SHA-256 hashes go into the policy so that no other inline style or script can run.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import io
import json
import unicodedata
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from hanprompt import __version__
from hanprompt.hangul import is_hangul
from hanprompt.textio import visible

#: the family name of the embedded Korean face (a subset of NanumGothic, renamed as its OFL asks)
EMBEDDED_FAMILY = "hanprompt-ko"
FONT_STACK = (
    '"Noto Sans KR", "Noto Sans CJK KR", "NanumGothic", "Malgun Gothic", "Apple SD Gothic Neo", '
    f'"{EMBEDDED_FAMILY}", system-ui, sans-serif'
)
#: the Unicode ranges the embedded face covers: Hangul jamo, compatibility jamo, syllables, CJK punctuation
HANGUL_RANGES = "U+1100-11FF, U+3000-303F, U+3130-318F, U+AC00-D7A3"


def _asset(name: str) -> str:
    return resources.files("hanprompt.report").joinpath("static", name).read_text(encoding="utf-8")


def sha256_source(text: str) -> str:
    """A CSP source expression for inline content: 'sha256-<base64 of the UTF-8 bytes' digest>'."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def content_security_policy(styles: list[str], scripts: list[str], *, img: str = "data:", font: str = "data:",
                            form_action: str = "'none'", connect: str = "'none'") -> str:
    """The policy of a page: only the given inline styles and scripts (by hash), nothing remote."""
    return "; ".join([
        "default-src 'none'",
        "style-src " + " ".join(sha256_source(s) for s in styles),
        "script-src " + " ".join(sha256_source(s) for s in scripts),
        f"img-src {img}",
        f"font-src {font}",
        f"connect-src {connect}",
        "base-uri 'none'",
        f"form-action {form_action}",
    ])


def _fmt_num(value, fmt: str = ".1f") -> str:
    if value is None:
        return "–"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def _fmt_pct(value, digits: int = 0) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f}%"


def _fmt_secs(value) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _fmt_when(value) -> str:
    if not value:
        return "–"
    try:
        stamp = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return stamp.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def _fmt_json(value) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False, default=str)


def _fmt_compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _excerpt(text: str | None, width: int = 240) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _markdown(text: str | None) -> Markup:
    """A model's Markdown answer as safe HTML (hanprompt.markup.to_html), control characters
    written out first as everywhere else."""
    from hanprompt.markup import to_html

    return Markup(to_html(visible(text or "")))


def _plain(text: str | None) -> str:
    """The answer without its markup (code kept), for excerpts (hanprompt.markup.preview_text)."""
    from hanprompt.markup import preview_text

    return preview_text(text or "")


def _shown(value):
    """Every value a template prints: stored text with control characters written out (NUL as
    ``\\x00``, ESC as ``\\x1b``), as the terminal shows them; the page's own markup untouched."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    """The Jinja2 environment of the report and the viewer: autoescaping, strict about unknown names."""
    env = Environment(
        loader=PackageLoader("hanprompt.report", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_shown,
    )
    env.filters.update(num=_fmt_num, pct=_fmt_pct, secs=_fmt_secs, when=_fmt_when, pretty=_fmt_json, compact=_fmt_compact,
                       excerpt=_excerpt, markdown=_markdown, plain=_plain)
    env.globals.update(version=__version__, font_stack=FONT_STACK)
    return env


def page_css(font_face: str = "") -> str:
    """The shared stylesheet with the font stack, preceded by an @font-face rule when given."""
    return font_face + _asset("page.css").replace("/*FONT_STACK*/", FONT_STACK)


def page_js() -> str:
    return _asset("page.js")


def font_face(src: str) -> str:
    """An @font-face rule for the embedded Korean face, limited to Hangul so Latin keeps its own font."""
    return (f'@font-face {{ font-family: "{EMBEDDED_FAMILY}"; src: {src}; '
            f"unicode-range: {HANGUL_RANGES}; font-display: swap; }}\n")


def hangul_in(values) -> str:
    """Every Hangul character (and CJK punctuation) in the strings of nested dicts and lists, NFC."""
    found: set[str] = set()
    stack = [values]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.update(ch for ch in unicodedata.normalize("NFC", value) if is_hangul(ch) or "\u3000" <= ch <= "\u303f")
        elif isinstance(value, dict):
            stack.extend(value.values())
            stack.extend(k for k in value if isinstance(k, str))
        elif isinstance(value, (list, tuple, set)):
            stack.extend(value)
        elif hasattr(value, "__dict__"):
            stack.append(vars(value))
    return "".join(sorted(found))


def subset_font(text: str) -> bytes | None:
    """NanumGothic cut down to the glyphs of ``text``, as WOFF (zlib); None when nothing is Korean."""
    if not text:
        return None
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from hanprompt.analysis.fonts import korean_font_path

    options = subset.Options()
    options.flavor = "woff"
    options.name_IDs = []  # the subset is no longer NanumGothic: drop its names, it gets ours in CSS
    options.drop_tables += list(_VTT_TABLES)
    buf = io.BytesIO()
    with TTFont(str(korean_font_path()), lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=text)
        subsetter.subset(font)
        font.flavor = "woff"
        font.save(buf)
    return buf.getvalue()


#: VTT source tables NanumGothic carries; fontTools cannot subset them and Chromium's font
#: sanitizer (OTS) rejects the file for TSI3's zero length, so they are dropped either way
_VTT_TABLES = ("TSI0", "TSI1", "TSI2", "TSI3", "TSI5")


@functools.lru_cache(maxsize=1)
def whole_font() -> bytes:
    """The bundled NanumGothic as WOFF without the tables browsers reject (for the viewer)."""
    from fontTools.ttLib import TTFont

    from hanprompt.analysis.fonts import korean_font_path

    buf = io.BytesIO()
    with TTFont(str(korean_font_path())) as font:
        for tag in _VTT_TABLES:
            if tag in font:
                del font[tag]
        font.flavor = "woff"
        font.save(buf)
    return buf.getvalue()


def embedded_font_face(text: str) -> str:
    """The @font-face rule with a subset of the bundled Korean font inlined, or '' without Hangul."""
    data = subset_font(text)
    if data is None:
        return ""
    return font_face(f'url("data:font/woff;base64,{base64.b64encode(data).decode("ascii")}") format("woff")')


def render(template: str, *, font_face_css: str = "", csp_options: dict | None = None,
           **context) -> tuple[str, str]:
    """(HTML, policy) of a page template, the shared CSS and JS inlined and allowed by hash."""
    css, js = page_css(font_face_css), page_js()
    policy = content_security_policy([css], [js], **(csp_options or {}))
    html = environment().get_template(template).render(
        page_style=Markup(css), page_script=Markup(js), csp=policy, **context
    )
    return html, policy


def render_page(template: str, **options) -> str:
    """The HTML of ``render``."""
    return render(template, **options)[0]
