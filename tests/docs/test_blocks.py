"""Every ```bash block of the README and the guides runs, in order, as written.

Each Markdown file gets a fresh ``HANPROMPT_HOME`` and a fresh working folder (with a copy of
``examples/``), so a block may use what an earlier block of the same file made (the run ids of a
fresh log count from 1). Blocks run offline (``HF_HUB_OFFLINE=1``), under ``bash -e``.

- A block that cannot run here is marked on the line before it with an HTML comment naming why,
  ``<!-- skip: needs the hub -->`` (also: needs a GPU, needs a cloud key, needs a server, installs,
  runs the test suite); it is reported as skipped with that reason.
- A ```text block right after a bash block is its output: every non-empty line of it must appear in
  what the block printed (stdout and stderr); a line ``...`` stands for anything.
- Every command must exit 0.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FILES = [README] + sorted((ROOT / "docs").glob("**/*.md"))

FENCE = re.compile(r"^```(\w*)\s*$")
SKIP = re.compile(r"^<!--\s*skip:\s*(.+?)\s*-->\s*$")


@dataclass
class Block:
    path: Path
    line: int
    code: str
    skip: str | None
    output: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """The ```bash blocks of a Markdown file, each with its skip reason and shown output."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i].strip()) if lines[i].startswith("```") else None
        if not m or not m.group(1):
            i += 1
            continue
        lang, start = m.group(1), i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        body = "\n".join(lines[start + 1:j])
        if lang == "bash":
            k = start - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            skip = SKIP.match(lines[k].strip()) if k >= 0 else None
            found.append(Block(path, start + 1, body, skip.group(1) if skip else None, None))
        elif lang == "text" and found and found[-1].output is None and found[-1].path == path:
            between = lines[found[-1].line:start]  # only blank lines and the bash block's own lines
            if "\n".join(between).count("```") == 1:
                found[-1].output = body
        i = j + 1
    return found


ALL = [b for p in FILES for b in blocks_of(p)]
_places: dict[Path, tuple[Path, Path]] = {}


def _place(path: Path, tmp_factory) -> tuple[Path, Path]:
    """(working folder, HANPROMPT_HOME) of one Markdown file, made at its first block."""
    if path not in _places:
        work = tmp_factory.mktemp("blocks")
        # a copy, not a link: a command that writes beside its file (optimize's FILE.optimized.yaml)
        # must not write into the checkout
        shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("__pycache__"))
        (work / "home").mkdir()
        _places[path] = (work, work / "home")
    return _places[path]


def _matches(shown: str, printed: str) -> list[str]:
    """The lines of the shown output missing from what was printed (``...`` matches anything)."""
    return [line for line in shown.splitlines() if line.strip() and line.strip() != "..."
            and line.strip() not in printed]


def test_markers_and_shown_output_are_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- skip: needs the hub -->\n```bash\nhanprompt ask hi --model Qwen/Q\n```\n\n"
                    "```bash\necho 1 documents\n```\n\n```text\n1 documents\n...\n```\n\n"
                    "```python\nprint(1)\n```\n", encoding="utf-8")
    hub, shown = blocks_of(page)
    assert hub.skip == "needs the hub" and hub.output is None and hub.line == 2
    assert shown.skip is None and shown.output == "1 documents\n..." and shown.code == "echo 1 documents"
    assert _matches(shown.output, "1 documents · 102 words") == []
    assert _matches(shown.output, "2 documents") == ["1 documents"]  # a wrong output is caught


def test_the_blocks_are_found():
    assert any(b.path == README for b in ALL) and len({b.path for b in ALL}) > 5
    assert all(b.code.strip() for b in ALL)


@pytest.mark.parametrize("block", ALL, ids=[b.id for b in ALL])
def test_block(block: Block, tmp_path_factory):
    if block.skip:
        pytest.skip(block.skip)
    work, home = _place(block.path, tmp_path_factory)
    env = dict(os.environ, HANPROMPT_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT / "src"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               TERM="dumb", COLUMNS="100")
    env.pop("HANPROMPT_MODEL", None)
    env.pop("HANPROMPT_DB", None)
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    printed = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{block.id} exited {proc.returncode}:\n{block.code}\n---\n{printed[-3000:]}"
    if block.output is not None:
        missing = _matches(block.output, printed)
        assert not missing, f"{block.id}: shown output not printed: {missing}\n---\n{printed[-3000:]}"
