"""Bad input to `hanprompt bench`: one line naming the problem and the fix, exit 2, nothing stored."""
from __future__ import annotations

import pytest

from hanprompt.bench import options as o
from hanprompt.errors import UsageError


def fails(cli, *args) -> str:
    code, out, err = cli("bench", *args)
    assert code == 2, (out, err)
    assert out == ""
    line = err.strip()
    assert "\n" not in line and line.startswith("hanprompt"), err
    assert "Traceback" not in err
    return line


def nothing_stored(home) -> bool:
    db = home / "hanprompt.db"
    if not db.exists():
        return True
    from sqlalchemy import func, select

    from hanprompt.store import open_engine
    from hanprompt.store.schema import bench_results, runs

    engine = open_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(runs)).scalar() == 0 and \
            conn.execute(select(func.count()).select_from(bench_results)).scalar() == 0


@pytest.mark.parametrize(
    "args, words",
    [
        (["--devices", "cpu,gpu"], ["--devices", "'gpu'", "cpu, cuda, mps, auto"]),
        (["--devices", "cpu,,cuda"], ["--devices", "empty"]),
        (["--devices", "cpu,cpu"], ["--devices", "twice"]),
        (["--gpu-layers", "0,eight"], ["--gpu-layers", "'eight'", "all"]),
        (["--gpu-layers", "-1"], ["--gpu-layers", "'-1'"]),
        (["--dtype", "float8"], ["--dtype", "float8"]),
        (["--prompt-tokens", "0"], ["--prompt-tokens", "from 1 to"]),
        (["--gen-tokens", "-5"], ["--gen-tokens"]),
        (["--gen-tokens", "1"], ["--gen-tokens", "from 2 to"]),
        (["--gen-tokens", "9999999999"], ["--gen-tokens", "1,000,000"]),
        (["--repeat", "0"], ["--repeat"]),
        (["--repeat", "100000"], ["--repeat", "10,000"]),
        (["--warmup", "-1"], ["--warmup"]),
        (["--batch", "1"], ["--batch", "batch 1 is always measured"]),
        (["--price-per-hour", "0"], ["--price-per-hour", "positive"]),
        (["--price-per-hour", "-2.5"], ["--price-per-hour", "positive"]),
        (["--price-per-hour", "cheap"], ["--price-per-hour", "'cheap'"]),
        (["--price-per-hour", "nan"], ["--price-per-hour"]),
        (["--bandwidth", "0"], ["--bandwidth", "positive"]),
        (["--bandwidth", "fast"], ["--bandwidth", "'fast'"]),
        (["--bandwidth", "gpu=100"], ["--bandwidth", "'gpu'"]),
        (["--bandwidth", "cpu=-3"], ["--bandwidth", "positive"]),
        (["--max-memory", "0=3GiB"], ["--max-memory", "auto"]),
        (["--devices", "auto", "--max-memory", "0=lots"], ["--max-memory", "0=3GiB,cpu=20GiB"]),
        (["--repeat", "two"], ["--repeat", "'two'"]),
    ],
)
def test_bad_options(cli, tiny_model, hanprompt_home, args, words):
    line = fails(cli, "-m", tiny_model, *args)
    for word in words:
        assert word in line, line
    assert nothing_stored(hanprompt_home)


def test_bad_models(cli, tmp_path, tiny_model, hanprompt_home):
    assert "config.json" in fails(cli, "-m", tiny_model, "-m", tmp_path / "nothing-here")
    assert "unknown backend prefix" in fails(cli, "-m", "llamafile:x")
    assert nothing_stored(hanprompt_home)


def test_bad_database_and_chart_folder(cli, tiny_model, tmp_path, hanprompt_home):
    assert "cannot open database" in fails(cli, "-m", tiny_model, "--db", f"sqlite:///{tmp_path}/no/such/x.db")
    assert "--chart" in fails(cli, "-m", tiny_model, "--chart", tmp_path / "no" / "chart.png")
    assert nothing_stored(hanprompt_home)


def test_parsers():
    assert o.parse_devices(" cpu , cuda ") == ("cpu", "cuda")
    assert o.parse_gpu_layers("0,8,ALL,8") == (0, 8, "all")
    assert o.parse_bandwidth("25") == {"cpu": 25.0, "cuda": 25.0, "mps": 25.0}
    assert o.parse_bandwidth("cpu=25.5,cuda=3350") == {"cpu": 25.5, "cuda": 3350.0}
    assert o.parse_dtypes("float32,bfloat16,float32") == ("float32", "bfloat16")
    with pytest.raises(UsageError, match="inf"):
        o.parse_positive("inf", "--bandwidth")
    with pytest.raises(UsageError, match="no model"):
        o.BenchOptions(models=()).check()


def test_library_errors_name_arguments():
    with pytest.raises(UsageError, match=r"^prompt_tokens must be from 1"):
        o.BenchOptions(models=("x",), prompt_tokens=0).check()
    with pytest.raises(UsageError, match=r"^price_per_hour must be a positive number"):
        o.BenchOptions(models=("x",), price_per_hour=-1).check()
    with pytest.raises(UsageError, match=r"^gpu_layers: "):
        o.BenchOptions(models=("x",), gpu_layers=(True,)).check()
    with pytest.raises(UsageError, match=r"^max_memory caps the auto device"):
        o.BenchOptions(models=("x",), max_memory="0=1GiB").check()
