"""The command line: argument parsing and rendering over the library, nothing more.

Every HanpromptError becomes one line on stderr and exit code 2; --debug shows the traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from hanprompt import __version__

#: modules under hanprompt.cli, each with register(subparsers); their order is the help's.
COMMANDS = ["ask", "logs", "run", "optimize", "judge_check", "translate", "words", "bench", "report", "view"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        from hanprompt.cli.common import visible

        self.exit(2, f"{self.prog}: error: {visible(message, keep='')} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hanprompt",
        description="A local-first prompt lab for open LLMs, with Korean as a first-class language.",
    )
    parser.add_argument("--version", action="version", version=f"hanprompt {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"hanprompt.cli.{name}").register(sub)
    return parser


class _NoticeHandler(logging.Handler):
    """The library's notices (a database backup, archived rows) as one stderr line each."""

    def emit(self, record: logging.LogRecord) -> None:
        from hanprompt.cli.common import visible

        print(f"hanprompt: {visible(record.getMessage(), keep='')}", file=sys.stderr)  # sys.stderr of the moment


def _show_notices(debug: bool = False) -> None:
    """The library's notices on stderr; with ``--debug``, its DEBUG messages too (llama.cpp's own
    loading messages among them)."""
    logger = logging.getLogger("hanprompt")
    level = logging.DEBUG if debug else logging.INFO
    handler = next((h for h in logger.handlers if isinstance(h, _NoticeHandler)), None)
    if handler is None:
        handler = _NoticeHandler(level)
        logger.addHandler(handler)
    handler.setLevel(level)
    logger.setLevel(level)


def entry() -> int:
    """The ``hanprompt`` program (console script and ``python -m hanprompt``): :func:`main`, then
    a quick exit.

    Once torch and transformers are imported, the interpreter's shutdown spends about a second
    in its last garbage collections over their objects (1.0 s against 0.15 s on a 2-core CPU:
    docs/performance.md). Nothing the command made needs collecting after it is done, so those
    objects are frozen out of the collector's reach first (``gc.freeze``); reference counting,
    ``atexit`` handlers and open files are unaffected.
    """
    code = main()
    import gc

    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _show_notices()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    debug = args.debug or getattr(args, "debug_sub", False)
    _show_notices(debug)
    from hanprompt.cli.common import visible
    from hanprompt.errors import HanpromptError, Terminated, for_cli

    def on_sigterm(signum, frame):  # SIGTERM stops a command the way Ctrl-C does
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        return args.handler(args) or 0
    except HanpromptError as e:
        if debug:
            raise
        print(f"hanprompt: error: {visible(for_cli(e), keep='')}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt as e:
        print("hanprompt: interrupted", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # an unexpected failure: one line, the traceback behind --debug
        if debug:
            raise
        from hanprompt.errors import one_line

        print(
            f"hanprompt: unexpected error: {visible(one_line(e, typed=True), keep='')} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
