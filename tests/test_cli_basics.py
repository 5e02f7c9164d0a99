"""The CLI starts fast: --help and --version never import torch."""
import subprocess
import sys

import hanprompt


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True,
    )
    return set(out.stdout.split())


def test_importing_cli_does_not_import_torch():
    mods = _modules_after("import hanprompt.cli; hanprompt.cli.build_parser()")
    assert "torch" not in mods and "transformers" not in mods and "sqlalchemy" not in mods


def test_help_and_version_do_not_import_torch():
    for flag in ("--help", "--version"):
        mods = _modules_after(
            "import sys\nfrom hanprompt.cli import main\n"
            f"try:\n    main(['{flag}'])\nexcept SystemExit:\n    pass"
        )
        assert "torch" not in mods, flag


def test_version(cli):
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"hanprompt {hanprompt.__version__}"


def test_every_command_has_help(cli):
    from hanprompt.cli import COMMANDS

    for name in COMMANDS:  # modules are named as commands are, with _ for -
        code, out, _ = cli(name.replace("_", "-"), "--help")
        assert code == 0 and "usage: hanprompt" in out


def test_unknown_option_is_one_line(cli):
    code, out, err = cli("ask", "hi", "--no-such-flag")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--no-such-flag" in err


def test_public_api_names_resolve_lazily():
    mods = _modules_after("import hanprompt")
    assert "torch" not in mods and "sqlalchemy" not in mods
    for name in hanprompt.__all__:
        assert getattr(hanprompt, name) is not None, name
