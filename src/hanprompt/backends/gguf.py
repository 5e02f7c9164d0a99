"""The GGUF backend: a llama.cpp model file through llama-cpp-python.

``gguf:PATH.gguf`` (or ``gguf:ORG/REPO/FILE.gguf``, fetched from the Hugging Face hub), with
``--gpu-layers N|all``, ``--threads N`` and ``--ctx-size N``. Without ``threads``, llama.cpp
generates and processes prompts on :func:`default_threads` CPU threads (half the CPUs, at least
one: a shared machine keeps room for others). llama.cpp's own messages (loading, warnings) go to
the ``hanprompt.llama_cpp`` logger at DEBUG level, never straight to the terminal; the CLI shows
them with ``--debug``. The chat template comes from the
file's ``tokenizer.chat_template`` and is applied by the rules of ``hanprompt.backends.chat``,
like the hf backend's; token counts come from the model's own vocabulary.

Sampling is defined by the generation parameters alone: temperature 0 is greedy; otherwise
temperature and top-p, with llama.cpp's other samplers (top-k, min-p, repeat penalty) off.
"""
from __future__ import annotations

import codecs
import functools
import hashlib
import logging
import random
import re
import time
import weakref
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hanprompt.backends import chat
from hanprompt.backends.base import Backend, Completion, GenParams, LoadInfo, Messages, OnText, build_options
from hanprompt.backends.context import overflow_error
from hanprompt.errors import BackendError, DeviceError, ModelNotFound, UsageError, arg, note, one_line

INSTALL = "pip install 'hanprompt[gguf]'"
INSTALL_GPU = "CMAKE_ARGS=\"-DGGML_CUDA=on\" pip install --force-reinstall --no-cache-dir llama-cpp-python"
#: the context used when neither --ctx-size nor a shorter trained context says otherwise: long
#: trained contexts (32k, 128k) would reserve gigabytes of KV cache that a prompt lab rarely needs
DEFAULT_MAX_CTX = 4096
_HUB_FILE = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)/(?P<file>[^\\]+\.gguf)$", re.I)


class GGUFOptions(BaseModel):
    """Loading options of the gguf backend; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    gpu_layers: int | Literal["all"] = Field(0, description="layers to offload to the GPU")
    threads: int | None = Field(None, ge=1)
    ctx_size: int | None = Field(None, ge=32)

    @field_validator("gpu_layers")
    @classmethod
    def _not_negative(cls, value):
        if isinstance(value, int) and value < 0:
            raise ValueError("give 0 or more layers, or 'all'")
        return value


def parse_gpu_layers(text: str) -> int | str:
    """``gpu_layers`` as text (``--gpu-layers`` on the command line): a count, or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{arg('gpu_layers')}: {text!r} is neither a number of layers nor 'all'") from None
    if value < 0:
        raise UsageError(f"{arg('gpu_layers')}: {value} is negative; give 0 or more, or 'all'")
    return value


def import_llama_cpp():
    """The ``llama_cpp`` module, or BackendError with the install line; llama.cpp's messages are
    routed to the log (:func:`route_native_logs`) once it is imported."""
    try:
        import llama_cpp
    except ImportError as e:
        raise BackendError(
            f"the gguf: backend needs llama-cpp-python, which is not installed: {INSTALL} "
            f"(for an NVIDIA GPU: {INSTALL_GPU})"
        ) from e
    route_native_logs(llama_cpp)
    return llama_cpp


#: where llama.cpp's own messages go (DEBUG level); the CLI prints them only with --debug
NATIVE_LOG = logging.getLogger("hanprompt.llama_cpp")
_native_callback = None  # the ctypes callback, kept alive as long as llama.cpp may call it
_native_errors: list[str] = []  # llama.cpp's first error lines since the last native_error()
#: llama.cpp's messages held back while llama-cpp-python points stderr at /dev/null (None: log at once)
_held: list[str] | None = None
#: ggml.h's enum ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues a line)
_GGML_LOG_ERROR, _GGML_LOG_CONT = 4, 5


def route_native_logs(llama_cpp) -> None:
    """Send every message of llama.cpp (loading chatter, warnings, errors) to :data:`NATIVE_LOG`
    at DEBUG level instead of stderr.

    llama-cpp-python's own callback prints the messages logged at llama.cpp's "none" level, and
    its warnings (which it takes for errors: it maps an older numbering of ggml's levels), on
    stderr even with ``verbose=False``; this one replaces it. Failures that
    matter still reach the user, in the exceptions the loader raises (with llama.cpp's first
    error line: :func:`native_error`).
    """
    global _native_callback
    if _native_callback is not None:
        return
    pending: list[str] = []
    error = [False]  # whether the line being assembled is an error

    def forward(level: int, text: bytes, user_data) -> None:  # lines may come in pieces
        try:
            if level != _GGML_LOG_CONT and not pending:
                error[0] = level == _GGML_LOG_ERROR
            pending.append(text.decode("utf-8", errors="replace") if text else "")
            if pending[-1].endswith("\n"):
                line = "".join(pending).strip()
                pending.clear()
                if line:
                    if _held is not None:
                        _held.append(line)
                    else:
                        NATIVE_LOG.debug("%s", line)
                    if error[0] and len(_native_errors) < 8:
                        _native_errors.append(line)
        except Exception:  # a callback from C must never raise
            pending.clear()

    import ctypes

    _native_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_native_callback, ctypes.c_void_p(0))


def native_error() -> str:
    """llama.cpp's first error line since the previous call, the cause the later ones repeat
    (``""`` when it logged none), for the message of a load that failed; the list is emptied."""
    first = _native_errors[0] if _native_errors else ""
    _native_errors.clear()
    return first[:200]


def default_threads() -> int:
    """llama.cpp's CPU threads, for generation (``n_threads``) and prompt processing
    (``n_threads_batch``) alike, when ``threads`` is not given: half the CPUs this process may
    run on (its affinity mask), at least 1.

    llama-cpp-python's own defaults are half the CPUs for generation but every CPU for prompt
    processing, which on a busy machine makes each prompt wait for the slowest core.
    """
    from hanprompt.bench.bandwidth import cpu_threads

    return max(1, cpu_threads() // 2)


def resolve_file(name: str) -> tuple[Path, str | None]:
    """The local GGUF file for ``name`` and, when it came from the hub, ``repo/file``.

    Raises ModelNotFound when there is no such file (or no such hub file here).
    """
    from hanprompt.backends import embedded

    if embedded.is_alias(name) and not Path(name).exists():
        return embedded.path(name), None
    path = Path(name).expanduser()
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.gguf"))
        hint = f"; it holds {', '.join(found[:5])}" if found else "; it holds no .gguf file"
        raise ModelNotFound(f"{name} is a folder, not a GGUF file: pass the .gguf file itself{hint}")
    if path.is_file():
        return path, None
    hub = _HUB_FILE.match(name)
    if hub and not name.startswith((".", "/", "~")):
        return _download(hub["repo"], hub["file"]), name
    raise ModelNotFound(
        f"GGUF file {name} does not exist; pass gguf:PATH to a .gguf file, or gguf:ORG/REPO/FILE.gguf "
        "for a file on the Hugging Face hub"
    )


def _download(repo: str, filename: str) -> Path:
    import os

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        try:  # the cache first: no network round trip for a file already downloaded
            return Path(hf_hub_download(repo, filename, local_files_only=True))
        except LocalEntryNotFoundError:
            if os.environ.get("HF_HUB_OFFLINE") == "1":
                raise
            return Path(hf_hub_download(repo, filename))
    except (OSError, HfHubHTTPError, ValueError) as e:
        raise ModelNotFound(
            f"{repo}/{filename} is neither in the Hugging Face cache nor downloadable here "
            f"({one_line(e, 120)}); download it where there is network access and pass "
            "gguf:PATH to the file"
        ) from e


def check_magic(path: Path) -> None:
    """Raise ModelNotFound unless ``path`` starts with the GGUF magic bytes."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ModelNotFound(f"cannot read {path}: {e.strerror}; check the file's permissions") from e
    if magic != b"GGUF":
        raise ModelNotFound(
            f"{path} is not a GGUF file (it does not start with the bytes 'GGUF'); convert the model "
            "with llama.cpp's convert_hf_to_gguf.py, or use hf:PATH for a Hugging Face folder"
        )


class _Utf8Stream:
    """Token bytes to text pieces; a character split over tokens (Hangul's 3 bytes) waits whole."""

    def __init__(self, on_text: OnText | None):
        self.on_text = on_text
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.parts: list[str] = []

    def feed(self, data: bytes, final: bool = False) -> None:
        piece = self.decoder.decode(data, final=final)
        if piece:
            self.parts.append(piece)
            if self.on_text is not None:
                self.on_text(piece)

    @property
    def text(self) -> str:
        return "".join(self.parts)


class GGUFBackend(Backend):
    """A GGUF model loaded by llama.cpp; one sequence at a time."""

    name = "gguf"
    default_concurrency = 1
    supports_json_schema = True  # through llama.cpp's grammar sampler

    def __init__(self, spec: str, llm, info: LoadInfo, path: Path, template: str | None, tokens: dict,
                 trained_context: int | None = None):
        self.spec, self.llm, self.info, self.path = spec, llm, info, path
        self.template, self.special_tokens = template, tokens
        self.trained_context = trained_context  # from the file's metadata
        self._fingerprint: str | None = None
        # Free llama.cpp's memory with the backend, or at exit while ctypes can still do it
        # (Llama.__del__ during interpreter teardown fails on half-unloaded modules).
        weakref.finalize(self, llm.close)

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def load(cls, name: str, **options) -> "GGUFBackend":
        opts: GGUFOptions = build_options(GGUFOptions, "gguf", options)  # type: ignore[assignment]
        path, hub = resolve_file(name)
        check_magic(path)
        llama_cpp = import_llama_cpp()
        if opts.gpu_layers and not llama_cpp.llama_supports_gpu_offload():
            raise DeviceError(
                f"{arg('gpu_layers', opts.gpu_layers)}: this llama-cpp-python build has no GPU support (or no "
                f"GPU is present); drop {arg('gpu_layers')}, or on a machine with an NVIDIA GPU: {INSTALL_GPU}"
            )
        t0 = time.perf_counter()
        meta = read_metadata(path)  # first, to size the context
        arch = meta.get("general.architecture", "")
        trained = _number(meta, f"{arch}.context_length", 0)
        n_ctx = opts.ctx_size or min(trained or DEFAULT_MAX_CTX, DEFAULT_MAX_CTX)
        n_layers = _number(meta, f"{arch}.block_count", 0)
        gpu = n_layers + 1 if opts.gpu_layers == "all" else min(int(opts.gpu_layers), n_layers + 1)
        threads = opts.threads or default_threads()
        kwargs: dict = {"n_ctx": n_ctx, "n_gpu_layers": -1 if opts.gpu_layers == "all" else gpu,
                        "n_threads": threads, "n_threads_batch": threads}
        from hanprompt.backends import llama_probe  # quantized weights on a build that traps here: one line

        if not gpu:  # on the CPU the KV cache is allocated in RAM when the context opens
            _check_kv_fits(meta, n_ctx, path, trained)
        ftype = _number(meta, "general.file_type", -1)
        llama_probe.ensure_runs(path, ftype, _ftype_name(llama_cpp, ftype))
        llm = cls._open(llama_cpp, path, **kwargs)
        if gpu:
            _warm_up(llm)
        on_gpu = min(gpu, n_layers)  # the extra "layer" llama.cpp counts is the output matrix
        placement = {"gpu": on_gpu, "cpu": n_layers - on_gpu} if on_gpu else {"cpu": n_layers}
        device = "gpu" if on_gpu == n_layers and on_gpu else "gpu+cpu" if on_gpu else "cpu"
        info = LoadInfo(
            load_s=time.perf_counter() - t0, device=device, placement={k: v for k, v in placement.items() if v},
            dtype=_file_type(llm),
        )
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            info.template = "plain"
            info.warnings.append(chat.no_template_warning(name))
        if trained and n_ctx > trained:
            info.warnings.append(note(
                f"{arg('ctx_size', n_ctx)} is more than the {trained} tokens {name} was trained on; "
                "answers past that length degrade"
            ))
        tokens = {"bos_token": _token_text(llm, llm.token_bos()), "eos_token": _token_text(llm, llm.token_eos())}
        return cls(f"gguf:{hub or name}", llm, info, path, template, tokens, trained or None)

    @staticmethod
    def _open(llama_cpp, path: Path, **kwargs):
        global _held
        native_error()  # only this load's errors are named below
        # llama-cpp-python loads with stdout and stderr pointed at /dev/null (verbose=False), where
        # a log handler writing to stderr would lose llama.cpp's loading messages: they are held
        # back and logged once it is done
        _held = [] if NATIVE_LOG.isEnabledFor(logging.DEBUG) else None
        try:
            return llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
        except (ValueError, RuntimeError) as e:
            why = "; ".join(filter(None, (one_line(e), native_error())))
            raise BackendError(
                f"llama.cpp cannot load {path} ({why}); the file may be damaged or incomplete (download or "
                "convert it again), or its architecture newer than this llama-cpp-python: pip install -U "
                "llama-cpp-python"
            ) from e
        finally:
            held, _held = _held or [], None
            for line in held:
                NATIVE_LOG.debug("%s", line)

    @property
    def context_length(self) -> int:
        """Tokens the prompt and the answer share: the context llama.cpp was opened with (the file's
        trained ``context_length`` up to 4096, or ``--ctx-size``; llama.cpp rounds it up to 256s)."""
        return int(self.llm.n_ctx())

    @property
    def fingerprint(self) -> str:
        """A digest of the spec and the file's size and modification time."""
        if self._fingerprint is None:
            st = self.path.stat()
            text = f"{self.spec}:{self.path.name}:{st.st_size}:{st.st_mtime_ns}"
            self._fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
        return self._fingerprint

    # ---- preprocess -------------------------------------------------------------------
    def render(self, messages: Messages) -> str:
        if self.template is None:
            return chat.plain_text(messages)
        return chat.apply_template(
            lambda m: chat.render_template(self.template, m, **self.special_tokens), messages, self.spec
        )

    def tokenize(self, prompt: str) -> list[int]:
        # A chat template writes its own BOS; plain text gets the one the model asks for.
        return self.llm.tokenize(prompt.encode("utf-8"), add_bos=self.template is None, special=True)

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenize(prompt))

    # ---- forward and postprocess -------------------------------------------------------
    def generate(self, messages: Messages, params: GenParams, on_text: OnText | None = None) -> Completion:
        import llama_cpp

        prompt = self.render(messages)
        start = time.perf_counter()  # time to first token counts tokenization too
        ids = self.tokenize(prompt)
        tokenized = time.perf_counter()
        room = self.context_length - len(ids)
        if room < 1:  # ask and run check this first (backends.context.fit); a library caller may not
            raise overflow_error(self, len(ids), params.max_new_tokens)
        self.llm.set_seed(params.seed if params.seed is not None else random.getrandbits(31))
        vocab = self.llm._model.vocab  # the model's end-of-generation set (EOS, <|im_end|>, <|eot_id|>, ...)
        stream = _Utf8Stream(on_text)
        out: list[int] = []
        stamps: list[float] = []
        finish = "length"
        tokens = self.llm.generate(
            ids, temp=params.temperature, top_p=params.top_p, top_k=0, min_p=0.0, repeat_penalty=1.0,
            grammar=_grammar(params.json_schema) if params.json_schema else None,
        )
        try:
            for token in tokens:
                stamps.append(time.perf_counter())
                out.append(token)
                if llama_cpp.llama_vocab_is_eog(vocab, token) and not params.ignore_eos:
                    finish = "eos"
                    break
                stream.feed(self.llm.detokenize([token]))  # bytes; a split character waits whole
                if len(out) >= min(params.max_new_tokens, room):
                    break
        except RuntimeError as e:  # llama_decode failing: out of memory, most often
            raise BackendError(f"llama.cpp failed while generating with {self.spec}: {e}") from e
        finally:
            tokens.close()
        stream.feed(b"", final=True)
        ttft = (stamps[0] - start) if stamps else 0.0
        total = (stamps[-1] - start) if stamps else time.perf_counter() - start
        return Completion(
            text=stream.text,
            prompt=prompt,
            input_tokens=len(ids),
            output_tokens=len(out) - (finish == "eos"),  # the end-of-turn token is not counted
            ttft_s=ttft,
            total_s=total,
            finish_reason=finish,
            timings=_timings(start, tokenized, stamps),
        )




def _timings(start: float, tokenized: float, stamps: list[float]) -> dict:
    """The phase split of one generation, in seconds (``time.perf_counter`` stamps):
    ``prefill_s`` from the tokenized prompt to the first token (llama.cpp evaluating the prompt
    and sampling once), ``decode_s`` from the first token to the last (TTFT is tokenization plus
    prefill; total is TTFT plus decode). Without any token, the prompt's evaluation is all there is.
    """
    if not stamps:
        return {"prefill_s": time.perf_counter() - tokenized, "decode_s": 0.0}
    return {"prefill_s": stamps[0] - tokenized, "decode_s": stamps[-1] - stamps[0]}


@functools.lru_cache(maxsize=8)
def _grammar(schema: str):
    """llama.cpp's GBNF grammar for a JSON Schema (converted once per schema)."""
    import llama_cpp

    try:
        return llama_cpp.LlamaGrammar.from_json_schema(schema, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise UsageError(f"llama.cpp cannot turn this JSON schema into a grammar: {one_line(e)}") from e


#: the attention's shape, read with the four keys the backend waits for: the KV cache's size
_SHAPE_KEYS = ("embedding_length", "attention.head_count", "attention.head_count_kv", "attention.key_length",
               "attention.value_length")


def read_metadata(path: Path) -> dict:
    """The architecture (``general.architecture``), weight type (``general.file_type``), trained
    context (``{arch}.context_length``), layer count (``{arch}.block_count``) and the attention's
    shape (``{arch}.embedding_length``, ``{arch}.attention.head_count``, ``…head_count_kv``,
    ``…key_length``, ``…value_length``) from a GGUF's header, those of them the file has (strings
    and ints as stored).

    Reads the header's key/values directly (:mod:`hanprompt.backends.gguf_header`), stopping once
    these are read (or the tokenizer's keys begin: converters write the model's own keys first).
    Raises BackendError when the header is cut short or damaged, ModelNotFound when the file
    cannot be read.
    """
    from hanprompt.backends.gguf_header import HeaderError, read_keys

    def enough(found: dict) -> bool:
        arch = found.get("general.architecture")
        if not isinstance(arch, str) or not all(
                k in found for k in ("general.file_type", f"{arch}.context_length", f"{arch}.block_count")):
            return False
        return all(f"{arch}.{k}" in found for k in _SHAPE_KEYS) or any(k.startswith("tokenizer.") for k in found)

    try:
        found = read_keys(path, enough)
    except HeaderError as e:
        raise BackendError(
            f"{path} is not a readable GGUF file ({e}); the file may be damaged or incomplete: download or "
            "convert it again"
        ) from e
    except OSError as e:
        raise ModelNotFound(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from e
    arch = found.get("general.architecture")
    arch = arch if isinstance(arch, str) else ""
    keys = ("general.architecture", "general.file_type", f"{arch}.context_length", f"{arch}.block_count",
            *(f"{arch}.{k}" for k in _SHAPE_KEYS))
    return {k: found[k] for k in keys if k in found}


def kv_cache_bytes(meta: dict, n_ctx: int) -> int | None:
    """Bytes of llama.cpp's KV cache for a context of ``n_ctx`` tokens, from :func:`read_metadata`'s
    keys; None when the header lacks the attention's shape.

    Per layer and token, K holds ``head_count_kv × key_length`` values and V ``head_count_kv ×
    value_length``, in f16 (2 bytes: llama.cpp's default ``type_k``/``type_v``); ``key_length``
    and ``value_length`` default to ``embedding_length / head_count`` (llama.cpp's
    ``llama_hparams``). SmolLM2-135M (30 layers, 3 KV heads of 64): 23,040 bytes per token.
    """
    arch = meta.get("general.architecture", "")
    layers, embd, heads = (_number(meta, f"{arch}.{k}", 0) for k in ("block_count", "embedding_length",
                                                                    "attention.head_count"))
    if not (layers and embd and heads):
        return None
    kv_heads = _number(meta, f"{arch}.attention.head_count_kv", heads)
    k_len = _number(meta, f"{arch}.attention.key_length", embd // heads)
    v_len = _number(meta, f"{arch}.attention.value_length", embd // heads)
    return 2 * n_ctx * layers * kv_heads * (k_len + v_len)


#: the share of the free memory an all-CPU context and its weights may take
KV_SHARE_OF_FREE = 0.8


def _check_kv_fits(meta: dict, n_ctx: int, path: Path, trained: int) -> None:
    """UsageError naming ``ctx_size`` when the KV cache of an all-CPU load, with the file, needs
    more than :data:`KV_SHARE_OF_FREE` of the memory free now: llama.cpp allocates it when the
    context opens, and its compute buffers, the Python process and the rest of the machine need
    the remainder (without it the kernel may end the process, or another one)."""
    kv = kv_cache_bytes(meta, n_ctx)
    if kv is None or kv < 256 * 2**20:  # small enough for any machine that runs llama.cpp: no probe
        return
    import psutil

    free = psutil.virtual_memory().available
    need = kv + path.stat().st_size
    if need > KV_SHARE_OF_FREE * free:
        trained_text = f" (the model was trained on {trained:,} tokens)" if trained else ""
        raise UsageError(
            f"{arg('ctx_size', n_ctx)} needs about {kv / 2**30:,.1f} GiB for llama.cpp's KV cache, and "
            f"{need / 2**30:,.1f} GiB with the weights, more than {KV_SHARE_OF_FREE:.0%} of the "
            f"{free / 2**30:,.1f} GiB of memory free; give a smaller {arg('ctx_size')}{trained_text}"
        )


def _number(meta: dict, key: str, default: int) -> int:
    """``meta[key]`` as an int, ``default`` when absent or not a whole number."""
    value = meta.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _warm_up(llm) -> None:
    """One short decode before the first prompt, for a model with layers on a GPU: the first call
    there sets up the device's kernels and buffers, which belongs to loading, not to the first
    answer's TTFT. On the CPU it only costs the two tokens (the first prompt takes as long without
    it), so CPU-only loads skip it."""
    llm.eval([max(llm.token_bos(), 0), max(llm.token_eos(), 0)])
    llm.reset()


def _ftype_name(llama_cpp, ftype: int) -> str:
    """llama.cpp's name of a ``llama_ftype`` value: ``Q4_1``, ``Q4_K_M``, ``F32``; ``type N`` if unknown."""
    for name in dir(llama_cpp):
        if name.startswith("LLAMA_FTYPE_") and getattr(llama_cpp, name) == ftype and name != "LLAMA_FTYPE_GUESSED":
            return name.removeprefix("LLAMA_FTYPE_").removeprefix("MOSTLY_").removeprefix("ALL_")
    return f"type {ftype}"


def _token_text(llm, token: int) -> str:
    if token < 0:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="replace")


def _file_type(llm) -> str:
    """The weights' type from llama.cpp's model description, e.g. ``F32``, ``Q8_0``, ``Q4_K_M``."""
    import ctypes

    import llama_cpp

    buf = ctypes.create_string_buffer(256)
    llama_cpp.llama_model_desc(llm.model, buf, ctypes.sizeof(buf))
    desc = buf.value.decode("utf-8", errors="replace")  # e.g. "llama 7B Q4_K - Medium"
    kind = desc.split(" ", 2)[-1].removeprefix("all ").replace(" - Medium", "_M").replace(" - Small", "_S")
    return kind.replace(" - Large", "_L")[:20]
