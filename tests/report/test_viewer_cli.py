"""`hanprompt view` bad input: one line, exit 2, nothing served; the remote warning."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest

pytest.importorskip("starlette")


def _one_line(code, out, err):
    assert code == 2 and out == "", err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_host_off_this_machine_needs_allow_remote(cli):
    err = _one_line(*cli("view", "--host", "0.0.0.0"))
    assert "--host 0.0.0.0 would make the log readable from the network" in err and "--allow-remote" in err
    err = _one_line(*cli("view", "--host", "192.0.2.10"))
    assert "--allow-remote" in err


def test_a_port_in_use_is_named(cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        err = _one_line(*cli("view", "--port", port))
    assert f"port {port} is in use on 127.0.0.1; pass another with --port" in err


def test_an_unreachable_database_is_one_line(cli, tmp_path):
    err = _one_line(*cli("view", "--port", "0", "--db", "postgresql://nobody:secret-pw@127.0.0.1:1/none"))
    assert "cannot reach database" in err and "secret-pw" not in err
    err = _one_line(*cli("view", "--port", "0", "--db", f"sqlite:///{tmp_path / 'missing' / 'log.db'}"))
    assert "does not exist" in err


def test_a_port_out_of_range(cli):
    err = _one_line(*cli("view", "--port", "70000"))
    assert "--port must be between 0 and 65535" in err


def test_allow_remote_warns_that_the_log_becomes_readable(cli, monkeypatch, db):
    from hanprompt.report import viewer

    served = []
    monkeypatch.setattr(viewer, "serve", lambda sock, app, on_ready=None: (served.append(sock.getsockname()),
                                                                          sock.close()))
    code, out, err = cli("view", "--host", "0.0.0.0", "--allow-remote", "--port", "0")
    assert code == 0, err
    assert served and served[0][0] == "0.0.0.0"
    assert "warning: listening on 0.0.0.0: anyone who can reach this machine can read the log" in err


def test_loopback_names():
    from hanprompt.report.viewer import is_loopback

    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.2", "example.org"]))


def test_the_web_extra_is_named_when_missing(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    err = _one_line(*cli("view", "--port", "0"))
    assert "pip install 'hanprompt[web]'" in err


def test_help_imports_no_web_or_chart_library():
    code = ("import sys; from hanprompt.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'matplotlib', 'fontTools', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_open_without_a_browser_says_so_and_prints_the_url(cli, monkeypatch, db):
    import webbrowser

    from hanprompt.report import viewer

    monkeypatch.setenv("BROWSER", "false")  # a real browser command that fails, as on a bare server
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read BROWSER again
    monkeypatch.setattr(webbrowser, "_browsers", {})
    served = []

    def serve(sock, app, on_ready=None):
        served.append(viewer.url_of(sock))
        on_ready()
        sock.close()

    monkeypatch.setattr(viewer, "serve", serve)
    code, out, err = cli("view", "--port", "0", "--open")
    assert code == 0, err
    assert f"could not open a web browser here; open {served[0]} yourself" in err
