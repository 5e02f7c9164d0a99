"""A Korean font for charts that the pip install brings, so Hangul renders on a bare machine.

koreanize-matplotlib ships NanumGothic (SIL OFL) inside its package folder. We only locate the
file: importing koreanize_matplotlib runs code that warns under matplotlib >= 3.8 (distutils'
LooseVersion) and changes global settings as a side effect.
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

from hanprompt.errors import UsageError

_BUNDLED = ("koreanize_matplotlib", "fonts/NanumGothic.ttf")
# Fonts a system may have instead (Debian fonts-nanum, Noto CJK, macOS, Windows).
_SYSTEM_NAMES = ("NanumGothic", "NotoSansCJK", "NotoSansKR", "AppleSDGothicNeo", "malgun")


def korean_font_path() -> Path:
    """The .ttf of a font with Hangul: the bundled NanumGothic, else a system one."""
    package, relative = _BUNDLED
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(list(spec.submodule_search_locations)[0]) / relative
        if candidate.is_file():
            return candidate
    from matplotlib import font_manager

    for name in font_manager.findSystemFonts():
        if any(key.lower() in Path(name).name.lower() for key in _SYSTEM_NAMES):
            return Path(name)
    raise UsageError("no Korean font found for charts; run: pip install koreanize-matplotlib")


@functools.lru_cache(maxsize=1)
def korean_font() -> tuple[str, Path]:
    """Register the Korean font with matplotlib once; return its family name and path."""
    from matplotlib import font_manager

    path = korean_font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name(), path


def korean_rc() -> dict:
    """rcParams for drawing Korean: the font first, DejaVu Sans behind it, ASCII minus signs."""
    family, _ = korean_font()
    # NanumGothic has no U+2212 minus sign, so matplotlib must draw '-' instead.
    return {"font.family": [family, "DejaVu Sans"], "axes.unicode_minus": False}
