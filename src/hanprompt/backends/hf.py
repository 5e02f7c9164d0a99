"""The Hugging Face transformers backend: chat template, placement, dtype, streaming, batching.

Preprocess (template and tokenize), forward (:mod:`hanprompt.backends.batching`, the only code
touching the device, under ``inference_mode``) and postprocess (cut at EOS, decode, count,
time) are separate steps.
"""
from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Callable, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from hanprompt import limits
from hanprompt.backends import chat
from hanprompt.backends.base import (Backend, Completion, GenParams, LoadInfo, Messages, OnDone, OnText,
                                     Request, build_options)
from hanprompt.backends.batching import ContinuousBatcher, Row
from hanprompt.backends.context import overflow_error
from hanprompt.backends.hub import from_pretrained, looks_like_path, resolve_device
from hanprompt.errors import BackendError, DeviceError, ModelNotFound, UsageError, arg, one_line
from hanprompt.timing import Phases

_CPU_FP16 = (
    f"{arg('dtype', 'float16')} on CPU is refused: float16 matrix products run 20-30x slower there than "
    f"float32; use {arg('dtype', 'float32')} or {arg('dtype', 'bfloat16')} (or {arg('device', 'cuda')} on a GPU)"
)


class HFOptions(BaseModel):
    """Loading options of the hf backend; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    device: Literal["cpu", "cuda", "mps", "auto"] | None = None  # None: the best single device
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_memory: dict[str | int, str] | None = None
    offload_folder: str | None = None
    quantize: Literal["8bit", "4bit"] | None = None
    trust_remote_code: bool = False
    #: CPU float32: oneDNN linears with packed weights (cpu_linear); "auto": where a measurement at
    #: load finds them at least cpu_linear.MIN_SPEEDUP faster on this host; True: always; False: never
    packed_linear: bool | Literal["auto"] = "auto"

    @field_validator("max_memory", mode="before")
    @classmethod
    def _parse_max_memory(cls, value):
        return parse_max_memory(value) if isinstance(value, str) else value


def parse_max_memory(text: str) -> dict[str | int, str]:
    """``0=3GiB,cpu=20GiB`` -> ``{0: "3GiB", "cpu": "20GiB"}``."""
    out: dict[str | int, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B)?", value, re.I):
            raise UsageError(
                f"{arg('max_memory')}: cannot read {part!r}; write DEVICE=SIZE pairs like 0=3GiB,cpu=20GiB"
            )
        if key.isdigit():
            out[int(key)] = value
        elif key in ("cpu", "mps", "disk"):
            out[key] = value
        else:
            raise UsageError(f"{arg('max_memory')}: unknown device {key!r}; use a GPU index (0, 1, ...) or cpu")
    return out


def _options(**values) -> HFOptions:
    return build_options(HFOptions, "hf", values)  # type: ignore[return-value]


def _resolve_dtype(requested: str, device: str, config_dtype):
    import torch

    on_gpu = device in ("cuda", "mps") or (device == "auto" and torch.cuda.is_available())
    if requested == "float16" and not on_gpu:
        raise DeviceError(_CPU_FP16)
    if requested != "auto":
        return getattr(torch, requested)
    if not on_gpu:
        return torch.float32  # bf16/fp16 checkpoints run faster in fp32 on most CPUs
    if device == "mps":
        return torch.float16
    if config_dtype in (torch.float16, torch.bfloat16):
        return config_dtype
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _placement(model) -> tuple[str, dict]:
    device_map = getattr(model, "hf_device_map", None)
    if not device_map:
        device = str(model.device)
        return device, {device: "all"}
    counts: dict[str, int] = {}
    for where in device_map.values():
        name = f"cuda:{where}" if isinstance(where, int) else str(where)
        counts[name] = counts.get(name, 0) + 1
    return "+".join(counts), counts


#: config attributes that hold the context length, by model family
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx",
                 "max_seq_len")


class _TextStream:
    """Turns streamed token ids into text pieces, never splitting a Hangul syllable."""

    def __init__(self, tokenizer, on_text: OnText, stop_ids: set[int]):
        self.tokenizer, self.on_text, self.stop_ids = tokenizer, on_text, stop_ids
        self.ids: list[int] = []
        self.sent = 0
        self.done = False

    def __call__(self, ids: list[int]) -> None:
        if self.done:
            return
        if ids[0] in self.stop_ids:
            self.done = True
            return
        self.ids.append(ids[0])
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # an incomplete UTF-8 sequence: wait for the next token
            return
        if len(text) > self.sent:
            self.on_text(text[self.sent:])
            self.sent = len(text)

    def finish(self, final: str) -> None:
        """Send what was held back (bytes that never formed a character, say)."""
        if len(final) > self.sent:
            self.on_text(final[self.sent:])


def other_kind(folder: Path) -> str | None:
    """What a model folder is when it is not a causal LM, with the command that takes it; else None.

    Read from its files alone (``modules.json``: sentence-transformers; ``config.json``: the
    architectures, ``is_encoder_decoder``), so nothing is loaded.
    """
    import json

    if (folder / "modules.json").is_file():
        return ("an embedding model (sentence-transformers), not a chat model; use it for similar checks: "
                f"{arg('embedder', folder)}")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    names = " ".join(config.get("architectures") or [])
    if config.get("is_encoder_decoder") or any(k in names for k in ("MTModel", "M2M100", "Nllb", "T5", "Bart")):
        return (f"a translation (encoder-decoder) model ({names or config.get('model_type')}), not a chat model; "
                f"translate with it: hanprompt translate -t mt:{folder}")
    if names and not any(k in names for k in ("CausalLM", "LMHeadModel", "ForConditionalGeneration")):
        return (f"an encoder model ({names}), not a chat model; for similar checks use a sentence-transformers "
                f"folder with {arg('embedder', 'PATH')}")
    return None


class HFBackend(Backend):
    """A causal LM from the hub or a local folder, through transformers."""

    name = "hf"
    supports_batching = True

    def __init__(self, spec: str, model, tokenizer, info: LoadInfo, source: Path | None):
        self.spec, self.model, self.tokenizer, self.info = spec, model, tokenizer, info
        self._source = source
        self._fingerprint: str | None = None
        self.stop_ids = self._stop_ids()

    # ---- loading ----------------------------------------------------------------------
    @classmethod
    def check(cls, name: str, **options) -> None:
        """Raise what loading would for bad options or a model folder that is not one; no loading."""
        _options(**options)
        if looks_like_path(name):
            folder = Path(name).expanduser()
            if not folder.exists():
                raise ModelNotFound(
                    f"model path {name} does not exist; pass {arg('model')} a folder that holds "
                    "config.json and the weights, or a hub id like Qwen/Qwen2.5-0.5B-Instruct"
                )
            if not (folder / "config.json").is_file():
                raise ModelNotFound(
                    f"{name} is not a model folder (no config.json in it); pass a folder written by "
                    "save_pretrained(), or a hub id"
                )
            wrong = other_kind(folder)
            if wrong:
                raise UsageError(f"{name} is {wrong}")

    @classmethod
    def load(cls, name: str, **options) -> "HFBackend":
        cls.check(name, **options)
        return cls._load(name, _options(**options), looks_like_path(name))

    @classmethod
    def _load(cls, name: str, opts: HFOptions, local: bool) -> "HFBackend":
        t_import = time.perf_counter()
        import torch
        import transformers
        from safetensors import SafetensorError
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        import_s = time.perf_counter() - t_import
        t0 = time.perf_counter()
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        device = resolve_device(opts.device)
        if opts.device != "auto" and (opts.max_memory or opts.offload_folder):
            raise UsageError(f"{arg('max_memory')} and {arg('offload_folder')} only apply with {arg('device', 'auto')}")
        common = {"trust_remote_code": opts.trust_remote_code}
        config = from_pretrained(AutoConfig, name, local, common, "config")
        dtype = _resolve_dtype(opts.dtype, device, getattr(config, "dtype", None) or getattr(config, "torch_dtype", None))
        kwargs: dict = dict(common, config=config)
        kwargs["dtype"] = dtype
        if opts.quantize:
            kwargs["quantization_config"] = cls._quantization(opts.quantize, device, dtype)
            kwargs["device_map"] = "auto" if device == "auto" else {"": 0}
        elif device == "auto":
            kwargs["device_map"] = "auto"
            if opts.max_memory:
                kwargs["max_memory"] = opts.max_memory
            if opts.offload_folder:
                kwargs["offload_folder"] = opts.offload_folder
        elif device == "cuda":
            kwargs["device_map"] = {"": 0}
        tokenizer = from_pretrained(AutoTokenizer, name, local, common, "tokenizer")
        try:
            model = from_pretrained(AutoModelForCausalLM, name, local, kwargs, "model")
        except ValueError as e:
            if "Unrecognized configuration class" in str(e) or "does not recognize" in str(e):
                raise BackendError(
                    f"{name} is not a causal language model (its config is {type(config).__name__}); "
                    "the hf backend runs decoder models such as Llama, Qwen or Gemma"
                ) from e
            raise BackendError(f"cannot load {name}: {one_line(e)}") from e
        except torch.OutOfMemoryError as e:
            raise DeviceError(
                f"out of GPU memory loading {name}; try {arg('device', 'auto')} {arg('max_memory', '0=3GiB,cpu=20GiB')}, "
                f"{arg('quantize', '4bit')}, or a smaller model"
            ) from e
        except SafetensorError as e:
            raise BackendError(
                f"cannot read the weights of {name}: {one_line(e)}; the .safetensors file is "
                "damaged or incomplete: download or save the model again"
            ) from e
        if device == "mps":
            model.to("mps")
        model.eval()
        packed, speedup = 0, None
        if (opts.packed_linear and device == "cpu" and not opts.quantize and dtype == torch.float32
                and not getattr(model, "hf_device_map", None)):
            from hanprompt.backends import cpu_linear

            if opts.packed_linear == "auto":
                from hanprompt.backends.embedded import cache_dir

                speedup = cpu_linear.host_speedup(model, cache_dir())
            if speedup is None or speedup >= cpu_linear.MIN_SPEEDUP:
                packed = cpu_linear.pack(model)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        device_str, placement = _placement(model)
        info = LoadInfo(
            load_s=time.perf_counter() - t0,
            device=device_str,
            placement=placement,
            dtype=str(model.dtype).removeprefix("torch."),
            import_s=import_s,
        )
        measured = f", measured {speedup:.2f}x faster here" if speedup else ""
        if packed:
            info.kernels = f"oneDNN packed linear x{packed}{measured}"
        elif speedup:  # measured, and not fast enough to keep: say so
            info.kernels = f"plain nn.Linear (oneDNN packed measured {speedup:.2f}x here, under {cpu_linear.MIN_SPEEDUP}x)"
        if not getattr(tokenizer, "chat_template", None):
            info.template = "plain"
            info.warnings.append(chat.no_template_warning(name))
        source = Path(name).expanduser() if local else cls._snapshot_dir(name)
        return cls(f"hf:{name}", model, tokenizer, info, source)

    @staticmethod
    def _quantization(mode: str, device: str, dtype):
        import torch

        if not torch.cuda.is_available():
            raise DeviceError(
                f"{arg('quantize', mode)} needs a CUDA GPU (bitsandbytes runs there); none is available "
                f"here: drop {arg('quantize')}, or use a GGUF model"
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as e:
            raise BackendError(
                f"{arg('quantize', mode)} needs bitsandbytes: pip install 'hanprompt[quant]'"
            ) from e
        from transformers import BitsAndBytesConfig

        if mode == "8bit":
            return BitsAndBytesConfig(load_in_8bit=True)
        return BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )

    @staticmethod
    def _snapshot_dir(name: str) -> Path | None:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(name, local_files_only=True, allow_patterns=["config.json"]))
        except (OSError, ValueError):  # not in the cache: the fingerprint falls back to the spec
            return None

    def _stop_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    @property
    def fingerprint(self) -> str:
        """A hub snapshot's revision, or a digest of the config and the weights' sizes and times."""
        if self._fingerprint is None:
            h = hashlib.sha256(self.spec.encode())
            if self._source is not None and self._source.is_dir():
                for f in sorted(self._source.iterdir()):
                    if f.is_file():
                        st = f.stat()
                        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
                        if f.name == "config.json":
                            h.update(f.read_bytes())
            self._fingerprint = h.hexdigest()[:16]
        return self._fingerprint

    @property
    def context_length(self) -> int:
        """Positions the model was built for (``max_position_embeddings`` and its aliases)."""
        config = self.model.config
        config = config.get_text_config() if hasattr(config, "get_text_config") else config
        for key in _CONTEXT_KEYS:
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)  # huge sentinel when unset
        return value if isinstance(value, int) and 0 < value < limits.DEFAULT_CONTEXT_LENGTH else (
            limits.DEFAULT_CONTEXT_LENGTH)

    def count_tokens(self, prompt: str) -> int:
        return len(self.tokenizer(prompt, add_special_tokens=self.info.template == "plain")["input_ids"])

    # ---- preprocess -------------------------------------------------------------------
    def render(self, messages: Messages) -> str:
        if self.info.template == "plain":
            return chat.plain_text(messages)
        return chat.apply_template(
            lambda m: self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True),
            messages,
            self.spec,
        )

    def _encode(self, prompts: list[str]):
        self.tokenizer.padding_side = "left"
        return self.tokenizer(
            prompts,
            return_tensors="pt",
            padding=True,
            add_special_tokens=self.info.template == "plain",
        )

    # ---- forward ----------------------------------------------------------------------
    def _batcher(self, phases: Phases | None = None) -> ContinuousBatcher:
        gc = self.model.generation_config
        return ContinuousBatcher(self.model, self._encode, self.stop_ids, top_k=gc.top_k,
                                 repetition_penalty=gc.repetition_penalty, phases=phases,
                                 context_length=self.context_length,
                                 overflow=lambda n, new: overflow_error(self, n, new))

    # ---- postprocess ------------------------------------------------------------------
    def _completion(self, row: Row) -> Completion:
        # The end-of-turn token is neither shown nor counted: output tokens are the answer's, as
        # OpenAI-compatible servers count them (backends.base.Completion.output_tokens).
        kept = row.tokens[:-1] if row.finish == "eos" else row.tokens
        ttft = row.first_at - row.admitted_at  # from tokenization to the first token
        total = row.last_at - row.admitted_at
        return Completion(
            text=self.tokenizer.decode(kept, skip_special_tokens=True),
            prompt=row.prompt,
            input_tokens=row.input_tokens,
            output_tokens=len(kept),
            ttft_s=ttft,
            total_s=total,
            finish_reason=row.finish or "length",
            timings={"queue_s": row.admitted_at - row.queued_at, "prefill_s": row.prefill_s,
                     "decode_s": total - ttft},
        )

    def generate(self, messages: Messages, params: GenParams, on_text: OnText | None = None) -> Completion:
        prompt = self.render(messages)
        stream = _TextStream(self.tokenizer, on_text, self.stop_ids) if on_text else None
        row = Row(0, prompt, params, on_token=(lambda t: stream([t])) if stream else None)
        self._batcher().run([row], 1, lambda done: None)
        completion = self._completion(row)
        if stream is not None:
            stream.finish(completion.text)
        return completion

    def generate_batch(self, requests: list[tuple[Messages, GenParams]]) -> list[Completion]:
        """All requests in one batch, whatever their parameters; each row stops at its own EOS."""
        return self.generate_many(requests, max_batch=len(requests))

    def generate_many(self, requests: list[Request], *, max_batch: int = 16, on_done: OnDone | None = None,
                      on_notice: Callable[[str], None] | None = None,
                      phases: Phases | None = None) -> list[Completion]:
        """Continuous batching: at most ``max_batch`` rows at once, a finished row's slot refilled.

        Rows with different parameters share the batch; each is handed to ``on_done`` in the
        step it ends. Out of memory halves the batch (``on_notice`` says so, once).
        """
        rows = [Row(i, self.render(messages), params) for i, (messages, params) in enumerate(requests)]
        results: list[Completion | None] = [None] * len(rows)

        def finished(done: list[Row]) -> None:
            items = [(r.index, self._completion(r)) for r in done]
            for i, completion in items:
                results[i] = completion
            if on_done is not None:
                on_done(items)

        self._batcher(phases).run(rows, max_batch, finished, on_notice)
        return results  # type: ignore[return-value]

    def close(self) -> None:
        """Drop the weights and free device memory; the backend is unusable afterwards."""
        import gc

        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
