"""hanprompt view: browse the log in a web browser (local, read-only)."""
from __future__ import annotations

import argparse
import sys

from hanprompt.cli import common


def register(sub) -> None:
    p = sub.add_parser(
        "view", help="browse the log in a web browser (read-only, on this machine)",
        description="Serve a read-only web viewer over the log: runs, answers side by side, filters, one "
                    "generation in full, two runs compared, word charts and benchmarks. It listens on "
                    "127.0.0.1 only unless --allow-remote is given.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 picks a free one)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a --host other than loopback: the log becomes readable from the network")
    p.add_argument("--open", action="store_true", help="open the viewer in the default web browser")
    common.add_common(p, json_flag=False)
    p.set_defaults(handler=view)


def view(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    from hanprompt import settings
    from hanprompt.report import viewer

    viewer.require_web_extra()
    sock = viewer.bind(args.host, args.port, allow_remote=args.allow_remote)  # before anything is opened
    try:
        url = settings.db_url(args.db)
        engine = viewer.read_only_engine(url)
        where = make_url(engine.url).render_as_string(hide_password=True)
        app = viewer.create_app(engine, where=where, allowed_hosts=["*"] if args.allow_remote else viewer.served_hosts(args.host, sock))
    except BaseException:
        sock.close()
        raise
    address = viewer.url_of(sock)
    if not viewer.is_loopback(args.host):
        print(f"hanprompt: warning: listening on {args.host}: anyone who can reach this machine can read "
              "the log (prompts, answers, parameters)", file=sys.stderr)
    print(f"hanprompt viewer at {address} over {common.visible(where, keep='')} (read-only; Ctrl-C stops it)", file=sys.stderr)

    def ready() -> None:
        if args.open:
            import webbrowser

            try:
                opened = webbrowser.open(address)
            except webbrowser.Error:
                opened = False
            if not opened:  # no browser here (a server, ssh, a container): say so and where to go
                print(f"hanprompt: could not open a web browser here; open {address} yourself", file=sys.stderr)

    viewer.serve(sock, app, on_ready=ready)
    return 0
