"""A seeded cell reproduces: alone, in any batch, at any --max-concurrency, and through ask."""
from __future__ import annotations

from hanprompt.backends import GenParams, load


def test_a_seeded_cell_equals_ask_with_the_same_seed(cli, tiny_model, spec_file):
    import json

    path = spec_file(
        "name: seeded\nparams: {max_new_tokens: 12, temperature: 0.8, seed: 7}\n"
        "variants:\n  - {id: a, prompt: \"Tell me about Jeju.\"}\n"
        "  - {id: b, prompt: \"A much longer prompt about Korean food, markets and the sea.\"}\n"
        "  - {id: c, prompt: \"Hi\", params: {max_new_tokens: 30, temperature: 0}}\n"
    )
    runs = []
    for concurrency in ("1", "2", "16"):
        code, out, err = cli("run", path, "--model", tiny_model, "--max-concurrency", concurrency,
                             "--no-cache", "--json")
        assert code == 0, err
        runs.append({r["variant"]: r["response"] for r in json.loads(out)})
    assert runs[0] == runs[1] == runs[2]
    code, out, err = cli("ask", "Tell me about Jeju.", "--model", tiny_model, "--max-new-tokens", "12",
                         "--temperature", "0.8", "--seed", "7", "--json", "--no-log")
    assert code == 0, err
    assert json.loads(out)["response"] == runs[0]["a"]
    other = load(str(tiny_model)).generate([{"role": "user", "content": "Tell me about Jeju."}],
                                           GenParams(max_new_tokens=12, temperature=0.8, seed=8))
    assert other.text != runs[0]["a"]  # the seed matters


