"""The documentation site builds in strict mode: a broken link, anchor, nav entry or API reference
fails the build (and so this test)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
    pytest.importorskip(module, reason=f"{module} is not installed: pip install -e '.[dev]' brings the docs tools")


def test_the_site_builds_strict_with_no_warning(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr + proc.stdout, proc.stderr
    site = tmp_path / "site"
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("ask", "run", "compare", "translate", "words", "bench", "report", "view", "logs export"):
        assert f"hanprompt {command}" in cli  # every command's --help, generated from the parser
    spec = (site / "reference" / "experiment-file" / "index.html").read_text(encoding="utf-8")
    assert "max_new_tokens" in spec and "≤ 10000" in spec  # repeat's limit, from the schema
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "run_experiment" in api and "progress" in api  # a signature rendered from the code
