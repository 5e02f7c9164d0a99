"""``hanprompt bench``: models x configurations, measured llama-bench style and stored.

A run of kind ``bench`` holds one ``bench_results`` row per configuration, written as soon as
it is measured: status ``ok``, ``skipped`` (the machine cannot run it: CUDA without CUDA,
GPU layers without a GPU, float16 on CPU), ``oom`` (with fit advice) or ``failed`` (with
the reason). Options, model specs and the database are checked before anything is stored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hanprompt.backends.registry import ModelSpec, backend_class, parse_spec
from hanprompt.bench import bandwidth as bw
from hanprompt.bench import fit, roofline, shapes, tokens
from hanprompt.bench.machine import LocalMachine, Machine
from hanprompt.bench.measure import Measured, release, run_config, timing_metrics
from hanprompt.bench.options import ALL_LAYERS, BenchOptions
from hanprompt.errors import HanpromptError, ModelNotFound, note, one_line, unrendered

Progress = Callable[[str], None]
#: failures of one configuration that leave the others worth measuring
_ROW_FAILURES = (HanpromptError, RuntimeError, MemoryError, ValueError, OSError)


def config_label(config: dict) -> str:
    """A configuration in a few words: ``cpu float32``, ``ngl 8`` or ``server``."""
    parts = [str(config[k]) for k in ("device", "dtype") if k in config]
    if "gpu_layers" in config:
        parts.append(f"ngl {config['gpu_layers']}")
    return " ".join(parts) or "server"


@dataclass
class Config:
    """One configuration of one model: how to load it, what is stored, why it is skipped."""

    spec: ModelSpec
    load_options: dict
    config: dict
    skip: str | None = None
    local: ModelSpec | None = None  # where files are read from (see local_spec); the spec itself if None

    @property
    def file(self) -> str:
        return (self.local or self.spec).name

    @property
    def label(self) -> str:
        """``cpu float32``, ``ngl 8`` or ``server``."""
        return config_label(self.config)


@dataclass
class BenchReport:
    """A finished benchmark: the stored run, the machine, the bandwidths used, one dict per row."""

    run_id: int
    machine: dict
    bandwidth: dict
    settings: dict
    rows: list[dict]
    korean: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "machine": self.machine, "bandwidth": self.bandwidth,
                "settings": self.settings, "korean": self.korean, "rows": self.rows}


# ---- configurations ------------------------------------------------------------------------
def local_spec(spec: ModelSpec) -> ModelSpec:
    """The spec with the file its weights are read from: a hub GGUF (``gguf:ORG/REPO/FILE.gguf``)
    becomes the downloaded file. Missing local files raise ModelNotFound (a bad input: exit 2,
    nothing stored), not a failed row."""
    from hanprompt.backends.hub import looks_like_path

    if spec.backend == "hf" and looks_like_path(spec.name):
        folder = Path(spec.name).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelNotFound(f"{spec.name} is not a model folder (no config.json); pass a folder written "
                                "by save_pretrained(), or a hub id")
    if spec.backend == "gguf":
        from hanprompt.backends.gguf import resolve_file

        path, _ = resolve_file(spec.name)
        return ModelSpec("gguf", str(path))
    return spec


def expand(options: BenchOptions, specs: list[ModelSpec], machine: Machine) -> list[Config]:
    """Every configuration to measure, in order, each marked with why it is skipped (if so)."""
    sizes = {"prompt_tokens": options.prompt_tokens, "gen_tokens": options.gen_tokens,
             "repeat": options.repeat, "warmup": options.warmup, "batch": options.batch}
    out: list[Config] = []
    for spec in specs:
        if spec.backend == "hf":
            for device in options.devices:
                for dtype in options.dtypes:
                    load = {"device": device, "dtype": dtype}
                    if device == "auto" and options.max_memory:
                        load["max_memory"] = options.max_memory
                    out.append(Config(spec, load, dict(load, **sizes), _hf_skip(device, dtype, machine)))
        elif spec.backend == "gguf":
            ctx = options.ctx_size or options.prompt_tokens + options.gen_tokens  # as llama-bench opens it
            for layers in options.gpu_layers:
                skip = None
                if layers != 0:
                    reason = machine.gguf_offload_unavailable()
                    skip = f"gpu layers {layers}: {reason}" if reason else None
                load = {"gpu_layers": layers, "ctx_size": ctx}
                if options.threads:
                    load["threads"] = options.threads
                out.append(Config(spec, load, dict(load, **sizes), skip))
        else:  # a server: measured over the stream as it is
            load: dict = {}
            if options.api_key_env:
                load["api_key_env"] = options.api_key_env
            if options.api_prices:
                load["prices"] = {"input": options.api_prices[0], "output": options.api_prices[1]}
            out.append(Config(spec, load, dict(sizes), None))
    return out


def _hf_skip(device: str, dtype: str, machine: Machine) -> str | None:
    if device == "cuda" and (reason := machine.cuda_unavailable()):
        return f"device cuda: {reason}"
    if device == "mps" and (reason := machine.mps_unavailable()):
        return f"device mps: {reason}"
    on_cpu = device == "cpu" or (device == "auto" and machine.cuda_unavailable() is not None)
    if dtype == "float16" and on_cpu:
        return fit.CPU_FLOAT16
    return None


# ---- bandwidth -----------------------------------------------------------------------------
class Bandwidths:
    """GB/s per memory: given with --bandwidth, else measured the first time a row needs it."""

    _MEASURE = {"cpu": bw.measure_cpu, "cuda": bw.measure_cuda, "pcie": bw.measure_pcie}

    def __init__(self, given: dict[str, float], machine: Machine, progress: Progress | None = None):
        self.entries: dict[str, dict] = {m: {"gb_s": v, "source": "--bandwidth"} for m, v in given.items()}
        self._machine, self._progress = machine, progress

    def get(self, memory: str) -> float | None:
        """The bandwidth of ``memory`` in GB/s, or None when it is neither given nor measurable."""
        if memory not in self.entries:
            measure = self._MEASURE.get(memory)  # mps and disk: only a given figure
            if measure is None or (memory != "cpu" and self._machine.cuda_unavailable() is not None):
                return None
            if self._progress:
                self._progress(f"measuring {memory} memory bandwidth")
            try:
                self.entries[memory] = {"gb_s": measure(), "source": "measured"}
            except RuntimeError as e:  # the GPU is busy or out of memory: no roofline for it
                self.entries[memory] = {"gb_s": None, "source": f"not measured: {_failure(e)}"}
        return self.entries[memory]["gb_s"]

    def remeasure(self, memory: str, why: str) -> float | None:
        """Measure ``memory`` again (a figure given with --bandwidth is kept); the faster figure stays.

        A first probe run while other work held the memory bus reads low; ``why`` is kept in the entry.
        """
        entry = self.entries.get(memory) or {}
        measure = self._MEASURE.get(memory)
        if entry.get("source") == "--bandwidth" or measure is None or entry.get("remeasured_from") is not None:
            return entry.get("gb_s")
        if self._progress:
            self._progress(f"measuring {memory} memory bandwidth again: {why}")
        try:
            again = measure()
        except RuntimeError as e:
            again = None
            entry["remeasure_failed"] = _failure(e)
        first = entry.get("gb_s")
        if again is not None and (first is None or again > first):
            entry.update(gb_s=again)
        entry.update(remeasured_from=first, remeasured_because=why)
        self.entries[memory] = entry
        return entry.get("gb_s")

    def mark_unreliable(self, memory: str, why: str) -> None:
        """Say in the entry that a figure computed from it cannot be true."""
        self.entries.setdefault(memory, {"gb_s": None, "source": "unknown"})["unreliable"] = why

    def prepare(self, cfg: Config) -> None:
        """Measure what ``cfg`` will read from before its model is loaded and takes the memory."""
        memories = {"cpu"}
        if cfg.spec.backend == "hf" and cfg.config.get("device") in ("cuda", "auto"):
            memories |= {"cuda", "pcie"}
        if cfg.spec.backend == "gguf" and cfg.config.get("gpu_layers") != 0:
            memories.add("cuda")
        for memory in sorted(memories):
            self.get(memory)


# ---- one row -------------------------------------------------------------------------------
#: how the layers' memories are named in "layers per device"
_LAYER_PLACES = {"cpu": "cpu", "cuda": "cuda", "pcie": "cpu (offloaded, runs on cuda)", "disk": "disk",
                 "mps": "mps"}


def _shape_and_placement(cfg: Config, measured: Measured) -> tuple[roofline.ModelShape, roofline.Traffic, dict] | None:
    """(shape, traffic, layers per device) of a measured configuration; None for a server."""
    if cfg.spec.backend == "hf":
        shape, layers, head, kv = shapes.hf_loaded(measured.backend.model)
    elif cfg.spec.backend == "gguf":
        shape = shapes.gguf_file(cfg.file)
        n = cfg.config["gpu_layers"]
        layers, head, kv = shapes.gguf_placement(shape, shape.n_layers + 1 if n == ALL_LAYERS else int(n))
    else:
        return None  # a server: its weights and memory are not visible from here
    per_device: dict[str, int] = {}
    for memory in layers:
        per_device[_LAYER_PLACES[memory]] = per_device.get(_LAYER_PLACES[memory], 0) + 1
    return shape, roofline.traffic(shape, layers, head, kv), per_device


def _file_shape(cfg: Config) -> roofline.ModelShape | None:
    """The shape from the model's files, without loading it (for fit advice)."""
    try:
        if cfg.spec.backend == "gguf":
            return shapes.gguf_file(cfg.file)
        if cfg.spec.backend == "hf" and Path(cfg.file).expanduser().is_dir():
            dtype_bytes = {"float32": 4, "bfloat16": 2, "float16": 2}.get(cfg.config.get("dtype", ""))
            return shapes.hf_folder(cfg.file, dtype_bytes)
    except (HanpromptError, OSError, ValueError):
        return None
    return None


def _predicted_oom(cfg: Config, machine: Machine, options: BenchOptions) -> str | None:
    """Out of GPU memory for sure (weights alone exceed free VRAM), known before loading."""
    on_gpu = cfg.config.get("device") == "cuda" or cfg.config.get("gpu_layers", 0) not in (0, None)
    free = machine.free_vram() if on_gpu else None
    shape = _file_shape(cfg) if free is not None else None
    if shape is None:
        return None
    context = options.prompt_tokens + options.gen_tokens
    if cfg.spec.backend == "hf":
        need = shape.weight_bytes
    else:
        n = cfg.config["gpu_layers"]
        n = shape.n_layers + 1 if n == ALL_LAYERS else int(n)
        on = shape.layers[max(shape.n_layers - n, 0):]
        need = sum(on) + len(on) * shape.kv_per_layer * context + (shape.head if n > shape.n_layers else 0)
    if need <= free:
        return None
    return (f"out of GPU memory (predicted before loading): needs {need / fit.GIB:.2f} GiB, "
            f"{free / fit.GIB:.2f} GiB free")


def _roofline(cfg: Config, measured: Measured, metrics: dict, bandwidth: Bandwidths) -> dict | None:
    placed = _shape_and_placement(cfg, measured)
    if placed is None:
        return None
    shape, traffic, per_device = placed
    metrics["layers_per_device"] = per_device
    context = roofline.mean_decode_context(metrics["prompt_tokens"], metrics["gen_tokens"])
    gbs = {memory: bandwidth.get(memory) for memory in traffic.per_token(context)}
    ceiling = roofline.ceiling(traffic, gbs, context)
    decode = (metrics["decode_tok_s"] or {}).get("mean")
    out = {
        "bandwidth_gb_s": gbs,
        "weights_read_bytes": dict(traffic.weights),
        "kv_bytes_per_context_token": sum(traffic.kv_per_context_token.values()),
        "mean_context": context,
        "bytes_per_token": traffic.total(context),
        "ceiling_tok_s": ceiling,
        "mbu": roofline.mbu(decode, ceiling),
        "shape": shapes.describe(shape),
    }
    batch = metrics.get("batch")
    if batch:
        batch_ceiling = roofline.ceiling(traffic, gbs, context, batch=batch["size"])
        batch.update(ceiling_tok_s=batch_ceiling, mbu=roofline.mbu(batch["decode_tok_s"], batch_ceiling))
    return out


# ---- figures checked against physics --------------------------------------------------------
def _flag(figure: str, problem: str, likely_cause: str) -> dict:
    return {"figure": figure, "problem": problem, "likely_cause": likely_cause}


def check_physics(cfg: Config, measured: Measured, metrics: dict, bandwidth: Bandwidths,
                  progress: Progress | None = None) -> list[dict]:
    """Flags for figures that cannot be true, each ``{"figure", "problem", "likely_cause"}``.

    - MBU above 100% (decode faster than memory can deliver the bytes read per token): the
      bandwidths it used are measured again; if it is still above 100%, they are marked
      unreliable (``unreliable`` in the bandwidth entry, ``bandwidth_unreliable`` in the roofline).
      A batch MBU above 100% is flagged too.
    - prefill slower than decode (prefill processes the whole prompt in one forward pass, so its
      tokens/s is normally many times decode's).
    - a server's decode that its stream is too coarse to time (``decode_untimed``).
    """
    flags: list[dict] = []
    roof = metrics.get("roofline")
    if roof and roof.get("mbu") is not None and roof["mbu"] > 1:
        first = roof["mbu"]
        used = [memory for memory, gbs in roof["bandwidth_gb_s"].items() if gbs]
        why = f"MBU {first:.0%} on {cfg.spec} [{cfg.label}]"
        before = dict(roof["bandwidth_gb_s"])
        for memory in used:
            bandwidth.remeasure(memory, why)
        if any(bandwidth.entries[m].get("gb_s") != before[m] for m in used):
            roof = metrics["roofline"] = _roofline(cfg, measured, metrics, bandwidth)
            roof["mbu_before_remeasure"] = first
        if roof["mbu"] is not None and roof["mbu"] > 1:
            for memory in used:
                bandwidth.mark_unreliable(memory, why)
            roof["bandwidth_unreliable"] = True
            figures = ", ".join(
                f"{m} {bandwidth.entries[m]['gb_s']:.1f} GB/s ({bandwidth.entries[m]['source']}"
                + (", measured again" if bandwidth.entries[m].get("remeasured_from") is not None else "") + ")"
                for m in used)
            flags.append(_flag(
                "mbu", f"MBU {roof['mbu']:.0%} is above 100%: decode cannot read the weights faster than memory "
                       f"delivers them, so the bandwidth ({figures}) is unreliable",
                "the bandwidth probe ran while the machine was busy, or a given bandwidth figure is too low, or the "
                f"{roof['bytes_per_token'] / 1e6:,.1f} MB read per token stay partly in the CPU's caches"))
    batch = metrics.get("batch") or {}
    if batch.get("mbu") is not None and batch["mbu"] > 1:
        flags.append(_flag(
            "batch.mbu", f"batch MBU {batch['mbu']:.0%} is above 100%: {batch['size']} sequences decoded faster than "
                         "memory delivers the weights once per step and each sequence's KV cache",
            "the bandwidth figure is too low (a probe on a busy machine, or a given figure), or the weights "
            "stay partly in the CPU's caches"))
    prefill, decode = (metrics.get("prefill_tok_s") or {}).get("mean"), (metrics.get("decode_tok_s") or {}).get("mean")
    if prefill is not None and decode is not None and prefill < decode:
        before = ("a queue or a network before the server answers" if cfg.spec.backend not in ("hf", "gguf")
                  else "other work on a busy machine taking the cores while the prompt ran")
        flags.append(_flag(
            "prefill_tok_s", f"prefill ({prefill:,.1f} tok/s) is slower than decode ({decode:,.1f} tok/s)",
            f"TTFT holds more than the prompt's forward pass: {before}, a first-call set-up, or a prompt "
            "processed one token at a time"))
    if metrics.get("decode_untimed"):
        flags.append(_flag("decode_tok_s", metrics["decode_untimed"],
                           "the server buffers its answer and sends it in few chunks; no decode speed, and no "
                           "cost per token from it, is given"))
    return flags


def cost_per_million(price_per_hour: float, tokens_per_s: float | None) -> float | None:
    """Cost of a million output tokens at ``tokens_per_s``: price/hour / (tokens/s x 3600) x 10^6."""
    if not tokens_per_s:
        return None
    return price_per_hour / (tokens_per_s * 3600) * 1_000_000


def _cost(options: BenchOptions, metrics: dict, api_prices: dict | None) -> dict | None:
    """Cost per million output tokens: of this machine at its measured decode speed (batch 1 and
    batch N) with ``price_per_hour``, and an API's list price for ``openai:`` rows that have one."""
    out: dict = {}
    if options.price_per_hour:
        out.update(
            price_per_hour=options.price_per_hour,
            per_million_output=cost_per_million(options.price_per_hour, (metrics["decode_tok_s"] or {}).get("mean")),
            batch_per_million_output=cost_per_million(options.price_per_hour,
                                                      (metrics.get("batch") or {}).get("decode_tok_s")),
        )
    if api_prices:
        out.update(api_per_million_input=api_prices["input"], api_per_million_output=api_prices["output"])
    return out or None


def _failure(e: BaseException) -> str:
    """Why a row failed, one line; a :func:`~hanprompt.errors.note` for hanprompt's own errors, so
    that the command line names flags where a library caller reads arguments."""
    if isinstance(e, HanpromptError):
        first = next((line.strip() for line in unrendered(e).splitlines() if line.strip()), "")
        return note(first) if first else type(e).__name__
    return one_line(e, typed=True)


def measure_row(cfg: Config, options: BenchOptions, machine: Machine, bandwidth: Bandwidths,
                count: tokens.Count | None, progress: Progress | None = None) -> tuple[str, str | None, dict]:
    """(status, reason, metrics) of one configuration; failures become rows, never exceptions."""
    if cfg.skip:
        return "skipped", cfg.skip, {}
    context = options.prompt_tokens + options.gen_tokens
    predicted = _predicted_oom(cfg, machine, options)
    if predicted:
        advice = fit.oom_advice(cfg.spec.backend, _file_shape(cfg), machine.free_vram(), machine.available_ram(), context)
        return "oom", note(f"{predicted}; {unrendered(advice)}"), {"advice": advice}

    def load():
        return backend_class(cfg.spec.backend).load(cfg.spec.name, **cfg.load_options)

    def loaded(backend):
        if progress:
            progress(f"{cfg.spec} [{cfg.label}]: loaded on {backend.info.device}; measuring")

    bandwidth.prepare(cfg)
    measured = None
    server = cfg.spec.backend not in ("hf", "gguf")
    try:
        measured = run_config(
            load, count, prompt_tokens=options.prompt_tokens, gen_tokens=options.gen_tokens,
            repeat=options.repeat, warmup=options.warmup, batch=options.batch,
            vram=(lambda: machine.vram_used()) if machine.cuda_unavailable() is None else None,
            on_loaded=loaded, trace_stream=server,
        )
        metrics = timing_metrics(measured)
        metrics.update(measured.info)
        if server:  # what happens inside the server is not visible from this process
            metrics.update(load_s=None, peak_rss_bytes=None, start_rss_bytes=None, peak_vram_bytes=None)
        metrics["roofline"] = _roofline(cfg, measured, metrics, bandwidth)
        metrics["flags"] = check_physics(cfg, measured, metrics, bandwidth, progress)
        metrics["cost"] = _cost(options, metrics, cfg.load_options.get("prices"))
        n_layers = ((metrics["roofline"] or {}).get("shape") or {}).get("layers")
        metrics["warnings"] = metrics["warnings"] + fit.slow_paths(
            cfg.spec.backend, metrics["placement"], cfg.config.get("gpu_layers"), n_layers)
        return "ok", None, metrics
    except _ROW_FAILURES as e:
        if fit.is_oom(e):
            advice = fit.oom_advice(cfg.spec.backend, _file_shape(cfg), machine.free_vram(), machine.available_ram(), context)
            return "oom", note(f"{unrendered(_failure(e))}; {unrendered(advice)}"), {"advice": advice}
        return "failed", _failure(e), {}
    finally:
        release(measured)


# ---- the whole benchmark -------------------------------------------------------------------
def run_bench(options: BenchOptions, *, db: str | None = None, machine: Machine | None = None,
              progress: Progress | None = None) -> BenchReport:
    """Measure every configuration of every model and store the run; see the module docstring.

    Raises UsageError / ModelNotFound / StoreError (nothing stored) for bad options, model
    specs or databases; a configuration that fails becomes a row, never an exception.
    """
    from hanprompt import settings
    from hanprompt.store import open_engine
    from hanprompt.store.bench import add_result
    from hanprompt.store.runs import RunLife

    options.check()
    specs = [parse_spec(m) for m in options.models]
    local = {spec: local_spec(spec) for spec in specs}
    engine = open_engine(settings.db_url(db))
    machine = machine or LocalMachine()
    configs = expand(options, specs, machine)
    for cfg in configs:
        cfg.local = local[cfg.spec]

    counters: dict[str, tokens.Count | None] = {}
    korean: dict[str, dict] = {}
    for spec in dict.fromkeys(specs):  # no progress line: a hub model that cannot be had is one error line
        count, why = tokens.counter(local[spec])
        counters[str(spec)] = count
        korean[str(spec)] = tokens.korean_efficiency(count) if count else {"error": why}
    bandwidth = Bandwidths(options.bandwidth, machine, progress)
    if any(c.skip is None and c.spec.backend in ("hf", "gguf") for c in configs):
        bandwidth.get("cpu")  # measured before any model takes memory or cores

    settings_ = {k: getattr(options, k) for k in ("prompt_tokens", "gen_tokens", "repeat", "warmup", "batch",
                                                   "price_per_hour")}
    described = machine.describe()
    # held while it runs (listings tell it from a dead one); ends done, interrupted or failed
    # as store.runs.end_state says: a bug, not a configuration's failure, then propagates
    life = RunLife(
        engine, name=f"bench: {', '.join(str(s) for s in dict.fromkeys(specs))}"[:200], kind="bench",
        spec={"models": [str(s) for s in specs], "devices": list(options.devices), "dtypes": list(options.dtypes),
              "gpu_layers": list(options.gpu_layers), "settings": settings_, "machine": described,
              "bandwidth": dict(bandwidth.entries), "korean": korean},
    )
    rows: list[dict] = []
    with life:
        run_id = life.run_id
        for cfg in configs:
            if progress and not cfg.skip:
                progress(f"{cfg.spec} [{cfg.label}]: loading")
            status, reason, metrics = measure_row(cfg, options, machine, bandwidth, counters[str(cfg.spec)],
                                                  progress)
            metrics["korean"] = korean[str(cfg.spec)]
            row = {"model": str(cfg.spec), "backend": cfg.spec.backend, "config": cfg.config,
                   "status": status, "reason": reason, "metrics": metrics}
            life.check()  # never write to a run another process has taken over
            row["id"] = add_result(engine, run_id, **row)
            rows.append(row)
    return BenchReport(run_id, described, bandwidth.entries, settings_, rows, korean)
