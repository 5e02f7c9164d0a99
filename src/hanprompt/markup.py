"""Markdown and HTML in model answers: the plain text under the markup, and safe HTML to show.

Models write Markdown with HTML mixed in (``* <strong>한국의 주요 관광지</strong>``). One parser
reads it everywhere: markdown-it-py's CommonMark with raw HTML, plus GFM tables and strikethrough.

- ``plain_text`` is what Kiwi reads (word counts, speech levels): the text with every markup
  character (emphasis, heading and list marks, tags, link targets, table pipes) replaced by a
  space, so the result has the length and the line breaks of the input: a character keeps its
  position (offset i in the answer is offset i in the plain text) and nothing is glued together.
  Code blocks and code spans are blanked too unless ``code=True``. Malformed markup (``**``
  unbalanced, ``<strong>`` never closed) is kept as text, as the parser reads it.
- ``preview_text`` is ``plain_text`` with code kept and markup inside a word dropped, for excerpts.
- ``to_html`` is what the report and the viewer show: the Markdown rendered, its raw HTML shown as
  text except formatting tags (``<strong>``, ``<br>``, ``<table>``), links and images as their
  text, then cleaned by nh3 (the Rust ammonia sanitizer) down to those elements without attributes: no
  script, style, event handler, link or image survives, so nothing a model writes can run or load
  anything, and a ``<script>`` in an answer reads as the text it is.
"""
from __future__ import annotations

import functools
from html.parser import HTMLParser
from typing import Iterable, Iterator

#: elements an answer may keep once rendered: text formatting, lists, tables, code. No <a> or <img>:
#: the pages work offline and load nothing, and the raw text beside them shows any URL.
ALLOWED_TAGS = frozenset({
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "kbd", "samp",
    "strong", "b", "em", "i", "u", "s", "del", "ins", "mark", "sub", "sup", "small",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
})
_ATTRIBUTES = {"ol": {"start"}, "th": {"colspan", "rowspan"}, "td": {"colspan", "rowspan"}}
_CODE_TOKENS = ("fence", "code_block")
#: blocks that may run past a blank line, so a file is never cut inside one (see plain_lines)
_OPEN_ENDED = ("fence", "html_block")


@functools.lru_cache(maxsize=2)
def parser(*, render: bool = False):
    """The one Markdown parser: CommonMark (raw HTML on), GFM tables and ~~strikethrough~~,
    single line breaks kept as breaks. For reading text (``render`` false) escapes and entities
    stay tokens of their own (``text_join`` off), so every text token is found verbatim in the source."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"breaks": True}).enable(["table", "strikethrough"])
    if not render:
        return md.disable("text_join")
    md.add_render_rule("html_inline", _render_html)
    md.add_render_rule("html_block", _render_html)
    md.add_render_rule("image", _render_image)
    return md


def source_text(text: str) -> str:
    """``text`` as the parser reads it, every character where it was: ``\\r\\n`` as `` \\n``, a lone
    ``\\r`` as ``\\n``, NUL as U+FFFD (markdown-it's own normalisation, minus the length changes)."""
    return text.replace("\r\n", " \n").replace("\r", "\n").replace("\0", "\ufffd")


def plain_text(text: str, *, code: bool = False) -> str:
    """``text`` with its markup blanked: same length, same line breaks, markup characters as spaces.

    Code blocks and code spans are blanked as well unless ``code`` is true.
    """
    src = source_text(text)
    return _plain(src, parser().parse(src), code)


def preview_text(text: str) -> str:
    """The answer's words for a one-line preview: ``plain_text`` with code kept, where a run of
    markup inside a word (``볼거리*가``, ``3호선`을``) is dropped instead of spaced."""
    src = source_text(text)
    plain = plain_text(text, code=True)
    out: list[str] = []
    i = 0
    while i < len(plain):
        if plain[i] == " " and not src[i].isspace():  # a run of markup
            j = i
            while j < len(plain) and plain[j] == " " and not src[j].isspace():
                j += 1
            inside = 0 < i and j < len(plain) and not plain[i - 1].isspace() and not plain[j].isspace()
            if not (inside and "<" not in src[i:j]):  # tags (<br>, </td>) still part words
                out.append(" ")
            i = j
        else:
            out.append(plain[i])
            i += 1
    return "".join(out)


def _line_starts(src: str) -> list[int]:
    starts = [0]
    for i, ch in enumerate(src):
        if ch == "\n":
            starts.append(i + 1)
    starts.append(len(src))
    return starts


def _plain(src: str, tokens, code: bool) -> str:
    out = [ch if ch == "\n" else " " for ch in src]
    starts = _line_starts(src)

    def span(block_map) -> tuple[int, int]:
        first, last = block_map
        return starts[min(first, len(starts) - 1)], starts[min(last, len(starts) - 1)]

    def keep(start: int, end: int) -> None:
        out[start:end] = src[start:end]

    block_map = None
    inline_map, cursor = None, 0  # the cells of a table row share the row's lines: go on from the last
    for token in tokens:
        if token.map is not None:
            block_map = token.map
        if token.type == "inline" and block_map is not None:
            start, end = span(block_map)
            if block_map != inline_map:
                inline_map, cursor = block_map, start
            cursor = _inline(src, token.children or [], cursor, end, keep, out, code)
        elif token.type in _CODE_TOKENS and code and token.map is not None:
            first, last = token.map
            if token.type == "fence":  # the content lines, without the ``` lines
                first += 1
                last = first + token.content.count("\n")
            keep(*span((first, last)))
        elif token.type == "html_block" and token.map is not None:
            _html(src, *span(token.map), keep)
    return "".join(out)


def _inline(src: str, children, start: int, end: int, keep, out: list[str], code: bool) -> int:
    """Keep the text tokens of one inline run, found in order in src[start:end]; where it ended."""
    cursor = start
    for child in children:
        kind = child.type
        if kind == "text":
            if not child.content:
                continue
            at = src.find(child.content, cursor, end)
            if at < 0:  # not verbatim in the source (tabs expanded, say): keep the whole run as text
                keep(start, end)
                return end
            keep(at, at + len(child.content))
            cursor = at + len(child.content)
        elif kind == "text_special":  # an escape (\*) or an entity (&amp;): the character it stands for
            at = src.find(child.markup, cursor, end)
            if at >= 0:
                out[at] = child.content[:1] if len(child.content) == 1 else " "
                cursor = at + len(child.markup)
        elif kind == "code_inline":
            opening = src.find(child.markup, cursor, end)
            closing = src.find(child.markup, opening + len(child.markup), end) if opening >= 0 else -1
            if closing >= 0:
                if code:
                    keep(opening + len(child.markup), closing)
                cursor = closing + len(child.markup)
        elif kind == "html_inline":
            at = src.find(child.content, cursor, end)
            if at >= 0:
                cursor = at + len(child.content)
    return cursor


class _HtmlText(HTMLParser):
    """The text between the tags of an HTML block, as (line, column) spans; script and style left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.spans: list[tuple[int, int, int]] = []

    def handle_data(self, data: str) -> None:
        if getattr(self, "cdata_elem", None) is None:  # not inside <script> or <style>
            line, column = self.getpos()
            self.spans.append((line, column, len(data)))


def _html(src: str, start: int, end: int, keep) -> None:
    block = src[start:end]
    lines = [0]
    for i, ch in enumerate(block):
        if ch == "\n":
            lines.append(i + 1)
    reader = _HtmlText()
    try:
        reader.feed(block)
        reader.close()
    except AssertionError:  # html.parser gives up on some malformed declarations (<![x): all text
        keep(start, end)
        return
    for line, column, length in reader.spans:
        at = start + lines[line - 1] + column
        keep(at, min(at + length, end))


def plain_lines(lines: Iterable[str], *, chunk: int = 256) -> Iterator[str]:
    """The lines of one document (a file read line by line) with their markup blanked.

    The lines are parsed some ``chunk`` lines at a time, cut only where a new top-level block
    starts (after a blank line, at a line that is not indented) and never inside a fenced code
    block or an HTML block, so the result is the ``plain_text`` of the whole document while
    memory stays bounded by the longest such block.
    """
    buffer: list[str] = []
    wanted = chunk
    for line in lines:
        if len(buffer) >= wanted and line[:1] not in ("", " ", "\t") and buffer[-1].strip(" \t") == "":
            src = source_text("\n".join(buffer) + "\n")
            tokens = parser().parse(src)
            if any(t.type in _OPEN_ENDED and t.map and t.map[1] >= len(buffer) for t in tokens):
                wanted = 2 * len(buffer)  # inside an open block: look again when it has doubled
            else:
                yield from _plain(src, tokens, False).split("\n")[:-1]
                buffer, wanted = [], chunk
        buffer.append(line)
    if buffer:
        src = source_text("\n".join(buffer) + "\n")
        yield from _plain(src, parser().parse(src), False).split("\n")[:-1]


class _HtmlPieces(HTMLParser):
    """Where each tag, comment and run of text of an HTML fragment starts, and its tag name."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.starts: list[tuple[tuple[int, int], str | None]] = []

    def _at(self, tag: str | None = None) -> None:
        self.starts.append((self.getpos(), tag))

    def handle_starttag(self, tag, attrs):
        self._at(tag)

    def handle_startendtag(self, tag, attrs):
        self._at(tag)

    def handle_endtag(self, tag):
        self._at(tag)

    def handle_data(self, data):
        self._at("#text")

    def handle_entityref(self, name):
        self._at("#entity")

    def handle_charref(self, name):
        self._at("#entity")

    def handle_comment(self, data):
        self._at()

    def handle_decl(self, decl):
        self._at()

    def handle_pi(self, data):
        self._at()

    def unknown_decl(self, data):
        self._at()


def _html_as_text_but_formatting(fragment: str) -> str:
    """Raw HTML of an answer: formatting tags (ALLOWED_TAGS) kept for nh3 to clean, every other
    tag (script, img, a, style ...) and the text around them escaped, so it shows as text."""
    from markupsafe import escape

    lines = [0]
    for i, ch in enumerate(fragment):
        if ch == "\n":
            lines.append(i + 1)
    reader = _HtmlPieces()
    try:
        reader.feed(fragment)
        reader.close()
    except AssertionError:  # html.parser gives up on some malformed declarations (<![x): all text
        return str(escape(fragment))
    offsets = [(lines[line - 1] + column, tag) for (line, column), tag in reader.starts]
    out, done = [], 0
    for n, (start, tag) in enumerate(offsets):
        if start < done:
            continue
        end = offsets[n + 1][0] if n + 1 < len(offsets) else len(fragment)
        piece = fragment[start:end]
        out.append(piece if tag in ALLOWED_TAGS or tag == "#entity" else str(escape(piece)))
        done = end
    if done < len(fragment):  # what the HTML parser left unread (a tag cut off at the end)
        out.append(str(escape(fragment[done:])))
    return "".join(out)


def _render_html(renderer, tokens, idx, options, env) -> str:
    return _html_as_text_but_formatting(tokens[idx].content)


def _render_image(renderer, tokens, idx, options, env) -> str:
    # an image is never loaded: its description stands in its place
    from markupsafe import escape

    return str(escape(renderer.renderInlineAsText(tokens[idx].children or [], options, env)))


def to_html(text: str) -> str:
    """Safe HTML of a Markdown answer: rendered by markdown-it-py, its raw HTML shown as text except
    formatting tags, then cleaned by nh3 (ammonia) down to ALLOWED_TAGS without attributes."""
    import nh3

    html = parser(render=True).render(text)
    return nh3.clean(html, tags=set(ALLOWED_TAGS), attributes={k: set(v) for k, v in _ATTRIBUTES.items()},
                     clean_content_tags={"script", "style"}, url_schemes=set(), link_rel=None)
