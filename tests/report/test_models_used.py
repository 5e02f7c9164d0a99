"""The models table of a run: one row per model, and for a model behind several servers, which answered how often."""
from __future__ import annotations

from hanprompt.report.shape import models_used


def _row(model: str, server: str | None) -> dict:
    return {"model": model, "backend": "openai", "device": "server", "dtype": "", "params": {},
            "placement": {"server": server} if server else None}


def test_a_model_behind_two_servers_shows_the_answers_of_each():
    spec = "openai:smollm2@http://a:8000/v1,http://b:8000/v1"
    rows = [_row(spec, "http://a:8000/v1")] * 3 + [_row(spec, "http://b:8000/v1")] * 2 + [_row("gguf:x", None)]
    models = {m["model"]: m for m in models_used(rows)}
    assert models[spec]["placement"] == {"servers": {"http://a:8000/v1": 3, "http://b:8000/v1": 2}}
    assert models["gguf:x"]["placement"] is None


def test_a_model_behind_one_server_keeps_its_placement():
    spec = "openai:smollm2@http://a:8000/v1"
    models = models_used([_row(spec, "http://a:8000/v1")] * 2)
    assert models[0]["placement"] == {"server": "http://a:8000/v1"}
