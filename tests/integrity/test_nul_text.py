"""U+0000, which PostgreSQL text cannot hold, is stored as U+FFFD on every database, and marked."""
from __future__ import annotations

from sqlalchemy import select

from hanprompt.store import open_engine
from hanprompt.store.schema import generations, runs, translations


def test_a_prompt_with_nul_is_stored_as_replacement_characters(hp, tmp_path, tiny_model, db_url):
    path = tmp_path / "exp.yaml"
    path.write_text('name: "nul\\0name"\nparams: {max_new_tokens: 4, temperature: 0}\n'
                    'vars: {x: "a\\0b"}\nvariants:\n  - {id: v, prompt: "say \\0 {{x}}"}\n', encoding="utf-8")
    done = hp.run("run", path, "--model", tiny_model, "--json")
    assert done.returncode == 0, done.stderr
    with open_engine(db_url).connect() as conn:
        g = conn.execute(select(generations)).mappings().one()
        run = conn.execute(select(runs)).mappings().one()
    assert g["text_altered"] is True
    assert g["messages"][-1]["content"] == "say \ufffd a\ufffdb"
    assert "\ufffd" in g["prompt"] and "\x00" not in g["prompt"]
    assert g["vars"] == {"x": "a\ufffdb"}
    assert run["name"] == "nul\ufffdname" and run["status"] == "done"


def test_a_generation_without_nul_is_not_marked(cli, tiny_model, db_url):
    code, _, err = cli("ask", "안녕?", "--model", tiny_model, "--max-new-tokens", "2", "--db", db_url)
    assert code == 0, err
    with open_engine(db_url).connect() as conn:
        assert conn.execute(select(generations.c.text_altered)).scalar_one() is None


def test_a_translated_file_with_nul(hp, tmp_path, tiny_marian, db_url):
    source = tmp_path / "in.txt"
    source.write_text("Hello\x00 world.\nSecond line.\n", encoding="utf-8")
    done = hp.run("translate", "--file", source, "-t", f"mt:{tiny_marian}")
    assert done.returncode == 0, done.stderr
    with open_engine(db_url).connect() as conn:
        stored = conn.execute(select(translations.c.source).order_by(translations.c.id)).scalars().all()
    assert stored == ["Hello\ufffd world.", "Second line."]
