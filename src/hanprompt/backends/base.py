"""The one contract every backend implements, and the values that cross it."""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from pydantic import BaseModel, ConfigDict, model_serializer

from hanprompt import limits
from hanprompt.errors import UsageError, arg, lower_first

Messages = list[dict]  # [{"role": "system" | "user" | "assistant", "content": str}, ...]
OnText = Callable[[str], None]
Request = tuple[Messages, "GenParams"]
OnDone = Callable[[list[tuple[int, "Completion"]]], None]  # (request index, completion) as they end


class GenParams(BaseModel):
    """Sampling parameters, validated; temperature 0 means greedy decoding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: limits.MaxNewTokens = 256
    temperature: limits.Temperature = 0.0
    top_p: limits.TopP = 1.0
    seed: limits.Seed | None = None
    #: generate exactly max_new_tokens, never stopping at EOS (benchmarks, like llama.cpp's
    #: --ignore-eos); left out of dumps while False, so cache keys and logs stay as they were
    ignore_eos: bool = False
    #: a JSON Schema (as JSON text) the answer must follow, where the backend can constrain its
    #: decoding (``Backend.supports_json_schema``: a grammar for gguf, ``response_format`` for
    #: OpenAI-compatible servers); left out of dumps while None, like ``ignore_eos``
    json_schema: str | None = None

    @model_serializer(mode="wrap")
    def _drop_default_ignore_eos(self, handler):
        data = handler(self)
        if not self.ignore_eos:
            data.pop("ignore_eos", None)
        if self.json_schema is None:
            data.pop("json_schema", None)
        return data

    @classmethod
    def build(cls, **values) -> "GenParams":
        """Like the constructor, but a bad value raises UsageError with the fix."""
        from pydantic import ValidationError

        values = {k: v for k, v in values.items() if v is not None}
        try:
            return cls(**values)
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "params"
            flag = arg(key) if key.isidentifier() else key
            if key in limits.RANGES:
                raise UsageError(f"{flag} must be {limits.RANGES[key]}, not {err.get('input')!r}") from e
            raise UsageError(f"{flag}: {lower_first(err['msg'])} (got {err.get('input')!r})") from e

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    """What one generation produced, with its token counts and timings."""

    text: str
    prompt: str  # the exact text the model saw, after the chat template
    input_tokens: int | None  # None: not known (a server that sends no usage, no tokenizer)
    #: the answer's tokens; an end-of-turn token that ended it is not counted, on every backend (as
    #: OpenAI-compatible servers count ``completion_tokens``)
    output_tokens: int
    ttft_s: float
    total_s: float
    finish_reason: str  # "eos" | "length"
    error: str | None = None
    usage_source: str = "tokenizer"  # where the counts come from: "tokenizer" | "server" | "chunks"
    cost: float | None = None  # currency units, from the model's prices per million tokens
    timings: dict = field(default_factory=dict)  # seconds: queue_s, prefill_s, decode_s as known
    #: where this generation ran when the backend has several places (the server that answered)
    placement: dict | None = None
    #: one-line notes for the user raised while answering (a server that answers as another model)
    notices: tuple[str, ...] = ()

    @property
    def tokens_per_s(self) -> float:
        """Decode speed: tokens after the first, over the time after the first token."""
        decode_s = self.total_s - self.ttft_s
        if self.output_tokens > 1 and decode_s > 0:
            return (self.output_tokens - 1) / decode_s
        return self.output_tokens / self.total_s if self.total_s > 0 else 0.0


@dataclass
class LoadInfo:
    """Where and how a model was loaded."""

    load_s: float  # weights and tokenizer, imports excluded
    device: str  # "cpu", "cuda:0", or "cuda:0+cpu" for a split model
    placement: dict = field(default_factory=dict)  # modules per device
    dtype: str = ""
    template: str = "chat"  # "chat" or "plain" when the model has no chat template
    warnings: list[str] = field(default_factory=list)
    import_s: float = 0.0  # importing the backend's libraries (torch, transformers), first load only
    kernels: str = ""  # matrix kernels other than the library's default, e.g. "oneDNN packed linear x211"


class Backend(abc.ABC):
    """A loaded model that turns chat messages into completions."""

    name: ClassVar[str]
    supports_batching: ClassVar[bool] = False
    #: whether ``GenParams.json_schema`` constrains what the backend generates
    supports_json_schema: ClassVar[bool] = False
    #: --max-concurrency's default: rows per batch (hf), requests in flight (openai)
    default_concurrency: ClassVar[int] = 16

    spec: str
    info: LoadInfo

    @property
    def fingerprint(self) -> str:
        """Identifies the weights (a revision, or file sizes and times) for the result cache."""
        return self.spec

    @property
    def context_length(self) -> int:
        """Most tokens the model attends to, prompt and answer together.

        From the model's own configuration (``max_position_embeddings``, GGUF ``context_length``,
        a server's ``max_model_len``); ``limits.DEFAULT_CONTEXT_LENGTH`` (1,000,000) where it
        does not say.
        """
        return limits.DEFAULT_CONTEXT_LENGTH

    def count_tokens(self, prompt: str) -> int | None:
        """Tokens in ``prompt`` (a ``render`` result) as the model will read it; None where a backend
        cannot count before sending (then only the server can refuse a prompt that is too long)."""
        return None

    @abc.abstractmethod
    def render(self, messages: Messages) -> str:
        """The exact prompt text the model will see for ``messages``."""

    @abc.abstractmethod
    def generate(self, messages: Messages, params: GenParams, on_text: OnText | None = None) -> Completion:
        """Generate one completion, calling ``on_text`` with each new piece of text."""

    def generate_batch(self, requests: list[tuple[Messages, GenParams]]) -> list[Completion]:
        """Generate several completions; backends that can batch override this."""
        return [self.generate(m, p) for m, p in requests]

    def close(self) -> None:
        """Free what the backend holds (weights, device memory); this default holds nothing."""

    def generate_many(self, requests: list[Request], *, max_batch: int = 16, on_done: OnDone | None = None,
                      on_notice: Callable[[str], None] | None = None, phases=None) -> list[Completion]:
        """Generate every request, at most ``max_batch`` at once, handing each to ``on_done`` as it ends.

        This default runs ``generate_batch`` on chunks of ``max_batch``; a backend that can
        refill a batch's free slots as rows end (hf) overrides it. ``on_notice`` receives
        one-line notes meant for the user (a batch halved after running out of memory, say);
        ``phases`` (a :class:`hanprompt.timing.Phases`) receives the prefill and decode seconds
        from backends that can tell them apart.
        """
        out: list[Completion] = []
        for start in range(0, len(requests), max(1, max_batch)):
            chunk = self.generate_batch(requests[start:start + max(1, max_batch)])
            if on_done is not None:
                on_done(list(enumerate(chunk, start)))
            out.extend(chunk)
        return out


def validate_messages(messages: Messages) -> Messages:
    if not messages or not any(m.get("role") == "user" for m in messages):
        raise UsageError("no user message: give a prompt")
    for m in messages:
        if m.get("role") not in ("system", "user", "assistant"):
            raise UsageError(f"unknown message role {m.get('role')!r}: use system, user or assistant")
        if m.get("role") == "user" and not str(m.get("content", "")).strip():
            raise UsageError("the prompt is empty: give a question or instruction")
    return messages


def build_options(model: type[BaseModel], backend: str, values: dict) -> BaseModel:
    """Validate a backend's loading options; a bad or foreign one raises UsageError naming the flag."""
    from pydantic import ValidationError

    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        flag = arg(key) if key.isidentifier() else key
        if err["type"] == "extra_forbidden":
            raise UsageError(f"{flag} does not apply to {backend}: models; drop it") from e
        raise UsageError(f"{flag}: {lower_first(err['msg'])} (got {err.get('input')!r})") from e


def canonical(value) -> str:
    """``value`` as the JSON that cells' keys and loaded models' options are compared by (keys
    sorted): two values that cannot be told apart give the same text. A mapping whose keys mix
    numbers and text (``max_memory: {0: 3GiB, cpu: 9GiB}``), which cannot be sorted as they are,
    is sorted by the keys' JSON text."""
    import json

    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    except TypeError:
        return json.dumps(_text_keys(value), sort_keys=True, ensure_ascii=False, default=str)


def _text_keys(value):
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_text_keys(v) for v in value]
    return value
