"""`hanprompt view`: a local, read-only web app over the log (Starlette, Jinja2, uvicorn).

Every page is server-rendered from the report's templates and reads the database page by page
(``report.data``). Nothing here writes: the routes answer GET (and HEAD) only, and the app's own
engine opens SQLite with ``PRAGMA query_only`` and PostgreSQL sessions as READ ONLY, so even a
bug could not change the log. Served on loopback unless told otherwise; a Host check stops
other sites from reaching it through DNS rebinding.
"""
from __future__ import annotations

import errno
import functools
import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import Engine, create_engine, event

from hanprompt import limits
from hanprompt.errors import NotFoundError, UsageError, arg
from hanprompt.report import charts, data, render, shape
from hanprompt.store.results import in_file_order

#: the font the pages fall back to for Hangul, served whole (the report embeds a subset instead)
FONT_PATH = "/font/hanprompt-ko.woff"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) stays on this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_only_engine(url: str) -> Engine:
    """An engine of its own over ``url`` that cannot write.

    The database is first opened the usual way (URL checked, server reached, schema brought up
    to date); StoreError names the fix when that fails.
    """
    from hanprompt.store import open_engine

    base = open_engine(url)
    engine = create_engine(base.url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute("PRAGMA query_only = ON")
            cur.close()
    elif engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _postgres(dbapi_conn, _record):
            autocommit = dbapi_conn.autocommit
            dbapi_conn.autocommit = True
            dbapi_conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_conn.autocommit = autocommit
    return engine


def _int(value: str | None, name: str) -> int | None:
    """A query parameter that holds an id (``?before=``, ``?a=``): None when absent, NotFoundError
    (a 404 page) for anything that cannot be an id, before it reaches the database."""
    if value in (None, ""):
        return None
    try:
        return limits.parse_id(value)
    except ValueError as e:
        raise NotFoundError(f"{name}: {e}") from None


def _filters(params) -> data.Filters:
    check = params.get("check") or None
    if check is not None and check not in data.Filters.CHECKS:
        check = None
    return data.Filters(
        q=(params.get("q") or "").strip() or None, model=(params.get("model") or "").strip() or None,
        variant=(params.get("variant") or "").strip() or None, check=check, run=_int(params.get("run"), "run"),
    )


def _run_view(engine: Engine, run_id: int, params, limit: int) -> dict:
    """What the run page shows: metadata, one page of answers side by side, charts, words, bench."""
    variant = (params.get("variant") or "").strip() or None
    page = data.run_page(engine, run_id, limit=limit, after=_int(params.get("after"), "after"), variant=variant)
    results = page["results"]
    for r in results:
        r["translations"] = [shape.translation_line(t) for t in r["translations"]]
    summary = data.run_summary(engine, run_id)
    run = page["run"]
    bench = shape.bench_rows(page["bench"])
    view = {
        "meta": shape.run_meta(run, results), "summary": summary,
        "grid": shape.grid(in_file_order(run.get("spec"), results)),  # the page's answers, the file's order
        "next": page["next"], "variant": variant, "analyses": page["analyses"], "analysis": page["analysis"],
        "bench": bench, "bench_korean": shape.bench_korean(page["bench"]),
        "kind_has_texts": run["kind"] in ("ask", "experiment") and run["generations"] > 0,
        "charts": [c for c in (
            _drawn("speeds", summary["speeds"]),
            _drawn("pass", [summary["variants"], summary["models"],
                            [[v, m, st] for (v, m), st in summary["stats"].items()]]),
        ) if c is not None],
        "word_charts": [c for c in (_drawn("words", a) for a in page["analyses"]) if c is not None],
        "own_word_charts": [c for c in [_drawn("words", page["analysis"])] if c] if page["analysis"] else [],
        "bench_charts": _drawn("bench", bench) or [],
    }
    view["meta"]["totals"] = summary["total"]  # the whole run's, not this page's
    return view


def _drawn(kind: str, value):
    """A chart of ``value``, drawn once per distinct value (drawing takes far longer than a page's queries)."""
    return _draw(kind, json.dumps(value, ensure_ascii=False, default=str))


@functools.lru_cache(maxsize=256)
def _draw(kind: str, payload: str):
    value = json.loads(payload)
    if kind == "speeds":
        return charts.tokens_per_s(value)
    if kind == "pass":
        variants, models, cells = value
        return charts.pass_rate(variants, models, {(v, m): st for v, m, st in cells})
    if kind == "words":
        return charts.words(value)
    return tuple(charts.bench(value))


@dataclass(frozen=True)
class Page:
    """A rendered page, the Content-Security-Policy it was rendered for, and its HTTP status."""

    html: str
    policy: str
    status: int = 200


class Pages:
    """The viewer's pages as plain functions of (query parameters) -> Page; the app routes to them."""

    def __init__(self, engine: Engine, where: str, page_size: int = data.PAGE):
        self.engine = engine
        self.where = where
        self.page_size = page_size

    def render(self, template: str, status: int = 200, **context) -> Page:
        html, policy = render.render(
            template, font_face_css=render.font_face(f'url("{FONT_PATH}") format("woff")'),
            csp_options={"font": "'self'", "form_action": "'self'"}, where=self.where, **context,
        )
        return Page(html, policy, status)

    def runs(self, params) -> Page:
        kind = (params.get("kind") or "").strip() or None
        page = data.runs_page(self.engine, limit=self.page_size, before=_int(params.get("before"), "before"), kind=kind)
        return self.render("viewer/runs.html", page=page, kind=kind)

    def run(self, run_id: int, params) -> Page:
        return self.render("viewer/run.html", s=_run_view(self.engine, run_id, params, 2 * self.page_size))

    def generations(self, params) -> Page:
        filters = _filters(params)
        page = data.generations_page(self.engine, filters, limit=self.page_size,
                                     before=_int(params.get("before"), "before"))
        return self.render("viewer/generations.html", page=page, filters=filters, query=filters.as_query())

    def generation(self, gen_id: int, params) -> Page:
        g = data.generation_detail(self.engine, gen_id)
        g["translations"] = [shape.translation_line(t) for t in g["translations"]]
        g["params"] = shape.redact(g.get("params"))
        return self.render("viewer/generation.html", g=g)

    def compare(self, params) -> Page:
        ids = [i for i in (_int(params.get("a"), "a"), _int(params.get("b"), "b")) if i is not None]
        if len(ids) < 2:
            return self.render("viewer/compare.html", comparison=None, a=ids[0] if ids else None)
        runs = [data.run_info(self.engine, i) for i in ids]
        summaries = [data.run_summary(self.engine, i) for i in ids]
        comparison = shape.compare(runs, [s["by_variant"] for s in summaries], [s["models"] for s in summaries])
        return self.render("viewer/compare.html", comparison=comparison, a=ids[0])

    def missing(self, message: str) -> Page:
        return self.render("viewer/error.html", status=404, message=message)


def create_app(engine: Engine, *, where: str = "", allowed_hosts: list[str] | None = None,
               page_size: int = data.PAGE):
    """The Starlette app over a (read-only) engine.

    ``allowed_hosts``: Host headers served (default: loopback names; ``["*"]``: any);
    ``page_size``: runs and generations per page (answers per run page: twice that).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.responses import HTMLResponse, Response
    from starlette.routing import Route

    pages = Pages(engine, where, page_size)

    def respond(page: Page) -> HTMLResponse:
        response = HTMLResponse(page.html, status_code=page.status)
        # The header repeats the page's own policy and forbids framing, which a meta tag cannot.
        response.headers["Content-Security-Policy"] = page.policy + "; frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def route(handler: Callable[..., Page], *keys: str):
        async def endpoint(request):
            from starlette.concurrency import run_in_threadpool

            try:
                ids = [_path_id(request.path_params[k]) for k in keys]
                page = await run_in_threadpool(handler, *ids, request.query_params)
            except NotFoundError as e:
                page = pages.missing(str(e))
            return respond(page)

        return endpoint

    async def font(request):
        from starlette.concurrency import run_in_threadpool

        body = await run_in_threadpool(render.whole_font)  # built once per process, then cached
        return Response(body, media_type="font/woff",
                        headers={"Cache-Control": "max-age=86400", "X-Content-Type-Options": "nosniff"})

    async def not_found(request, exc):
        return respond(pages.missing(f"no page at {request.url.path}"))

    routes = [
        Route("/", route(pages.runs), methods=["GET"]),
        Route("/runs/{run_id}", route(pages.run, "run_id"), methods=["GET"]),
        Route("/generations", route(pages.generations), methods=["GET"]),
        Route("/generations/{gen_id}", route(pages.generation, "gen_id"), methods=["GET"]),
        Route("/compare", route(pages.compare), methods=["GET"]),
        Route(FONT_PATH, font, methods=["GET"]),
    ]
    hosts = allowed_hosts or ["127.0.0.1", "localhost", "[::1]", "::1"]
    return Starlette(routes=routes, exception_handlers={404: not_found},
                     middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])


def _path_id(value: str) -> int:
    try:
        return limits.parse_id(value)
    except ValueError as e:
        raise NotFoundError(str(e)) from None


def served_hosts(host: str, sock: socket.socket) -> list[str]:
    """The Host headers the viewer answers on ``sock``: the address it is bound to, the name it was
    given as ``host``, and ``localhost`` when bound to 127.0.0.1 or ::1 (what that name resolves to).

    Any other Host is refused, so that a page of another site whose name is made to resolve to
    this address (DNS rebinding) cannot read the log.
    """
    bound = sock.getsockname()[0]
    names = [bound, host.strip("[]")]
    if bound in ("127.0.0.1", "::1"):
        names.append("localhost")
    out: list[str] = []
    for name in names:  # an IPv6 address arrives in brackets: Host: [::1]:8765
        for form in ((name, f"[{name}]") if ":" in name else (name,)):
            if form and form not in out:
                out.append(form)
    return out


def bind(host: str, port: int, *, allow_remote: bool = False) -> socket.socket:
    """A listening socket on host:port, or UsageError naming the fix (port in use, remote host)."""
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"{arg('host', host)} would make the log readable from the network; "
            f"keep the default 127.0.0.1, or pass {arg('allow_remote')} to do it anyway"
        )
    if not 0 <= port <= 65535:
        raise UsageError(f"{arg('port')} must be between 0 and 65535, not {port}")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise UsageError(f"cannot use {arg('host', host)}: {e.strerror}; pass an address such as 127.0.0.1") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use on {host}; pass another with {arg('port')} (or {arg('port', 0)} for any free one)") from None
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror}; pass another {arg('host')} or {arg('port')}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(sock: socket.socket, app, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on the bound socket until interrupted (uvicorn, access log off)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready()
    server.run(sockets=[sock])


def require_web_extra() -> None:
    """UsageError with the pip command when the [web] extra is not installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UsageError("hanprompt view needs the web extra; run: pip install 'hanprompt[web]'") from None

