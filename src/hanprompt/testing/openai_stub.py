"""A small OpenAI-compatible chat server for tests: usage reporting and the ways servers fail.

Real HTTP on 127.0.0.1 (the standard library's threading server), speaking the chat completions
streaming protocol (server-sent events). The requested model name picks the behaviour:

- ``echo`` (any other name too): streams ``answer: <the last user message>`` one word per
  chunk, then a chunk with ``finish_reason: stop``, then, when the request asks with
  ``stream_options.include_usage``, a usage chunk (tokens counted as whitespace-separated words).
- ``flaky``: HTTP 500 for the first request, then behaves like ``echo``.
- ``busy``: HTTP 429 for the first request (with ``Retry-After: <retry_after>``, 0 by default),
  then like ``echo``.
- ``quota``: HTTP 429 with OpenAI's ``insufficient_quota`` code, always (no retry can help).
- ``denied``: HTTP 403; ``invalid``: HTTP 400; ``broken``: HTTP 500, always.
- ``impostor``: like ``echo``, but the chunks name another model (``someone-else``).
- ``slow``: waits ``slow_s`` seconds before answering (longer than a client's short timeout).
- ``malformed``: one chunk of invalid JSON.
- ``cut``: two content chunks, then the connection closes: no finish reason, no ``[DONE]``.
- ``nofinish``: content chunks and ``[DONE]``, but no finish reason.
- ``onechunk``: like ``echo``, but the whole answer in one content chunk (a server that buffers).
- ``scripted``: answers, in one chunk, the first reply of ``replies`` (a list of ``(needle, reply)``
  the test fills) whose needle occurs in the request's messages, and removes it from the list.

A request whose last user message holds the word ``HOLD`` waits for ``release`` (an Event)
before it answers, at most 60 s. ``started`` and ``ended`` list ``(model, first words of the last user message)`` as requests
begin and end, in order. With ``usage=False`` the server ignores ``include_usage``, as llama.cpp's Python server does.
With ``api_key`` set, requests without ``Authorization: Bearer <api_key>`` get HTTP 401.
``delay_s`` spaces the chunks, so that concurrent requests overlap; ``peak`` is the most
requests ever in flight at once, ``requests`` counts requests per model, ``response_formats``
lists each request's ``response_format``.
"""
from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many connections opened at once (a window of requests) wait, never time out

    def __init__(self, api_key: str | None = None, delay_s: float = 0.0, slow_s: float = 5.0, usage: bool = True,
                 retry_after: str = "0", port: int = 0):
        super().__init__(("127.0.0.1", port), _Handler)
        self.api_key, self.delay_s, self.slow_s, self.usage = api_key, delay_s, slow_s, usage
        self.retry_after = retry_after
        self.release = threading.Event()
        self.gone = False
        self.started: list[tuple[str, str]] = []
        self.ended: list[tuple[str, str]] = []
        self.requests: Counter[str] = Counter()
        self.response_formats: list[dict | None] = []  # each request's response_format, in order
        self.replies: list[tuple[str, str]] = []  # (needle, reply): what model "scripted" answers
        self.auth_headers: list[str | None] = []
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def handle_error(self, request, client_address) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):  # a client that left: fine
            super().handle_error(request, client_address)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> "StubServer":
        self._thread = threading.Thread(target=self.serve_forever, name="openai-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.gone = True  # connections kept alive get no more answers: the server is down for every client
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "StubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _chunk(model: str, content: str | None = None, finish: str | None = None) -> dict:
    delta = {"content": content} if content is not None else {}
    return {
        "id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class _Handler(BaseHTTPRequestHandler):
    server: StubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    # ---- helpers ------------------------------------------------------------------------
    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str, headers: dict | None = None) -> None:
        self._json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization")
        self.server.auth_headers.append(header)
        if self.server.api_key is None or header == f"Bearer {self.server.api_key}":
            return True
        self._error(401, "Incorrect API key provided.", "invalid_request_error")
        return False

    def _event(self, data: str) -> None:
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def _done(self) -> None:
        """Leave the in-flight count before the client can see the end of the answer."""
        if self._counted:
            self._counted = False
            with self.server.lock:
                self.server.in_flight -= 1
                self.server.ended.append(self._label)

    def _end(self) -> None:
        self._done()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ---- endpoints ----------------------------------------------------------------------
    def do_GET(self) -> None:
        try:
            if not self._authorized():
                return
            if self.path.rstrip("/").endswith("/models"):
                models = ["echo", "flaky", "busy", "slow", "malformed", "cut", "nofinish", "onechunk", "scripted",
                          "quota", "denied", "invalid", "broken", "impostor"]
                self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "stub"}
                                                            for m in models]})
            else:
                self._error(404, f"no route {self.path}", "not_found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        if self.server.gone:  # stopped: drop the request and the connection, as a dead server would
            self.close_connection = True
            return
        with self.server.lock:
            self.server.in_flight += 1
            self.server.peak = max(self.server.peak, self.server.in_flight)
        self._counted = True
        self._label = ("", "")
        try:
            self._post()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout): nothing to answer
        finally:
            self._done()

    def _post(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self._authorized():
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._error(404, f"no route {self.path}", "not_found")
            return
        model = body.get("model", "echo")
        user = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        self._label = (model, " ".join((user[-1].split() if user else [])[:2]))
        with self.server.lock:
            self.server.started.append(self._label)
            self.server.requests[model] += 1
            self.server.response_formats.append(body.get("response_format"))
            count = self.server.requests[model]
        if model == "flaky" and count == 1:
            self._error(500, "the stub fails its first request", "server_error")
            return
        if model == "busy" and count == 1:
            self._error(429, "slow down", "rate_limit_error", {"Retry-After": self.server.retry_after})
            return
        if model == "quota":
            self._json(429, {"error": {"message": "You exceeded your current quota.", "type": "insufficient_quota",
                                       "code": "insufficient_quota"}})
            return
        failing = {"denied": (403, "not allowed"), "invalid": (400, "bad request"), "broken": (500, "always down")}
        if model in failing:
            self._error(failing[model][0], failing[model][1], "error")
            return
        if model == "slow":
            time.sleep(self.server.slow_s)
        if user and "HOLD" in user[-1].split():
            self.server.release.wait(timeout=60)
        words = ["answer:"] + (user[-1].split() if user else [])
        words = words[: body.get("max_tokens") or len(words)]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if model == "malformed":
            self._event('{"id": "chatcmpl-stub", "choices": [{"delta": {"content": "x"')
            self._end()
            return
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        if model == "scripted":
            said = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
            with self.server.lock:
                i = next(i for i, (needle, _) in enumerate(self.server.replies) if needle in said)
                pieces = [self.server.replies.pop(i)[1]]
        if model == "impostor":
            model = "someone-else"
        if model == "cut":
            for p in pieces[:2]:
                self._event(json.dumps(_chunk(model, p)))
            self._done()
            self.close_connection = True  # the connection ends mid-stream
            return
        self._event(json.dumps(_chunk(model, "")))  # many servers open with an empty delta
        for p in (["".join(pieces)] if model == "onechunk" else pieces):
            self._event(json.dumps(_chunk(model, p)))
        finished = len(pieces) < (body.get("max_tokens") or 10**9)
        if model != "nofinish":
            self._event(json.dumps(_chunk(model, finish="stop" if finished else "length")))
        if self.server.usage and (body.get("stream_options") or {}).get("include_usage"):
            prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
            usage = {"prompt_tokens": prompt_words, "completion_tokens": len(pieces),
                     "total_tokens": prompt_words + len(pieces)}
            self._event(json.dumps(dict(_chunk(model), choices=[], usage=usage)))
        self._done()
        self._event("[DONE]")
        self._end()


if __name__ == "__main__":  # python -m hanprompt.testing.openai_stub: serve until Ctrl-C
    server = StubServer().start()
    print(server.base_url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
