"""Bench figures checked against physics: MBU above 100%, prefill slower than decode, a server's
stream too coarse to time; the flags in --json, the table and the report, with the Korean table."""
from __future__ import annotations

import json

import pytest

from hanprompt.backends.base import Completion
from hanprompt.backends.registry import ModelSpec
from hanprompt.bench import BenchOptions, measure, run_bench, service
from hanprompt.bench.machine import LocalMachine
from hanprompt.testing.openai_stub import StubServer


@pytest.fixture
def spaced_stub(monkeypatch):
    """The OpenAI stub with its chunks a few milliseconds apart, as a server that decodes sends them."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with StubServer(delay_s=0.005) as server:
        yield server


def test_a_stream_sent_in_one_chunk_is_too_coarse_to_time(spaced_stub, cli, tmp_path):
    url = spaced_stub.base_url
    code, out, err = cli("bench", "-m", f"openai:onechunk@{url}", "-m", f"openai:echo@{url}", "--prompt-tokens", "64",
                         "--gen-tokens", "8", "--repeat", "2", "--warmup", "0", "--batch", "2",
                         "--price-per-hour", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    coarse, streamed = data["rows"]
    m = coarse["metrics"]
    assert coarse["status"] == "ok" and m["gen_tokens"] == 8  # the server's usage: 8 tokens, in one chunk
    assert m["decode_tok_s"] is None and m["decode_untimed"].startswith("stream too coarse to time: 8 tokens "
                                                                        "arrived in 1 piece")
    assert m["cost"]["per_million_output"] is None and "batch" not in m  # no figure built on it either
    assert [f["figure"] for f in m["flags"]] == ["decode_tok_s"]
    s = streamed["metrics"]
    assert s["decode_source"] == "stream" and s["decode_tok_s"]["mean"] > 0 and "decode_untimed" not in s
    assert s["cost"]["per_million_output"] > 0
    assert "decode_tok_s" not in [f["figure"] for f in s["flags"]]

    code, table, _ = cli("bench", "-m", f"openai:onechunk@{url}", "--prompt-tokens", "64", "--gen-tokens", "8",
                         "--repeat", "1", "--warmup", "0")
    assert code == 0 and "too coarse to time" in table and "flag: openai:onechunk@" in table

    report = tmp_path / "r.html"
    code, _, err = cli("report", str(data["run_id"]), "-o", str(report))
    assert code == 0, err
    html = report.read_text()
    assert "too coarse to time" in html and "flag: stream too coarse to time" in html
    assert "Korean token efficiency" in html  # the servers' tokenizers are unknown: said so, row by row
    assert html.count(f"openai:onechunk@{url}") >= 2


def test_the_decode_time_a_server_sends_is_used_before_the_stream():
    one_chunk = Completion("x", "p", 10, 11, 0.1, 0.1001, "length", usage_source="server")
    rate, source = measure.stream_decode_rate(one_chunk, [0.0])
    assert rate is None and "too coarse" in source
    one_chunk.timings = {"server_decode_s": 0.5}  # llama.cpp's timings: 10 tokens after the first in 0.5 s
    assert measure.stream_decode_rate(one_chunk, [0.0]) == (pytest.approx(20.0), "server timings")
    # Four pieces of 3 tokens each, 0.1 s apart: 9 tokens after the first piece in 0.3 s.
    c = Completion("x", "p", 10, 12, 0.1, 0.5, "length", usage_source="server")
    assert measure.stream_decode_rate(c, [1.0, 1.1, 1.2, 1.3]) == (pytest.approx(30.0), "stream")


def test_mbu_above_100_percent_is_flagged_and_the_bandwidth_marked_unreliable(tiny_model, cli, tmp_path):
    # A bandwidth far too low (as from a probe on a busy machine, or a typo): the roofline is impossible.
    report = run_bench(BenchOptions(models=(str(tiny_model),), devices=("cpu",), prompt_tokens=32, gen_tokens=6,
                                    repeat=2, warmup=0, batch=2, bandwidth={"cpu": 0.0001}))
    (row,) = report.rows
    roof = row["metrics"]["roofline"]
    assert roof["mbu"] > 1 and roof["bandwidth_unreliable"] is True
    assert row["metrics"]["batch"]["mbu"] > 1 and "batch.mbu" in [f["figure"] for f in row["metrics"]["flags"]]
    (flag,) = [f for f in row["metrics"]["flags"] if f["figure"] == "mbu"]
    assert flag["problem"].startswith(f"MBU {roof['mbu']:.0%} is above 100%") and "busy" in flag["likely_cause"]
    entry = report.bandwidth["cpu"]
    assert entry["gb_s"] == 0.0001 and entry["source"] == "--bandwidth"  # a given figure is not replaced
    assert "remeasured_from" not in entry and entry["unreliable"].startswith("MBU ")

    html = tmp_path / "r.html"
    code, _, err = cli("report", str(report.run_id), "-o", str(html))
    assert code == 0, err
    text = html.read_text()
    assert "(unreliable)" in text and "is above 100%" in text
    assert "Korean token efficiency" in text
    korean = report.korean[str(row["model"])]
    assert f"{korean['ko']['tokens_per_100_chars']:.1f}" in text and f"{korean['ko_en_ratio']:.2f}x" in text


def test_a_bandwidth_measured_low_is_measured_again(tiny_model):
    from hanprompt.backends.registry import parse_spec
    from hanprompt.bench.options import BenchOptions as Options

    options = Options(models=(str(tiny_model),), devices=("cpu",), prompt_tokens=32, gen_tokens=6, repeat=2,
                      warmup=0)
    machine = LocalMachine()
    bandwidth = service.Bandwidths({}, machine)
    bandwidth.entries["cpu"] = {"gb_s": 0.0001, "source": "measured"}  # what a probe on a busy machine left
    (cfg,) = service.expand(options, [parse_spec(str(tiny_model))], machine)
    status, reason, metrics = service.measure_row(cfg, options, machine, bandwidth, None)
    assert status == "ok", reason
    entry = bandwidth.entries["cpu"]
    assert entry["remeasured_from"] == 0.0001 and entry["gb_s"] > 0.0001  # the real probe, run again
    roof = metrics["roofline"]
    assert roof["bandwidth_gb_s"]["cpu"] == entry["gb_s"] and roof["mbu_before_remeasure"] > roof["mbu"]
    # Still above 100% (a tiny model's weights stay in the caches) only with a flag.
    assert (roof["mbu"] <= 1) == ("mbu" not in [f["figure"] for f in metrics["flags"]])


def test_prefill_slower_than_decode_is_flagged():
    cfg = service.Config(ModelSpec("openai", "m@http://127.0.0.1:1/v1"), {}, {})
    metrics = {"prefill_tok_s": {"mean": 12.0}, "decode_tok_s": {"mean": 30.0}, "roofline": None}
    (flag,) = service.check_physics(cfg, None, metrics, None)
    assert flag["figure"] == "prefill_tok_s" and flag["problem"] == "prefill (12.0 tok/s) is slower than decode (30.0 tok/s)"
    metrics["prefill_tok_s"]["mean"] = 300.0
    assert service.check_physics(cfg, None, metrics, None) == []
