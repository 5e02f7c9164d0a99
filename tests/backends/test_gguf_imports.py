"""``hanprompt ask`` on a GGUF model imports nothing it does not use: no torch, no transformers, no Alembic."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

pytest.importorskip("llama_cpp", reason="the gguf: backend needs llama-cpp-python: pip install 'hanprompt[gguf]'")

CODE = """
import json, sys
from hanprompt.cli import main
code = main(sys.argv[1:])
heavy = ("torch", "transformers", "alembic", "kiwipiepy", "matplotlib")
print(json.dumps({"code": code, "imported": sorted(m for m in heavy if m in sys.modules)}))
"""


def _ask(tiny_gguf, home, *extra: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CODE, "ask", "안녕하세요", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", "4",
         *extra],
        capture_output=True, text=True, env=dict(os.environ, HANPROMPT_HOME=str(home)), timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ask_on_a_gguf_imports_neither_torch_nor_transformers_nor_alembic(tiny_gguf, tmp_path):
    first = _ask(tiny_gguf, tmp_path / "home")  # a new database: created without Alembic
    later = _ask(tiny_gguf, tmp_path / "home")  # an up-to-date one: one query
    assert first == later == {"code": 0, "imported": []}
    with sqlite3.connect(tmp_path / "home" / "hanprompt.db") as conn:
        assert conn.execute("SELECT count(*) FROM generations").fetchone() == (2,)
        prompt = conn.execute("SELECT prompt FROM generations ORDER BY id LIMIT 1").fetchone()[0]
    assert prompt == "<|im_start|>user\n안녕하세요<|im_end|>\n<|im_start|>assistant\n"  # the ChatML template
