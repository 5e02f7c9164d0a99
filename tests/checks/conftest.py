"""Fixtures of the check tests: experiment files beside the files they name."""
from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def write(tmp_path):
    """Write a file under the test's folder: write("exp.yaml", text) -> its path."""

    def put(name: str, text: str):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return put
