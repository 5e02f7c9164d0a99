"""The library guide's example (docs/library.md) runs as written, in a fresh process, against the tiny model it builds."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _example() -> str:
    guide = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    section = guide[guide.index("# As a library"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_library_guide_example_runs(tmp_path):
    code = _example().replace("/tmp/tiny-llama", str(tmp_path / "tiny-llama"))
    env = dict(os.environ, HANPROMPT_HOME=str(tmp_path / "home"))
    env.pop("HANPROMPT_DB", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    run_id, status, total = lines[-1].split()
    assert status == "done" and int(total) > 0


def test_models_accepts_spec_strings_and_entries(tiny_model, tmp_path):
    from hanprompt.experiments.runner import _model_entries
    import hanprompt

    entries = _model_entries([Path(tiny_model), f"hf:{tiny_model}", hanprompt.ModelEntry(spec=str(tiny_model), dtype="float32"),
                              {"spec": str(tiny_model), "device": "cpu"}])
    tiny_model = str(tiny_model)
    assert [e.spec for e in entries] == [tiny_model, f"hf:{tiny_model}", tiny_model, tiny_model]
    assert entries[2].options == {"dtype": "float32"} and entries[3].options == {"device": "cpu"}


@pytest.mark.parametrize("models, expected", [
    (["bogus:x"], "models[0]: unknown backend prefix"),
    ([{"spec": "/m", "dtype": "int3"}], "models[0].dtype"),
])
def test_library_errors_name_arguments(models, expected, tmp_path):
    import hanprompt

    with pytest.raises(hanprompt.HanpromptError) as info:
        hanprompt.run_experiment(ROOT / "examples" / "korea-travel.yaml", models=models)
    assert expected in str(info.value) and "--" not in str(info.value)


def test_library_max_concurrency_error_names_argument():
    import hanprompt

    with pytest.raises(hanprompt.HanpromptError, match=r"^max_concurrency must be from 1 to"):
        hanprompt.run_experiment(ROOT / "examples" / "korea-travel.yaml", max_concurrency=0)
