"""The ``openai:`` backend: any server speaking the OpenAI chat completions API.

``openai:<model>@<base_url>``, e.g. ``openai:gpt-4o-mini@https://api.openai.com/v1`` or
``openai:Qwen/Qwen2.5-7B-Instruct@http://gpu-box:8000/v1`` (vLLM, llama.cpp, Ollama, ...);
``openai:<model>@<URL1>,<URL2>`` names several servers of the same weights (each request goes
to the one with the fewest requests in flight). Requests go through the ``openai`` package's
asyncio client, streamed, each read bounded by ``timeout`` seconds; they are retried (at most
``max_retries`` times) only where that can help: rate limits (429 without a quota code), 408,
409, 5xx, timeouts and connection errors, after the server's ``Retry-After`` or an exponential
backoff. 400, 401, 403, 404, 422 and a 429 for a spent quota fail at once.

The API key is read from the environment variable named by ``api_key_env`` (``OPENAI_API_KEY``
by default) and from nowhere else; it is never stored, logged or printed, and error messages
name the variable, not its value.

Token counts: the server's own (``stream_options.include_usage``) when it sends them
(``usage_source`` = ``server``); otherwise counted with the model's tokenizer when one is known
(the ``tokenizer`` option, or a model name that is a Hugging Face id in the local cache:
``tokenizer``); otherwise the streamed chunks are counted (``chunks``; input tokens unknown).
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from hanprompt import limits
from hanprompt.backends import chat
from hanprompt.backends.base import (Backend, Completion, GenParams, LoadInfo, Messages, OnDone, OnText, Request,
                                    build_options)
from hanprompt.errors import BackendError, HanpromptError, UsageError, arg, one_line

INSTALL = "pip install 'hanprompt[openai]'"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
#: what a server that does not say how long its context is is assumed to take
UNKNOWN_CONTEXT = limits.DEFAULT_CONTEXT_LENGTH
_FINISH = {"stop": "eos", "length": "length"}


class Prices(BaseModel):
    """Prices per million tokens, in any one currency; they give each generation a ``cost``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, allow_inf_nan=False)
    output: float = Field(ge=0, allow_inf_nan=False)

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Currency units for one generation: tokens x price per million / 10^6."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


class OpenAIOptions(BaseModel):
    """Options of the openai backend; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    api_key_env: str = Field(DEFAULT_KEY_ENV, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout: float = Field(600.0, gt=0)  # seconds to wait for each read from the server
    max_retries: int = Field(3, ge=0)
    prices: Prices | None = None
    tokenizer: str | None = None  # a Hugging Face id or folder, to count tokens the server does not


def split_target(name: str) -> tuple[str, str]:
    """``model@base_url`` -> (model, base_url without a trailing slash); UsageError when malformed.

    Several base URLs (``model@URL1,URL2``) come back joined by commas, each normalised; see
    :func:`split_targets`.
    """
    model, urls = split_targets(name)
    return model, ",".join(urls)


def split_targets(name: str) -> tuple[str, list[str]]:
    """``model@URL1[,URL2...]`` -> (model, [base URLs without a trailing slash]); UsageError when
    malformed, when an entry is empty or not http(s), or when a URL is given twice."""
    model, sep, url_list = name.rpartition("@")
    if not sep or not model.strip():
        missing = "no model before the @" if sep else "no server"
        raise UsageError(
            f"openai:{name} names {missing}: write openai:<model>@<base_url>, e.g. "
            "openai:gpt-4o-mini@https://api.openai.com/v1 or openai:my-model@http://127.0.0.1:8000/v1"
        )
    if "://" in model:
        raise UsageError(
            f"openai:{name}: the base URL holds credentials (user:password@); remove them and put the "
            f"key in an environment variable ({DEFAULT_KEY_ENV}, or the one {arg('api_key_env')} names)"
        )
    urls: list[str] = []
    entries = url_list.split(",")
    for url in entries:
        if not url.strip():
            raise UsageError(
                f"openai:{name}: the list of base URLs has an empty entry; separate URLs with single commas, "
                "e.g. openai:my-model@http://10.0.0.1:8000/v1,http://10.0.0.2:8000/v1"
            )
        url = _check_url(name, url.strip())
        twice = next((u for u in urls if _same_server(u, url)), None)
        if twice is not None:
            said = url if twice == url else f"{url} (the same as {twice})"
            raise UsageError(f"openai:{name}: {said} is listed twice; name each server once")
        urls.append(url)
    return model.strip(), urls


def _check_url(name: str, url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"openai:{name}: {url!r} is not an http(s) URL; write the server's base URL, e.g. "
            "http://127.0.0.1:8000/v1"
        )
    if parts.query or parts.fragment:
        raise UsageError(f"openai:{name}: the base URL {url!r} has a query or fragment; drop the part after ? or #")
    return url.rstrip("/")


def _same_server(a: str, b: str) -> bool:
    """Whether two checked base URLs name the same server: the scheme and host in any case, the
    default port written or not, a trailing slash or not."""
    def key(url: str) -> tuple:
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.hostname, parts.port or {"http": 80, "https": 443}[parts.scheme.lower()],
                parts.path.rstrip("/"))

    return key(a) == key(b)


def import_openai():
    try:
        import openai
    except ImportError as e:
        raise BackendError(f"the openai: backend needs the openai package, which is not installed: {INSTALL}") from e
    return openai


class OpenAIBackend(Backend):
    """A model behind one or several OpenAI-compatible servers.

    Requests are sent by an asyncio client (``openai.AsyncOpenAI``); ``generate_many`` keeps
    ``max_batch`` requests in flight at all times, starting the next one the moment one ends,
    each to the server with the fewest requests in flight.
    """

    name = "openai"
    supports_batching = True
    default_concurrency = 8
    supports_json_schema = True  # response_format, in whichever form the server takes

    def __init__(self, model: str, base_url: str, client, opts: OpenAIOptions, info: LoadInfo,
                 context_length: int = UNKNOWN_CONTEXT):
        self.model, self.base_url, self.client, self.opts, self.info = model, base_url, client, opts, info
        self.base_urls = base_url.split(",")  # one or several servers for the same weights
        self.spec = f"openai:{model}@{base_url}"
        self._context_length = context_length
        self._tokenizer: Any = None
        self._tokenizer_tried = False
        self._schema_forms = list(SCHEMA_FORMS)  # the response_format forms not refused yet
        self._schema_form_works = False  # whether the first of them has been taken once
        self._servers = [_Server(url) for url in self.base_urls]
        self._wrong_model: set[str] = set()  # servers already warned about for another model's name
        self._notices: list[str] = []  # warnings raised while answering, for on_notice

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, **options) -> "OpenAIBackend":
        """Check the servers answer (and accept the key) by listing their models.

        With several servers, one that does not answer is set aside (a warning) and the others
        are used; when none answers, one line names each.
        """
        opts: OpenAIOptions = build_options(OpenAIOptions, "openai", options)  # type: ignore[assignment]
        model, base_urls = split_targets(name)
        openai = import_openai()
        key = os.environ.get(opts.api_key_env)
        if not key and opts.api_key_env != DEFAULT_KEY_ENV:
            raise UsageError(
                f"{arg('api_key_env')} names ${opts.api_key_env}, which is not set; export {opts.api_key_env}=<your key>"
            )
        base_url = ",".join(base_urls)
        client = openai.OpenAI(
            # Local servers (llama.cpp, vLLM without --api-key) take any key: send a placeholder.
            api_key=key or "no-key",
            base_url=base_urls[0],
            timeout=openai.Timeout(opts.timeout, connect=min(opts.timeout, 10.0)),
            max_retries=opts.max_retries,
        )
        info = LoadInfo(load_s=0.0, device="server", placement={"server": base_url}, dtype="")
        backend = cls(model, base_url, client, opts, info)
        if opts.tokenizer:
            backend.tokenizer()  # a bad tokenizer option fails here, before anything runs
        try:
            return cls._check_servers(backend, client, model, info)
        finally:  # the listing client is not used after loading: its connections close now
            client.close()

    @classmethod
    def _check_servers(cls, backend: "OpenAIBackend", client, model: str, info: LoadInfo) -> "OpenAIBackend":
        """List each server's models (see ``load``); warnings go to ``info``."""
        import openai

        t0 = time.perf_counter()
        down: list[tuple[str, HanpromptError]] = []
        for server in backend._servers:
            try:
                listed = client.with_options(base_url=server.url).models.list().data
            except openai.NotFoundError:
                listed = None  # some servers have no /models; the first request will tell
            except (openai.AuthenticationError, openai.PermissionDeniedError) as e:
                raise backend._error(e, "listing the models of", server.url) from None
            except openai.OpenAIError as e:
                if len(backend._servers) == 1:
                    raise backend._error(e, "listing the models of", server.url) from None
                down.append((server.url, backend._error(e, "listing the models of", server.url)))
                server.set_aside(str(down[-1][1]), SET_ASIDE_S)
                continue
            if listed is not None:
                entry = next((m for m in listed if m.id == model), None)
                if entry is None and listed:
                    names = ", ".join(m.id for m in listed[:8])
                    info.warnings.append(f"{server.url} does not list model {model!r} (it lists: {names}); "
                                         "requests may be refused")
                backend._context_length = min(backend._context_length, _context_length(entry) or UNKNOWN_CONTEXT)
        info.load_s = time.perf_counter() - t0
        if down and len(down) == len(backend._servers):
            raise BackendError("no server of " + model + " answers: "
                               + "; ".join(f"{url} ({_reason(e)})" for url, e in down)
                               + "; start them or fix the base URLs")
        for url, e in down:
            info.warnings.append(f"{url} does not answer ({_reason(e)}); it is set aside and the other servers "
                                 "take its requests")
        return backend

    @property
    def fingerprint(self) -> str:
        """What the result cache is keyed by: the base URL and model name for one server; for
        several servers (declared to serve the same weights) the model name alone."""
        return self.spec if len(self.base_urls) == 1 else f"openai:{self.model}"

    @property
    def context_length(self) -> int:
        """The server's own figure (vLLM's ``max_model_len``, say) from /models, else 1,000,000."""
        return self._context_length

    def count_tokens(self, prompt: str) -> int | None:
        """Tokens of a ``render`` result with the model's tokenizer when one is known, else None."""
        counted = self._count(json.loads(prompt), "")
        return counted[0] if counted else None

    # ---- errors -----------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        key = os.environ.get(self.opts.api_key_env)
        return text.replace(key, "***") if key else text

    def _error(self, e: Exception, doing: str = "asking", where: str | None = None,
               retries: int | None = None) -> HanpromptError:
        """One line for an openai exception; the key's value never appears in it."""
        import openai

        where = where or self.base_url
        n = self.opts.max_retries if retries is None else retries
        retried = f" after {n} {'retry' if n == 1 else 'retries'}" if n else ""
        env = self.opts.api_key_env
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            state = f"the key in ${env} was refused" if os.environ.get(env) else f"${env} is not set"
            return BackendError(
                f"{where} refused the request (HTTP {e.status_code}): {state}; set {env} to a valid key "
                f"(or name another variable with {arg('api_key_env')})"
            )
        if isinstance(e, openai.APITimeoutError):
            return BackendError(
                f"no answer from {where} within {self.opts.timeout:g} s{retried} while {doing} {self.model}; "
                "check the server, or raise timeout"
            )
        if isinstance(e, openai.APIConnectionError):
            cause = e.__cause__ or e.__context__
            why = one_line(cause, 120) if cause and str(cause).strip() else "connection failed"
            return BackendError(
                f"cannot reach {where} ({why}){retried} while {doing} {self.model}; start the server or "
                "fix the base URL"
            )
        if isinstance(e, openai.NotFoundError):
            return BackendError(
                f"{where} has no model {self.model!r} or no chat completions endpoint (HTTP 404); check "
                "the model name and that the base URL ends where the API starts (often /v1)"
            )
        if isinstance(e, openai.APIStatusError):
            message = self._scrub(_server_message(e))
            if _out_of_quota(e):
                return BackendError(f"{where} answered HTTP 429 ({message}) while {doing} {self.model}: the "
                                    "account is out of quota or credit; no retry can help, add credit or use "
                                    "another key")
            hint = f"; lower {arg('max_concurrency')} or wait" if e.status_code == 429 else ""
            again = retried if _retryable(e) else ""
            return BackendError(
                f"{where} answered HTTP {e.status_code} ({message}){again} while {doing} {self.model}{hint}"
            )
        return BackendError(f"{where}: {self._scrub(one_line(e, 200))} while {doing} {self.model}")

    # ---- preprocess -------------------------------------------------------------------
    def render(self, messages: Messages) -> str:
        """The messages as sent (the server applies the chat template itself)."""
        return json.dumps(messages, ensure_ascii=False)

    def tokenizer(self):
        """The model's Hugging Face tokenizer when one is known here, else None (loaded once)."""
        if not self._tokenizer_tried:
            self._tokenizer_tried = True
            self._tokenizer = _load_tokenizer(self.opts.tokenizer or self.model, required=bool(self.opts.tokenizer))
        return self._tokenizer

    def _count(self, messages: Messages, text: str) -> tuple[int | None, int, str] | None:
        tok = self.tokenizer()
        if tok is None:
            return None
        if getattr(tok, "chat_template", None):
            prompt = chat.apply_template(
                lambda m: tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True), messages, self.spec
            )
            n_in = len(tok(prompt, add_special_tokens=False)["input_ids"])
        else:
            n_in = len(tok(chat.plain_text(messages))["input_ids"])
        return n_in, len(tok(text, add_special_tokens=False)["input_ids"]), "tokenizer"

    # ---- forward and postprocess -------------------------------------------------------
    def generate(self, messages: Messages, params: GenParams, on_text: OnText | None = None) -> Completion:
        """One request (``ask``): raises BackendError when it fails.

        What the answer showed (a server that answers as another model) is in its ``notices``.
        """
        async def one() -> Completion:
            clients = self._async_clients()
            try:
                return await self._answer(clients, messages, params, on_text, time.perf_counter())
            finally:
                await _close(clients)

        completion = _run(one())
        notices, self._notices[:] = tuple(self._notices), []
        return dataclasses.replace(completion, notices=notices) if notices else completion

    def generate_batch(self, requests: list[tuple[Messages, GenParams]]) -> list[Completion]:
        """All requests in flight at once; a request that fails gives a Completion with ``error`` set."""
        return self.generate_many(requests, max_batch=max(1, len(requests)))

    def generate_many(self, requests: Iterable[Request], *, max_batch: int = 16, on_done: OnDone | None = None,
                      on_notice: Callable[[str], None] | None = None, phases=None) -> list[Completion]:
        """Every request with ``max_batch`` in flight at all times (a continuous window).

        The next request starts the moment one ends; finished ones are handed to ``on_done``
        (in a worker thread, so that storing never stalls the window), all those that ended
        since the last call together. ``requests`` may be any iterable: it is read lazily, one
        request per free slot. With ``on_done`` nothing is kept per request and an empty list
        comes back (memory does not grow with the number of requests); without it, the
        completions in request order. A request that fails gives a Completion with ``error`` set.
        """
        return _run(self._many(iter(requests), max(1, max_batch), on_done, on_notice))

    def _async_clients(self) -> dict[str, Any]:
        """An ``AsyncOpenAI`` client per server, for the event loop about to run (closed after it)."""
        openai = import_openai()
        key = os.environ.get(self.opts.api_key_env) or "no-key"
        timeout = openai.Timeout(self.opts.timeout, connect=min(self.opts.timeout, 10.0))
        return {url: openai.AsyncOpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0)
                for url in self.base_urls}

    async def _many(self, requests: Iterator[Request], window: int, on_done: OnDone | None,
                    on_notice: Callable[[str], None] | None) -> list[Completion]:
        loop = asyncio.get_running_loop()
        clients = self._async_clients()
        kept: dict[int, Completion] = {}
        finished: list[tuple[int, Completion]] = []
        wake = asyncio.Event()
        state = {"workers": window}
        start = time.perf_counter()
        storer_thread = ThreadPoolExecutor(1, thread_name_prefix="openai-store")
        numbered = enumerate(requests)  # one iterator for every worker: the next cell, the moment one ends

        async def worker() -> None:
            try:
                for i, (messages, params) in numbered:
                    try:
                        completion = await self._answer(clients, messages, params, None, start)
                    except HanpromptError as e:
                        completion = Completion("", self.render(messages), None, 0, 0.0, 0.0, "error", error=str(e))
                    finished.append((i, completion))
                    wake.set()
            finally:
                state["workers"] -= 1
                wake.set()

        async def storer() -> None:
            while True:
                await wake.wait()
                wake.clear()
                notices, self._notices[:] = list(self._notices), []
                for text in notices:
                    if on_notice is not None:
                        on_notice(text)
                while finished:
                    items = finished[:]
                    del finished[:len(items)]
                    if on_done is None:
                        kept.update(items)
                    else:  # the window keeps going while these are stored
                        await loop.run_in_executor(storer_thread, on_done, items)
                if state["workers"] == 0 and not finished:
                    return

        tasks = [asyncio.create_task(worker()) for _ in range(window)]
        store = asyncio.create_task(storer())
        try:
            await asyncio.wait([store, *tasks], return_when=asyncio.FIRST_EXCEPTION)
            for t in [store, *tasks]:
                if t.done() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
        finally:
            for t in [store, *tasks]:
                t.cancel()
            await asyncio.gather(store, *tasks, return_exceptions=True)
            storer_thread.shutdown(wait=True)  # a transaction under way ends before anything else
            await _close(clients)
        return [kept[i] for i in sorted(kept)]

    async def _answer(self, clients: dict, messages: Messages, params: GenParams, on_text: OnText | None,
                      queued_at: float) -> Completion:
        """One request, retried where retrying can help, on the least busy server that is not set aside.

        Timings (seconds, in ``Completion.timings``): ``queue_s`` from ``queued_at`` to the first
        send (waiting for a free slot in the window), ``retry_s`` spent on failed attempts and
        the waits between them (``Retry-After`` or backoff), ``ttft_s`` from the send of the
        attempt that answered to its first token, ``decode_s`` from there to the last.
        ``Completion.ttft_s`` and ``total_s`` are those of the answering attempt: retry waits
        are never part of TTFT.
        """
        import openai

        request: dict = dict(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True},
            max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
        )
        if params.seed is not None:
            request["seed"] = params.seed
        if params.ignore_eos:  # benchmarks: vLLM and llama.cpp's servers take it; others may refuse it
            request["extra_body"] = {"ignore_eos": True}
        first_send = time.perf_counter()
        several = len(self._servers) > 1
        attempt = 0
        failed_on: _Server | None = None
        while True:
            server = self._pick(avoid=failed_on)
            if server is None:
                raise BackendError(f"every server of {self.model} is failing: "
                                   + "; ".join(f"{s.url} ({s.why})" for s in self._servers)
                                   + "; start them or fix the base URLs")
            sent_at = time.perf_counter()
            server.in_flight += 1
            try:
                completion = await self._attempt(clients[server.url], server.url, request, params, messages,
                                                 on_text, sent_at)
            except openai.APIError as e:
                if not _retryable(e):
                    raise self._error(e, where=server.url, retries=attempt) from None
                server.failures += 1
                failed_on = server
                if several and server.failures >= SET_ASIDE_AFTER:
                    server.set_aside(_reason(self._error(e, where=server.url, retries=0)), SET_ASIDE_S)
                if attempt >= self.opts.max_retries:
                    raise self._error(e, where=server.url, retries=attempt) from None
                attempt += 1
                await asyncio.sleep(_wait_s(e, attempt))
                continue
            finally:
                server.in_flight -= 1
            server.failures = 0
            completion.timings = {
                **completion.timings,  # the server's own prefill and decode seconds, where it sends them
                "queue_s": round(first_send - queued_at, 6),
                **({"retry_s": round(sent_at - first_send, 6)} if attempt else {}),
                "ttft_s": round(completion.ttft_s, 6),
                "decode_s": round(completion.total_s - completion.ttft_s, 6),
            }
            if several:
                completion.placement = {"server": server.url}
            return completion

    def _pick(self, avoid: "_Server | None" = None) -> "_Server | None":
        """The server with the fewest requests in flight, of those not set aside (None: all are);
        a retry goes to another server than the one that just failed it, when there is one."""
        now = time.monotonic()
        ready = [s for s in self._servers if s.aside_until <= now]
        others = [s for s in ready if s is not avoid]
        return min(others or ready, key=lambda s: s.in_flight) if ready else None

    async def _attempt(self, client, url: str, request: dict, params: GenParams, messages: Messages,
                       on_text: OnText | None, sent_at: float) -> Completion:
        """Send once and read the stream to its end; an APIError before the first chunk may be retried,
        a stream that breaks off after it is a BackendError (the answer may have cost tokens)."""
        import openai

        parts: list[str] = []
        chunks = 0
        finish = usage = first = None
        server_timings: dict = {}
        stream = await self._create(client, url, request, params)
        try:
            async with stream:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    server_timings = _server_timings(chunk) or server_timings
                    # OpenAI answers for an alias with a dated snapshot of it (gpt-4o-mini -> gpt-4o-mini-2024-07-18)
                    if chunk.model and not chunk.model.startswith(self.model) and url not in self._wrong_model:
                        self._wrong_model.add(url)
                        self._notices.append(f"{url} answers as model {chunk.model!r}, not {self.model!r}: "
                                             "check that it serves the weights you asked for")
                    for choice in chunk.choices:
                        piece = choice.delta.content if choice.delta is not None else None
                        if piece:
                            if first is None:
                                first = time.perf_counter()
                            chunks += 1
                            parts.append(piece)
                            if on_text is not None:
                                on_text(piece)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except openai.OpenAIError as e:  # the connection lost or timed out mid-stream, or an error event
            cause = e.__cause__ or e
            why = one_line(cause, 120)
            raise BackendError(
                f"the stream from {url} broke off after {chunks} chunks ({self._scrub(why)}) for "
                f"{self.model}: the answer is incomplete and was not kept"
            ) from None
        except ValueError as e:  # a data line that is not JSON
            raise BackendError(
                f"{url} sent a malformed stream ({one_line(e, 80)}) for {self.model}; "
                "is this an OpenAI-compatible server?"
            ) from None
        end = time.perf_counter()
        text = "".join(parts)
        if finish is None:
            raise BackendError(
                f"the stream from {url} ended without a finish reason after {chunks} chunks "
                f"({len(text)} characters) for {self.model}: the answer is incomplete and was not kept "
                "(a llama_cpp.server started without --interrupt_requests False cuts streams off when a new "
                "request arrives)"
            )
        counted = None
        if usage is not None and usage.completion_tokens is not None:
            counted = (usage.prompt_tokens, usage.completion_tokens, "server")
        counted = counted or self._count(messages, text) or (None, chunks, "chunks")
        n_in, n_out, source = counted
        prices = self.opts.prices
        return Completion(
            text=text,
            prompt=self.render(messages),
            input_tokens=n_in,
            output_tokens=n_out,
            ttft_s=(first if first is not None else end) - sent_at,
            total_s=end - sent_at,
            finish_reason=_FINISH.get(finish, finish),
            usage_source=source,
            cost=prices.cost(n_in, n_out) if prices and n_in is not None and source != "chunks" else None,
            timings=server_timings,
        )

    async def _create(self, client, url: str, request: dict, params: GenParams):
        """Send the request; with a JSON schema, in the first ``response_format`` form the server takes.

        OpenAI and vLLM take ``{"type": "json_schema", "json_schema": {...}}``; llama-cpp-python's
        server takes ``{"type": "json_object", "schema": ...}`` and refuses the other (HTTP 500
        naming response_format). A form refused is not tried again for this backend, and a server
        that takes neither is asked without one (the caller checks what comes back). Other
        errors are raised as they are, for ``_answer`` to retry or report.
        """
        import openai

        forms = self._schema_forms if params.json_schema else [None]
        for form in list(forms):
            sent = request if form is None else dict(
                request, response_format=_response_format(form, json.loads(params.json_schema)))
            try:
                stream = await client.chat.completions.create(**sent)
            except openai.APIStatusError as e:
                if form is not None and not self._schema_form_works and _refuses_response_format(e):
                    if form in forms:
                        forms.remove(form)  # this server does not take this form: the next one
                    continue
                raise
            self._schema_form_works = self._schema_form_works or form is not None
            return stream
        raise AssertionError("unreachable: the last form, None, returns or raises")


def _server_timings(chunk) -> dict:
    """The server's own prefill and decode seconds, where its chunk carries them (llama.cpp's server
    sends ``timings: {prompt_ms, predicted_ms, ...}`` with its last chunk): ``server_prefill_s``,
    ``server_decode_s``; {} when it sends none."""
    extra = getattr(chunk, "model_extra", None) or {}
    timings = extra.get("timings")
    if not isinstance(timings, dict):
        return {}
    out = {}
    for key, name in (("prompt_ms", "server_prefill_s"), ("predicted_ms", "server_decode_s")):
        value = timings.get(key)
        if isinstance(value, (int, float)) and value >= 0:
            out[name] = round(value / 1000, 6)
    return out


@dataclass
class _Server:
    """One base URL of a model: requests in flight, consecutive failures, set aside until when."""

    url: str
    in_flight: int = 0
    failures: int = 0
    aside_until: float = 0.0  # time.monotonic()
    why: str = ""

    def set_aside(self, why: str, seconds: float) -> None:
        self.aside_until, self.why, self.failures = time.monotonic() + seconds, why, 0


#: consecutive failures (after which a server of several is set aside) and for how long, seconds
SET_ASIDE_AFTER = 3
SET_ASIDE_S = 30.0
#: backoff between retries without Retry-After: 0.5 s doubled per attempt, at most 8 s; Retry-After at most 60 s
BACKOFF_S, BACKOFF_MAX_S, RETRY_AFTER_MAX_S = 0.5, 8.0, 60.0
_QUOTA_WORDS = ("insufficient_quota", "quota", "billing", "credit")


def _run(coroutine):
    """``asyncio.run``, or in a thread of its own where this thread already runs an event loop
    (a notebook, an async application calling the library)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="openai-loop") as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _close(clients: dict) -> None:
    for c in clients.values():
        await c.close()


def _reason(e: BaseException) -> str:
    return str(e).split(" while ")[0]


def _out_of_quota(e) -> bool:
    """A 429 that means no credit or quota (OpenAI's ``insufficient_quota``), not a rate limit."""
    if getattr(e, "status_code", None) != 429:
        return False
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
    fields = [body.get(k) for k in ("code", "type")] if isinstance(body, dict) else []
    text = " ".join(str(f) for f in fields if f).lower()
    return any(w in text for w in _QUOTA_WORDS)


def _retryable(e) -> bool:
    """Whether another attempt can help: rate limits (429 without a quota code), 408, 409, 5xx, timeouts and
    dropped connections; never 400, 401, 403, 404, 422 or an exhausted quota."""
    import openai

    if isinstance(e, (openai.APITimeoutError, openai.APIConnectionError)):
        return True
    status = getattr(e, "status_code", None)
    if status is None:
        return False
    if status == 429:
        return not _out_of_quota(e)
    return status in (408, 409) or status >= 500


def _wait_s(e, attempt: int) -> float:
    """Seconds before attempt ``attempt`` (1, 2, ...): the server's ``Retry-After`` (or
    ``retry-after-ms``) when it gives one, else 0.5 s x 2^(attempt-1), jittered, at most 8 s;
    none before the first retry of a dropped connection."""
    import random
    from email.utils import parsedate_to_datetime

    import openai

    if attempt == 1 and isinstance(e, openai.APIConnectionError) and not isinstance(e, openai.APITimeoutError):
        return 0.0  # most often a kept-alive connection the server had closed: a new one at once
    headers = getattr(getattr(e, "response", None), "headers", None) or {}
    try:
        if headers.get("retry-after-ms") is not None:
            return min(RETRY_AFTER_MAX_S, max(0.0, float(headers["retry-after-ms"]) / 1000))
        value = headers.get("retry-after")
        if value is not None:
            try:
                return min(RETRY_AFTER_MAX_S, max(0.0, float(value)))
            except ValueError:
                when = parsedate_to_datetime(value)
                return min(RETRY_AFTER_MAX_S, max(0.0, when.timestamp() - time.time()))
    except (TypeError, ValueError):
        pass
    return min(BACKOFF_MAX_S, BACKOFF_S * 2 ** (attempt - 1)) * random.uniform(0.75, 1.0)


SCHEMA_FORMS = ("json_schema", "json_object", None)


def _refuses_response_format(e) -> bool:
    """An error that says the server does not take this response_format (400, 422, or 500 on some)."""
    body = getattr(e, "body", None)
    text = json.dumps(body, default=str) if body is not None else str(e)
    return e.status_code in (400, 422, 500) and "response_format" in text.lower()


def _response_format(form: str, schema: dict) -> dict:
    if form == "json_schema":  # OpenAI's structured outputs, vLLM
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
    return {"type": "json_object", "schema": schema}  # llama-cpp-python's server


def _context_length(entry) -> int | None:
    """The context a /models entry declares (vLLM: max_model_len; others: similar names)."""
    if entry is None:
        return None
    extra = entry.model_dump() if hasattr(entry, "model_dump") else {}
    for key in ("max_model_len", "context_length", "context_window", "max_context_length"):
        value = extra.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _server_message(e) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        if isinstance(body, dict) and str(body.get("message") or "").strip():
            return one_line(BackendError(str(body["message"])), 160)
    message = str(getattr(e, "message", "") or "")
    return one_line(BackendError(message), 160) if message.strip() else type(e).__name__


def _load_tokenizer(name: str, required: bool):
    """A Hugging Face tokenizer from a folder or the local cache; None when there is none here."""
    from pathlib import Path

    from hanprompt.errors import ModelNotFound

    local = Path(name).expanduser()
    if not required and not local.exists() and not _in_hub_cache(name):
        return None  # a server's own model name ("gpt-4o-mini"): no need to import transformers
    try:
        import transformers
        from transformers import AutoTokenizer

        transformers.utils.logging.set_verbosity_error()
        source = str(local) if local.exists() else name
        return AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as e:
        if required:
            raise ModelNotFound(
                f"tokenizer {name!r} cannot be loaded ({one_line(e, 100)}); give a local folder "
                "or a hub id in the Hugging Face cache"
            ) from e
        return None



def _in_hub_cache(repo_id: str) -> bool:
    """Whether the Hugging Face cache holds a tokenizer for ``repo_id`` (cheap: no transformers)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return any(isinstance(try_to_load_from_cache(repo_id, f), str)
                   for f in ("tokenizer.json", "tokenizer_config.json"))
    except ValueError:  # not a valid repo id
        return False
