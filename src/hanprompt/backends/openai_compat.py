"""The ``openai:`` backend: any server speaking the OpenAI chat completions API.

``openai:<model>@<base_url>``, e.g. ``openai:gpt-4o-mini@https://api.openai.com/v1`` or
``openai:Qwen/Qwen2.5-7B-Instruct@http://gpu-box:8000/v1`` (vLLM, llama.cpp, Ollama, ...).
Requests go through the ``openai`` package: streamed, retried with exponential backoff on 429,
5xx, timeouts and connection errors (``max_retries``), each read bounded by ``timeout`` seconds.

The API key is read from the environment variable named by ``api_key_env`` (``OPENAI_API_KEY``
by default) and from nowhere else; it is never stored, logged or printed, and error messages
name the variable, not its value.

Token counts: the server's own (``stream_options.include_usage``) when it sends them
(``usage_source`` = ``server``); otherwise counted with the model's tokenizer when one is known
(the ``tokenizer`` option, or a model name that is a Hugging Face id in the local cache:
``tokenizer``); otherwise the streamed chunks are counted (``chunks``; input tokens unknown).
"""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from hanprompt import limits
from hanprompt.backends import chat
from hanprompt.backends.base import Backend, Completion, GenParams, LoadInfo, Messages, OnText, build_options
from hanprompt.errors import BackendError, HanpromptError, UsageError, one_line

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
    """``model@base_url`` -> (model, base_url without a trailing slash); UsageError when malformed."""
    model, sep, url = name.rpartition("@")
    if not sep or not model.strip():
        raise UsageError(
            f"openai:{name} names no server: write openai:<model>@<base_url>, e.g. "
            "openai:gpt-4o-mini@https://api.openai.com/v1 or openai:my-model@http://127.0.0.1:8000/v1"
        )
    if "://" in model:
        raise UsageError(
            f"openai:{name}: the base URL holds credentials (user:password@); remove them and put the "
            f"key in an environment variable ({DEFAULT_KEY_ENV}, or the one api_key_env names)"
        )
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
    return model.strip(), url.rstrip("/")


def import_openai():
    try:
        import openai
    except ImportError as e:
        raise BackendError(f"the openai: backend needs the openai package, which is not installed: {INSTALL}") from e
    return openai


class OpenAIBackend(Backend):
    """A model behind an OpenAI-compatible server; requests run concurrently in experiments."""

    name = "openai"
    supports_batching = True
    default_concurrency = 8
    supports_json_schema = True  # response_format, in whichever form the server takes

    def __init__(self, model: str, base_url: str, client, opts: OpenAIOptions, info: LoadInfo,
                 context_length: int = UNKNOWN_CONTEXT):
        self.model, self.base_url, self.client, self.opts, self.info = model, base_url, client, opts, info
        self.spec = f"openai:{model}@{base_url}"
        self._context_length = context_length
        self._tokenizer: Any = None
        self._tokenizer_tried = False
        self._schema_forms = list(SCHEMA_FORMS)  # the response_format forms not refused yet
        self._schema_form_works = False  # whether the first of them has been taken once

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, **options) -> "OpenAIBackend":
        """Check the server answers (and accepts the key) by listing its models."""
        opts: OpenAIOptions = build_options(OpenAIOptions, "openai", options)  # type: ignore[assignment]
        model, base_url = split_target(name)
        openai = import_openai()
        key = os.environ.get(opts.api_key_env)
        if not key and opts.api_key_env != DEFAULT_KEY_ENV:
            raise UsageError(
                f"api_key_env names ${opts.api_key_env}, which is not set; export {opts.api_key_env}=<your key>"
            )
        client = openai.OpenAI(
            # Local servers (llama.cpp, vLLM without --api-key) take any key: send a placeholder.
            api_key=key or "no-key",
            base_url=base_url,
            timeout=openai.Timeout(opts.timeout, connect=min(opts.timeout, 10.0)),
            max_retries=opts.max_retries,
        )
        info = LoadInfo(load_s=0.0, device="server", placement={"server": base_url}, dtype="")
        backend = cls(model, base_url, client, opts, info)
        if opts.tokenizer:
            backend.tokenizer()  # a bad tokenizer option fails here, before anything runs
        t0 = time.perf_counter()
        try:
            listed = client.models.list().data
        except openai.NotFoundError:
            listed = None  # some servers have no /models; the first request will tell
        except openai.OpenAIError as e:
            raise backend._error(e, "listing the models of") from None
        info.load_s = time.perf_counter() - t0
        if listed is not None:
            entry = next((m for m in listed if m.id == model), None)
            if entry is None and listed:
                names = ", ".join(m.id for m in listed[:8])
                info.warnings.append(f"{base_url} does not list model {model!r} (it lists: {names}); "
                                     "requests may be refused")
            backend._context_length = _context_length(entry) or UNKNOWN_CONTEXT
        return backend

    @property
    def fingerprint(self) -> str:
        """The base URL and model name: what the result cache is keyed by."""
        return self.spec

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

    def _error(self, e: Exception, doing: str = "asking") -> HanpromptError:
        """One line for an openai exception; the key's value never appears in it."""
        import openai

        where = self.base_url
        n = self.opts.max_retries
        retried = f" after {n} {'retry' if n == 1 else 'retries'}" if n else ""
        env = self.opts.api_key_env
        if isinstance(e, (openai.AuthenticationError, openai.PermissionDeniedError)):
            state = f"the key in ${env} was refused" if os.environ.get(env) else f"${env} is not set"
            return BackendError(
                f"{where} refused the request (HTTP {e.status_code}): {state}; set {env} to a valid key "
                "(or name another variable with api_key_env)"
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
            hint = "; lower --max-concurrency or wait" if e.status_code == 429 else ""
            again = retried if e.status_code == 429 or e.status_code >= 500 else ""
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
        import openai

        request: dict = dict(
            model=self.model, messages=messages, stream=True, stream_options={"include_usage": True},
            max_tokens=params.max_new_tokens, temperature=params.temperature, top_p=params.top_p,
        )
        if params.seed is not None:
            request["seed"] = params.seed
        if params.ignore_eos:  # benchmarks: vLLM and llama.cpp's servers take it; others may refuse it
            request["extra_body"] = {"ignore_eos": True}
        parts: list[str] = []
        chunks = 0
        finish = usage = first = None
        start = time.perf_counter()
        stream = self._create(request, params)
        try:
            with stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
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
                f"the stream from {self.base_url} broke off after {chunks} chunks ({self._scrub(why)}) for "
                f"{self.model}: the answer is incomplete and was not kept"
            ) from None
        except ValueError as e:  # a data line that is not JSON
            raise BackendError(
                f"{self.base_url} sent a malformed stream ({one_line(e, 80)}) for {self.model}; "
                "is this an OpenAI-compatible server?"
            ) from None
        end = time.perf_counter()
        text = "".join(parts)
        if finish is None:
            raise BackendError(
                f"the stream from {self.base_url} ended without a finish reason after {chunks} chunks "
                f"({len(text)} characters) for {self.model}: the answer is incomplete and was not kept"
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
            ttft_s=(first if first is not None else end) - start,
            total_s=end - start,
            finish_reason=_FINISH.get(finish, finish),
            usage_source=source,
            cost=prices.cost(n_in, n_out) if prices and n_in is not None and source != "chunks" else None,
        )

    def _create(self, request: dict, params: GenParams):
        """Send the request; with a JSON schema, in the first ``response_format`` form the server takes.

        OpenAI and vLLM take ``{"type": "json_schema", "json_schema": {...}}``; llama-cpp-python's
        server takes ``{"type": "json_object", "schema": ...}`` and refuses the other (HTTP 500
        naming response_format). Until a form has worked, it is tried without retries; a form
        refused is not tried again for this backend, and a server that takes neither is asked
        without one (the caller checks what comes back).
        """
        import openai

        forms = self._schema_forms if params.json_schema else [None]
        for form in list(forms):
            sent = request if form is None else dict(
                request, response_format=_response_format(form, json.loads(params.json_schema)))
            probing = form is not None and not self._schema_form_works
            try:
                client = self.client.with_options(max_retries=0) if probing else self.client
                stream = client.chat.completions.create(**sent)
            except openai.APIStatusError as e:
                if probing and _refuses_response_format(e):
                    forms.remove(form)  # this server does not take this form: the next one
                    continue
                if not probing:
                    raise self._error(e) from None
                try:  # another failure while probing: the usual retries decide
                    stream = self.client.chat.completions.create(**sent)
                except openai.OpenAIError as again:
                    raise self._error(again) from None
            except openai.OpenAIError as e:
                raise self._error(e) from None
            self._schema_form_works = self._schema_form_works or form is not None
            return stream
        raise AssertionError("unreachable: the last form, None, returns or raises")

    def generate_batch(self, requests: list[tuple[Messages, GenParams]]) -> list[Completion]:
        """All requests in flight at once; a request that fails gives a Completion with ``error`` set."""
        def one(request: tuple[Messages, GenParams]) -> Completion:
            messages, params = request
            try:
                return self.generate(messages, params)
            except HanpromptError as e:
                return Completion("", self.render(messages), None, 0, 0.0, 0.0, "error", error=str(e))

        if len(requests) == 1:
            return [one(requests[0])]
        results: list[Completion | None] = [None] * len(requests)
        crashed: list[BaseException] = []

        def work(i: int) -> None:
            try:
                results[i] = one(requests[i])
            except BaseException as e:  # handed to the calling thread below
                crashed.append(e)

        # Daemon threads, not a pool: on Ctrl-C the caller returns at once instead of waiting for
        # every stream in flight to end (a blocked socket read cannot be cancelled from outside).
        threads = [threading.Thread(target=work, args=(i,), name=f"openai-{i}", daemon=True)
                   for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if crashed:
            raise crashed[0]
        return results  # type: ignore[return-value]


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
