"""Ids checked before the database, one line for any exception, and flags only on the command line."""
from __future__ import annotations

import re

import pytest

HUGE = "99999999999999999999999"


def _one_line(code, out, err):
    assert code == 2 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


# --- ids ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["logs", "show", HUGE], ["logs", "show", "0"], ["logs", "show", "-4"], ["logs", "show", "2147483648"],
    ["logs", "rm", "1", HUGE], ["logs", "--run", HUGE], ["logs", "export", "--run", HUGE],
    ["compare", HUGE], ["compare", "1", HUGE], ["report", HUGE], ["run", "exp.yaml", "--resume", HUGE],
    ["translate", "--run", HUGE], ["words", "--run", HUGE],
])
def test_an_id_that_cannot_exist_is_one_line_and_exit_2(cli, args):
    err = _one_line(*cli(*args))
    assert "is not an id: ids are whole numbers from 1 to 2,147,483,647" in err
    assert "OverflowError" not in err and "unexpected" not in err


def test_an_id_in_range_that_names_nothing_is_not_found(cli):
    err = _one_line(*cli("logs", "show", "2147483647"))
    assert "no generation with id 2147483647" in err


def test_the_store_refuses_impossible_ids_before_querying_sqlite(hanprompt_home):
    from hanprompt import settings
    from hanprompt.errors import NotFoundError
    from hanprompt.report import data
    from hanprompt.store import open_engine
    from hanprompt.store.runs import get_generation, get_run

    engine = open_engine(settings.db_url())
    for read in (get_run, get_generation, data.run_info, data.generation_detail):
        for bad in (10**23, 0, -1, 2**31):
            with pytest.raises(NotFoundError):
                read(engine, bad)


def test_the_store_refuses_impossible_ids_before_querying_postgresql(pg_url):
    # PostgreSQL's integer keys stop at 2**31 - 1: a larger id would be its error, not ours
    from hanprompt.errors import NotFoundError
    from hanprompt.report import data
    from hanprompt.store import open_engine
    from hanprompt.store.runs import get_generation, get_run

    engine = open_engine(pg_url)
    for read in (get_run, get_generation, data.run_info, data.generation_detail):
        with pytest.raises(NotFoundError):
            read(engine, 2**40)


def test_parse_id_bounds():
    from hanprompt.limits import MAX_ID, parse_id, valid_id

    assert parse_id("1") == 1 and parse_id(" 42 ") == 42 and parse_id(str(MAX_ID)) == MAX_ID
    for bad in ("0", "-1", str(MAX_ID + 1), HUGE, "", "1.5", "abc", "9" * 5000):
        with pytest.raises(ValueError, match="is not an id"):
            parse_id(bad)
    assert not valid_id(True) and not valid_id(2.0) and valid_id(7)


# --- one line for any exception -----------------------------------------------------------------


def test_one_line_of_any_exception():
    from hanprompt.errors import UsageError, one_line

    assert one_line(ValueError("")) == "ValueError"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("   \n\n  ")) == "RuntimeError"
    assert one_line(OSError("\n  first line  \nsecond")) == "first line"
    assert one_line(OSError("disk full"), typed=True) == "OSError: disk full"
    assert one_line(UsageError("give a number"), typed=True) == "give a number"  # the user's own problem
    assert one_line(ValueError("x" * 50), 10) == "x" * 9 + "…"

    class Broken(Exception):
        def __str__(self):
            raise RuntimeError("no")

    assert one_line(Broken("whatever")) == "Broken"


def test_no_site_takes_the_first_line_of_a_message_by_hand():
    # str(e).splitlines()[0] raises IndexError on an empty message; errors.one_line is the one way
    import re
    from pathlib import Path

    import hanprompt

    root = Path(hanprompt.__file__).parent
    offenders = [f"{p.relative_to(root)}:{n}" for p in root.rglob("*.py")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if re.search(r"str\((e|exc|error|cause|e\.orig)\)[^\n]*splitlines\(\)\s*\[0\]", line)]
    assert offenders == []


def test_an_unexpected_error_with_an_empty_message_is_one_line(cli, monkeypatch):
    from hanprompt.cli import logs

    def boom(args):
        raise LookupError()

    monkeypatch.setattr(logs, "list_logs", boom)  # the parser is built per call, with this handler
    code, out, err = cli("logs")
    assert code == 1 and out == "" and "Traceback" not in err
    assert err.strip() == "hanprompt: unexpected error: LookupError (rerun with --debug for the traceback)"


# --- library arguments and command-line flags --------------------------------------------------


def test_an_argument_reads_as_the_library_writes_it_and_as_the_cli_types_it():
    from hanprompt.errors import UsageError, arg, for_cli

    e = UsageError(f"lower {arg('max_new_tokens')} or pass {arg('truncate', choices=('left', 'right'))}; "
                   f"{arg('gpu_layers', 3)}")
    assert str(e) == "lower max_new_tokens or pass truncate='left' or 'right'; gpu_layers=3"
    assert for_cli(e) == "lower --max-new-tokens or pass --truncate left|right; --gpu-layers 3"
    assert "\x1f" not in repr(str(e)) and for_cli(ValueError("plain")) == "plain"


def test_max_new_tokens_beyond_the_context_names_the_flag_on_the_cli_only(cli, tiny_gguf):
    from hanprompt.backends import registry
    from hanprompt.backends.base import GenParams
    from hanprompt.backends.context import check_max_new_tokens, fit
    from hanprompt.errors import UsageError

    backend = registry.load(f"gguf:{tiny_gguf}")
    too_many = backend.context_length + 100
    with pytest.raises(UsageError) as library:
        check_max_new_tokens(backend, GenParams(max_new_tokens=too_many))
    assert "set max_new_tokens below" in str(library.value) and "--" not in str(library.value)
    with pytest.raises(UsageError) as library:
        fit(backend, [{"role": "user", "content": "hi"}], GenParams(max_new_tokens=4), truncate="middle")
    assert "truncate=" in str(library.value) and "--truncate" not in str(library.value)

    err = _one_line(*cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--max-new-tokens", too_many))
    assert f"set --max-new-tokens below {backend.context_length:,}" in err
    assert "max_new_tokens" not in err


def test_a_bad_generation_value_names_the_flag_on_the_cli_and_the_argument_in_the_library(cli, spec_file):
    from hanprompt.backends.base import GenParams
    from hanprompt.errors import UsageError

    with pytest.raises(UsageError) as library:
        GenParams.build(top_p=2.0)
    assert str(library.value).startswith("top_p must be") and "--" not in str(library.value)
    path = spec_file("variants:\n  - id: a\n    prompt: hi\n")
    err = _one_line(*cli("run", path, "--top-p", "2"))
    assert err.startswith("hanprompt: error: --top-p must be a number above 0 and at most 1")


def test_a_flag_spelled_differently_reads_as_the_library_argument_and_as_the_cli_flag():
    from hanprompt.errors import UsageError, arg, for_cli, unrendered

    e = UsageError(f"{arg('source_lang', flag='from')} and {arg('target_lang', 'ko', flag='to')}")
    assert str(e) == "source_lang and target_lang=ko"
    assert for_cli(e) == "--from and --to ko"
    wrapped = UsageError(f"file.yaml:3: {unrendered(e)}")  # raised again inside another: names kept
    assert for_cli(wrapped) == "file.yaml:3: --from and --to ko" and str(wrapped).endswith("source_lang and target_lang=ko")


def _library_error(call, *args, **kwargs) -> str:
    from hanprompt.errors import HanpromptError

    with pytest.raises(HanpromptError) as caught:
        call(*args, **kwargs)
    text = str(caught.value)
    assert "\x1f" not in text and "\x1e" not in text, repr(text)
    return text


def test_library_functions_name_their_own_arguments_never_flags(tmp_path):
    import hanprompt
    from hanprompt import textio
    from hanprompt.report.viewer import bind

    text = _library_error(hanprompt.analyse_texts, ["사과"], hanprompt.WordOptions(pos="verbz"))
    assert text.startswith("unknown pos='verbz'; choose one of") and "--" not in text
    text = _library_error(hanprompt.analyse_texts, ["사과"], hanprompt.WordOptions(top=0))
    assert text == "top must be 1 or more, not 0"
    text = _library_error(hanprompt.analyse_texts, ["사과"], hanprompt.WordOptions(by="model"))
    assert text.startswith("by needs stored texts; pass run_id, experiment") and "--" not in text

    text = _library_error(hanprompt.translate_texts, ["hi"], translator="nope")
    assert text.startswith("translator='nope': write one of") and "--" not in text
    text = _library_error(hanprompt.translate_texts, ["hi"], translator="mt:x", source_lang="ko", target_lang="ko")
    assert text == "source_lang and target_lang are both ko; pass the language to translate into with target_lang"
    text = _library_error(hanprompt.translate_texts, ["hi"], translator="mt:x", target_lang="xx")
    assert text.startswith("target_lang: unknown language code 'xx'")

    path = tmp_path / "a.txt"
    path.write_bytes("사과\n".encode("cp949"))
    text = _library_error(textio.read_text, path, encoding="no-such-codec")
    assert text == "unknown encoding 'no-such-codec'; pass encoding=utf-8, cp949, euc-kr or utf-16"
    text = _library_error(textio.read_text, path)
    assert text.endswith("save it as UTF-8, or pass its encoding with encoding, e.g. encoding=cp949")
    text = _library_error(textio.read_text, tmp_path / "missing.txt")
    assert text.endswith("check the path given to name")

    from hanprompt.analysis.export import write_csv

    result = hanprompt.analyse_texts(["사과를 먹었다"]).result
    text = _library_error(write_csv, result, tmp_path)
    assert text.startswith(f"out={tmp_path} is a folder") and "--csv" not in text

    text = _library_error(bind, "127.0.0.1", 70000)
    assert text == "port must be between 0 and 65535, not 70000"
    text = _library_error(bind, "0.0.0.0", 0)
    assert text.startswith("host=0.0.0.0 would make") and text.endswith("or pass allow_remote to do it anyway")


def test_the_same_errors_on_the_cli_name_the_flags(cli, tmp_path):
    err = _one_line(*cli("translate", "hi", "--from", "ko", "--to", "ko")).strip()
    assert err == "hanprompt: error: --from and --to are both ko; pass the language to translate into with --to"
    err = _one_line(*cli("translate", "hi", "--to", "xx")).strip()
    assert err.startswith("hanprompt: error: --to: unknown language code 'xx'")
    err = _one_line(*cli("translate", "hi", "--translator", "nope")).strip()
    assert err.startswith("hanprompt: error: --translator 'nope': write one of")
    path = tmp_path / "a.txt"
    path.write_bytes("사과\n".encode("cp949"))
    err = _one_line(*cli("words", str(path), "--encoding", "no-such-codec")).strip()
    assert err == ("hanprompt: error: unknown encoding 'no-such-codec'; "
                   "pass --encoding utf-8, cp949, euc-kr or utf-16")


# Messages that once wrote a flag by hand in library code: raised through the library they name the
# library's argument, and the command line's rendering of the same error names the flag.
_A_FLAG = re.compile(r"(?<![\w-])--[a-z]")


def _both(make) -> tuple[str, str]:
    """(str, for_cli) of what ``make`` raises, or of the note it returns."""
    from hanprompt.errors import HanpromptError, Note, for_cli

    try:
        value = make()
    except HanpromptError as e:
        value = e
    assert isinstance(value, (HanpromptError, Note)), value
    text = str(value)
    assert "\x1f" not in text and "\x1e" not in text, repr(text)
    return text, for_cli(value)


def test_library_messages_that_name_a_setting_render_it_per_reader(tmp_path, monkeypatch):
    from hanprompt.analysis import service as words_service
    from hanprompt.backends import gguf, hub
    from hanprompt.backends.hf import HFBackend
    from hanprompt.bench import fit
    from hanprompt.bench import options as bench_options
    from hanprompt.bench.roofline import ModelShape
    from hanprompt.experiments import optimize, similarity
    from hanprompt.experiments.calibrate import load_pairs
    from hanprompt.experiments.spec import load_spec
    from hanprompt.report import build

    monkeypatch.setattr(similarity, "_missing", {})
    spec = tmp_path / "exp.yaml"
    spec.write_text("name: x\nrepeat: 0\nvariants:\n  - {id: a, prompt: hi}\n", encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text("name: x\nvars: {c: [a, b, c, d, e, f]}\n"
                    "variants:\n  - {id: a, prompt: 'hi {{c}}', checks: [{contains: hi}]}\n", encoding="utf-8")
    mib = 1024**2
    shape = ModelShape([500 * mib] * 8, 100 * mib, 100 * mib, kv_per_layer=0)
    cases = [  # (make, the library's name, the command line's flag)
        (lambda: gguf.parse_gpu_layers("x"), "gpu_layers:", "--gpu-layers:"),
        (lambda: hub.unavailable("a/b", "offline"), "pass model=PATH", "pass --model PATH"),
        (lambda: HFBackend.check(str(tmp_path / "none")), "pass model a folder", "pass --model a folder"),
        (lambda: similarity.load_embedder(str(tmp_path / "none")), "pass embedder (embedder: in the file)",
         "pass --embedder (embedder: in the file)"),
        (similarity.missing_default_note, "pass embedder=PATH", "pass --embedder PATH"),
        (lambda: load_pairs(tmp_path / "none.yaml"), "given to path", "given to --pairs"),
        (lambda: bench_options.BenchOptions(models=()).check(), "pass models=SPEC", "pass --model SPEC"),
        (lambda: bench_options.BenchOptions(models=("x",), dtypes=("f8",)).check(), "dtypes:", "--dtype:"),
        (lambda: bench_options.parse_devices("gpu0"), "devices:", "--devices:"),
        (lambda: fit.oom_advice("hf", shape, 3 * 1024**3, 1024**3, 100), "max_memory=0=", "--max-memory 0="),
        (lambda: build.check_output(tmp_path), f"out={tmp_path} is a folder", f"--output {tmp_path} is a folder"),
        (lambda: words_service._note({"documents": 2, "total_tokens": 0}), "shorter than min_length",
         "shorter than --min-length"),
        (lambda: load_spec(spec), "(or set repeat for the run)", "(or set --repeat for the run)"),
        (lambda: optimize.optimize(good, None, db=f"sqlite:///{tmp_path / 'log.db'}"), "variant=ID", "--variant ID"),
        (lambda: optimize.optimize(good, "a", output=good, db=f"sqlite:///{tmp_path / 'log.db'}"),
         f"output={good} is the experiment file", f"--output {good} is the experiment file"),
    ]
    for make, library, flag in cases:
        text, cli_text = _both(make)
        assert library in text and not _A_FLAG.search(text), (library, text)
        assert flag in cli_text, (flag, cli_text)


def test_a_load_warning_names_ctx_size_per_reader(cli, tiny_gguf):
    from hanprompt.backends import registry
    from hanprompt.errors import for_cli

    trained = registry.load(f"gguf:{tiny_gguf}").context_length
    backend = registry.load(f"gguf:{tiny_gguf}", ctx_size=trained + 256)
    (warning,) = [w for w in backend.info.warnings if "trained on" in w]
    assert warning.startswith(f"ctx_size={trained + 256} is more than the {trained} tokens") and "--" not in warning
    assert for_cli(warning).startswith(f"--ctx-size {trained + 256} is more than")
    code, _, err = cli("ask", "hi", "--model", f"gguf:{tiny_gguf}", "--ctx-size", str(trained + 256),
                       "--max-new-tokens", "2", "--no-log")
    assert code == 0 and f"hanprompt: warning: --ctx-size {trained + 256} is more than" in err, err
