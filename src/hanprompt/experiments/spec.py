"""The experiment file: pydantic models, and a YAML loader whose errors name file, line and key."""
from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from hanprompt import limits
from hanprompt.analysis.speech_level import LEVELS
from hanprompt.backends.base import canonical
from hanprompt.backends.openai_compat import Prices
from hanprompt.errors import InputError, arg, unrendered
from hanprompt.experiments import yamlfile
from hanprompt.prompts import STYLES, template_variables

Scalar = str | int | float | bool
Loc = tuple[str | int, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """A text field as given: an empty value is a mistake, not "no text" (the key can be left out)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("empty value; write the text, or remove the key")
    return value


def _texts(*names: str):
    """A before-validator refusing empty values in the text fields ``names``."""
    return field_validator(*names, mode="before")(lambda cls, value: _text(value))


def _fold_base_urls(value: dict) -> dict:
    """``{spec: openai:MODEL, base_urls: [URL1, URL2]}`` -> ``{spec: openai:MODEL@URL1,URL2}``.

    The list names servers that serve the same weights (see ``backends.openai_compat``); the
    URLs themselves are checked with the spec, by the backend's own parser.
    """
    value = dict(value)
    urls, spec = value.pop("base_urls"), value.get("spec")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ValueError("base_urls is a list of server URLs, e.g. [http://10.0.0.1:8000/v1, http://10.0.0.2:8000/v1]")
    if not isinstance(spec, str) or not spec.strip().startswith("openai:") or "@" in spec:
        raise ValueError("base_urls goes with a spec 'openai:<model>' that names no server itself")
    if any(not u.strip() or "," in u for u in urls):
        raise ValueError("base_urls has an empty entry or one with a comma; give one URL per entry")
    value["spec"] = f"{spec.strip()}@{','.join(u.strip() for u in urls)}"
    return value


class ModelEntry(_Strict):
    """A model spec with its loading options."""

    spec: str
    device: Literal["cpu", "cuda", "mps", "auto"] | None = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] | None = None
    max_memory: str | dict[str | int, str] | None = None
    offload_folder: str | None = None
    quantize: Literal["8bit", "4bit"] | None = None
    trust_remote_code: bool | None = None
    packed_linear: bool | Literal["auto"] | None = None
    # gguf: (llama.cpp)
    gpu_layers: Annotated[int, Field(ge=0)] | Literal["all"] | None = None
    threads: int | None = Field(None, ge=1)
    ctx_size: int | None = Field(None, ge=32)
    # openai: (any OpenAI-compatible server)
    api_key_env: str | None = None
    timeout: float | None = Field(None, gt=0)
    max_retries: int | None = Field(None, ge=0)
    prices: Prices | None = None
    tokenizer: str | None = None

    _nonempty = _texts("spec", "offload_folder")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"spec": value}
        if isinstance(value, dict) and "base_urls" in value:
            return _fold_base_urls(value)
        return value

    @field_validator("max_memory", mode="before")
    @classmethod
    def _gpu_indexes(cls, value: Any) -> Any:
        # YAML keys are text here; accelerate wants GPU indexes as integers.
        if isinstance(value, dict):
            return {int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in value.items()}
        return value

    @property
    def options(self) -> dict:
        """Keyword options for ``backends.registry.load``."""
        return self.model_dump(exclude={"spec"}, exclude_none=True)


class ParamOverrides(_Strict):
    """Generation parameters; any left out come from the level above."""

    max_new_tokens: limits.MaxNewTokens | None = None
    temperature: limits.Temperature | None = None
    top_p: limits.TopP | None = None
    seed: limits.Seed | None = None


CHECK_KEYS = (
    "contains", "icontains", "not-contains", "regex", "min-words", "max-words",
    "max-tokens", "is-json", "language", "max-latency-ms", "speech-level", "consistent-speech-level",
    "llm-rubric", "similar", "python",
)
#: the checks that give a score and take a threshold on it
SCORED_CHECKS = ("llm-rubric", "similar", "python")


class Check(_Strict):
    """One assertion on a response: exactly one check key (``min-share`` goes with ``language``)."""

    contains: str | None = None
    icontains: str | None = None
    not_contains: str | None = Field(None, alias="not-contains")
    regex: str | None = None
    min_words: int | None = Field(None, alias="min-words", ge=0)
    max_words: int | None = Field(None, alias="max-words", ge=0)
    max_tokens: int | None = Field(None, alias="max-tokens", ge=0)
    is_json: bool | None = Field(None, alias="is-json")
    language: Literal["ko"] | None = None
    min_share: float = Field(0.5, alias="min-share", gt=0.0, le=1.0)
    max_latency_ms: float | None = Field(None, alias="max-latency-ms", gt=0)
    speech_level: str | None = Field(None, alias="speech-level")
    consistent_speech_level: Literal[True] | None = Field(None, alias="consistent-speech-level")
    llm_rubric: str | None = Field(None, alias="llm-rubric")
    similar: str | None = None
    python: str | None = None
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    embedder: str | None = None
    judge: str | None = None

    _nonempty = _texts("contains", "icontains", "not_contains", "regex", "embedder", "judge")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            _needs_value(value, value in SCORED_CHECKS)
            return {value: True}  # "- is-json"
        if isinstance(value, dict) and "type" in value:
            return _from_type(value)  # promptfoo's form: {type: contains, value: x}
        return value

    @field_validator("speech_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is not None and value not in LEVELS:
            levels = ", ".join(f"{k} ({v})" for k, v in LEVELS.items())
            raise ValueError(f"unknown speech level {value!r}; use one of {levels}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> "Check":
        given = [k for k in CHECK_KEYS if self.value_of(k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a check needs exactly one of {', '.join(CHECK_KEYS)} (got {', '.join(given) or 'none'}); "
                "write one check per list item"
            )
        name = given[0]
        if self.threshold is not None and name not in SCORED_CHECKS:
            raise ValueError(f"threshold: goes with {', '.join(SCORED_CHECKS)}, not with {name}; remove it")
        for key, owner in (("embedder", "similar"), ("judge", "llm-rubric")):
            if getattr(self, key) is not None and name != owner:
                raise ValueError(f"{key}: goes with {owner} checks, not with {name}; remove it")
        if name in SCORED_CHECKS:
            _needs_value(name, not self.value_of(name).strip())
        if self.regex is not None:
            import re

            try:
                re.compile(self.regex)
            except re.error as e:
                raise ValueError(f"invalid regex {self.regex!r}: {e}; fix the pattern") from e
        return self

    def value_of(self, key: str) -> Any:
        return getattr(self, key.replace("-", "_"))

    @property
    def name(self) -> str:
        return next(k for k in CHECK_KEYS if self.value_of(k) is not None)

    def as_dict(self) -> dict:
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True) or {self.name: True}


_WHAT = {"llm-rubric": "the rubric's text", "similar": "the reference answer", "python": "file://FILE.py:FUNCTION"}


def _needs_value(kind: str, missing: bool) -> None:
    if missing:
        raise ValueError(f"{kind} needs {_WHAT[kind]}; write it as the check's value")


def _from_type(value: dict) -> dict:
    """``{type: speech-level, value: formal, ...}`` as ``{speech-level: formal, ...}``."""
    rest = dict(value)
    kind = rest.pop("type")
    if kind not in CHECK_KEYS:
        near = difflib.get_close_matches(str(kind), CHECK_KEYS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise ValueError(f"unknown check type {kind!r}; {hint}valid types: {', '.join(CHECK_KEYS)}")
    if kind in rest:
        raise ValueError(f"give the check's value once: as value: or as {kind}:, not both")
    _needs_value(kind, kind in SCORED_CHECKS and "value" not in rest)
    return {kind: rest.pop("value", True), **rest}


class FewShotExample(_Strict):
    input: str
    output: str

    _nonempty = _texts("input", "output")


class Message(_Strict):
    role: Literal["system", "user", "assistant"]
    content: str

    _nonempty = _texts("content")


class Variant(_Strict):
    """One way of asking: literal messages, or a built-in style applied to a task."""

    id: str = Field(min_length=1, max_length=200)
    style: str | None = None
    prompt: str | None = None
    system: str | None = None
    messages: list[Message] | None = None
    task: str | None = None
    examples: list[FewShotExample] | None = None
    persona: str | None = None
    tasks: list[Annotated[str, BeforeValidator(_text)]] | None = None
    params: ParamOverrides = ParamOverrides()
    checks: list[Check] = []

    _nonempty = _texts("style", "prompt", "system", "task", "persona")

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        value = _text(value)
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


    @field_validator("style")
    @classmethod
    def _known_style(cls, value: str | None) -> str | None:
        if value is not None and value not in STYLES:
            near = difflib.get_close_matches(value, list(STYLES), n=1)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise ValueError(f"unknown style {value!r}; {hint}valid styles: {', '.join(STYLES)}")
        return value

    @model_validator(mode="after")
    def _one_form(self) -> "Variant":
        if self.style is None:
            extras = [k for k in ("task", "examples", "persona", "tasks") if getattr(self, k) is not None]
            if extras:
                raise ValueError(f"{extras[0]} needs a style; add style: ({', '.join(STYLES)})")
            if (self.prompt is None) == (self.messages is None):
                raise ValueError("give either prompt: (with an optional system:) or messages:, not both or neither")
            if self.messages is not None and self.system is not None:
                raise ValueError("system: goes with prompt:; with messages: add a system message to the list")
            if self.messages is not None and not any(m.role == "user" for m in self.messages):
                raise ValueError("messages: has no user message; add one")
            return self
        if self.prompt is not None or self.messages is not None:
            raise ValueError(f"style {self.style} takes task:, not prompt: or messages:; rename the key to task")
        _, required = STYLES[self.style]
        missing = [k for k in required if not getattr(self, k)]
        if missing:
            raise ValueError(f"style {self.style} needs {missing[0]}:; add it to this variant")
        if self.style == "role" and self.system is not None:
            raise ValueError("style role takes its system message from persona:; drop system:")
        return self

    def texts(self) -> dict[Loc, str]:
        """Every text that may hold ``{{var}}`` templates, by its key path inside the variant."""
        out: dict[Loc, str] = {}
        for key in ("prompt", "system", "task", "persona"):
            if getattr(self, key) is not None:
                out[(key,)] = getattr(self, key)
        for i, m in enumerate(self.messages or []):
            out[("messages", i, "content")] = m.content
        for i, ex in enumerate(self.examples or []):
            out[("examples", i, "input")] = ex.input
            out[("examples", i, "output")] = ex.output
        for i, t in enumerate(self.tasks or []):
            out[("tasks", i)] = t
        return out


class TranslateSpec(_Strict):
    """Translate every response after it is stored (see hanprompt.translate)."""

    to: str
    from_: str = Field("en", alias="from")
    translator: str

    _nonempty = _texts("to", "from_", "translator")


class ExperimentSpec(_Strict):
    """A whole experiment file."""

    name: str | None = None
    description: str | None = None
    models: list[ModelEntry] = []
    params: ParamOverrides = ParamOverrides()
    repeat: limits.Repeat = 1
    vars: dict[str, Scalar | list[Scalar]] = {}
    checks: list[Check] = []
    variants: list[Variant] = []
    translate: TranslateSpec | None = None
    embedder: str | None = None  # the sentence-transformers model of similar checks
    judge: str | None = None  # the model that grades llm-rubric checks: any model spec

    _nonempty = _texts("name", "description", "embedder", "judge")

    @field_validator("vars")
    @classmethod
    def _no_empty_lists(cls, value: dict) -> dict:
        for name, values in value.items():
            if values == []:
                raise ValueError(f"vars.{name} is an empty list, which would drop every prompt using it; give it values")
        return value


class SpecError(InputError):
    """An experiment file that cannot be used; the message names file, line and key."""


class LoadedSpec:
    """A validated experiment file with the line of every key, for later error messages."""

    def __init__(self, spec: ExperimentSpec, path: Path, lines: dict[Loc, int]):
        self.spec, self.path, self.lines = spec, path, lines

    @property
    def name(self) -> str:
        return self.spec.name or self.path.stem

    def where(self, loc: Loc) -> str:
        """``file:line`` of the deepest key of ``loc`` found in the file."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return f"{self.path}:{self.lines[loc[:n]]}"
        return f"{self.path}:1"

    def error(self, loc: Loc, message: str) -> SpecError:
        return SpecError(f"{self.where(loc)}: {_dotted(loc)}: {message}" if loc else f"{self.where(loc)}: {message}")


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _parse_yaml(path: Path, text: str) -> tuple[Any, dict[Loc, int]]:
    try:
        data, lines = yamlfile.load(text, str(path))
    except InputError as e:
        raise SpecError(unrendered(e)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}:1: an experiment file is a mapping with name:, params: and variants:; see examples/")
    return data, lines


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at ``loc`` (to list its valid keys)."""
    cls: type[BaseModel] | None = ExperimentSpec
    for part in loc:
        if isinstance(part, int) or cls is None:
            continue
        field = next((f for n, f in cls.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            continue  # a union member's tag in pydantic's location
        cls = _find_model(field.annotation)
    return cls


def _find_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for part in typing.get_args(tp):
        found = _find_model(part)
        if found is not None:
            return found
    return None


def _keys_of(cls: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in cls.model_fields.items()]


def _is_tag(part: str | int) -> bool:
    """Pydantic puts union members' names ("str", "list[...]") into locations; they are not keys."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or "[" in part)


def _first_error(errors: list[dict]) -> dict:
    """The first error, or the most precise one about the same key (union members each report one)."""
    def loc(err: dict) -> Loc:
        return tuple(p for p in err["loc"] if not _is_tag(p))

    base = loc(errors[0])
    same = [e for e in errors if loc(e)[:len(base)] == base]
    return max(same, key=lambda e: len(loc(e)))


#: file keys that an argument of the run also sets (``run_experiment(repeat=)``, ``hanprompt run --repeat``):
#: an error on the key names the argument too
FLAGS = {("repeat",): arg("repeat"), ("judge",): arg("judge"), ("embedder",): arg("embedder")}


def _pydantic_message(err: dict) -> tuple[Loc, str]:
    loc, message = _pydantic_reason(err)
    flag = FLAGS.get(tuple(loc))
    return loc, f"{message} (or set {flag} for the run)" if flag else message


def _pydantic_reason(err: dict) -> tuple[Loc, str]:
    loc = tuple(p for p in err["loc"] if not _is_tag(p))
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1])
        valid = _keys_of(parent) if parent else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"did you mean {near[0]!r}?" if near else f"valid keys here: {', '.join(valid)}"
        return loc, f"unknown key {loc[-1]!r}; {hint}"
    if kind == "missing":
        return loc, "this key is required; add it"
    if kind in ("value_error", "assertion_error"):
        return loc, msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = err.get("input")
    expected = _EXPECTED.get(kind)
    if expected and value is None:
        return loc, f"empty value where {expected} is expected; write it, or remove the key"
    if expected and isinstance(value, dict):
        return loc, (f"a mapping where {expected} is expected; put text in quotes when it holds ': ' "
                     "or starts with '{', or fix the indentation")
    if expected and isinstance(value, list):
        return loc, (f"a list where {expected} is expected; give one value, in quotes when it starts "
                     "with '[' or '- '")
    return loc, f"{msg} (got {value!r}); fix this value"


_EXPECTED = {
    "string_type": "text", "int_type": "a whole number", "int_parsing": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "literal_error": "one of the listed words",
}


def first_repeat(items: list, key) -> tuple[int, int] | None:
    """(i, j): the first item j whose ``key`` equals an earlier item i's; None when all differ."""
    seen: dict[str, int] = {}
    for j, item in enumerate(items):
        k = key(item)
        if k in seen:
            return seen[k], j
        seen[k] = j
    return None


def _no_repeats(loaded: LoadedSpec) -> None:
    """A repeated vars value or model entry would make the same cell twice: refuse it with its line.

    Values are compared as the cell's key sees them (``{k: 1, j: 2}`` and ``{j: 2, k: 1}`` are one)."""
    spec = loaded.spec
    for name, values in spec.vars.items():
        if isinstance(values, list):
            found = first_repeat(values, canonical)
            if found:
                i, j = found
                raise loaded.error(
                    ("vars", name, j),
                    f"repeated value {values[j]!r} (first at vars.{name}[{i}]); give each value once "
                    "(use repeat: for more answers to the same prompt)",
                )
    found = first_repeat(spec.models, lambda m: canonical(m.model_dump(exclude_none=True)))
    if found:
        i, j = found
        raise loaded.error(("models", j), f"repeats models[{i}] ({spec.models[j].spec}); give each model once")


def _semantic_checks(loaded: LoadedSpec) -> None:
    spec = loaded.spec
    if not spec.variants:
        raise loaded.error(("variants",), "no variants; add at least one, e.g. - {id: v0, prompt: \"...\"}")
    _no_repeats(loaded)
    seen: dict[str, int] = {}
    for i, v in enumerate(spec.variants):
        if v.id in seen:
            raise loaded.error(
                ("variants", i, "id"),
                f"duplicate variant id {v.id!r} (first at variants[{seen[v.id]}]); give each variant its own id",
            )
        seen[v.id] = i
        for key, text in v.texts().items():
            loc = ("variants", i) + key
            try:
                used = template_variables(text)
            except InputError as e:
                raise loaded.error(loc, unrendered(e)) from None
            missing = sorted(used - set(spec.vars))
            if missing:
                declared = f" (defined: {', '.join(spec.vars)})" if spec.vars else ""
                raise loaded.error(
                    loc, f"undefined template variable {missing[0]!r}{declared}; add it under vars:, fix the "
                    "name, or write {{ '{{' }} to send {{ as text"
                )


def load_spec(path: str | Path, encoding: str | None = None) -> LoadedSpec:
    """Read and validate an experiment file; SpecError (file:line: key: problem; fix) if it is bad.

    The file is read by hanprompt's one reader (UTF-8, a byte-order mark, or ``encoding``).
    """
    from hanprompt import textio

    path = Path(path)
    try:
        text = textio.read_text(path, encoding=encoding, what="experiment file", flag="hanprompt run FILE")
    except InputError as e:
        raise SpecError(unrendered(e)) from None
    data, lines = _parse_yaml(path, text)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as e:
        loc, message = _pydantic_message(_first_error(e.errors()))
        raise LoadedSpec(ExperimentSpec(), path, lines).error(loc, message) from None
    loaded = LoadedSpec(spec, path, lines)
    _semantic_checks(loaded)
    return loaded
