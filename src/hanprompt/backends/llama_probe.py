"""Whether this llama.cpp build runs quantized weights on this CPU: checked once, in a child process.

llama-cpp-python compiles llama.cpp with ``-march=native`` unless told otherwise. On a host whose CPU
advertises AMX (Intel Sapphire Rapids and later, often in virtual machines that do not enable its
tile state), ggml then runs AMX kernels for quantized weights (q8_0, Q4_1, Q4_K_M, ...) whose first
tile instruction traps: the process dies with SIGILL (exit 132) and no message. Float32 and float16
weights take another path and run. The README's install builds portably (``PORTABLE_CMAKE_ARGS``);
a build from elsewhere (a user's own pip cache keeps an earlier native wheel whatever ``CMAKE_ARGS``
says) is caught here: before the first quantized load, a child process loads the file and decodes
two tokens; a child killed by a signal becomes one error line with the rebuild command.

The verdict is kept per build (the shared libraries' sizes and times), CPU (model and flags) and
weight type in ``<cache>/llama-check.json``, so the child runs once per combination.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
from pathlib import Path

from hanprompt.errors import BackendError

#: x86-64-v3 (Haswell and later, Zen 1 and later): runs on every host these machines have been
PORTABLE_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
REBUILD = (f'CMAKE_ARGS="{PORTABLE_CMAKE_ARGS}" pip install --force-reinstall --no-cache-dir --no-deps '
           "llama-cpp-python")
#: llama.cpp's ``llama_ftype`` values of unquantized files (ALL_F32, MOSTLY_F16, MOSTLY_BF16)
UNQUANTIZED = {0, 1, 32}
#: seconds the child may take (it maps the file and decodes two tokens)
TIMEOUT_S = 300.0

_CHILD = """
import sys
import llama_cpp
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=64, n_batch=16, n_threads=1, n_threads_batch=1,
                      verbose=False)
llm.eval([max(llm.token_bos(), 0), max(llm.token_eos(), 0)])
"""
_checked: set[str] = set()  # keys found good by this process


def _build_id() -> str:
    """The installed llama.cpp libraries' names, sizes and modification times."""
    spec = importlib.util.find_spec("llama_cpp")
    root = Path(spec.origin).parent if spec and spec.origin else Path(".")
    parts = []
    for lib in sorted((root / "lib").glob("*")) + sorted(root.glob("*.so*")):
        try:
            st = lib.stat()
        except OSError:
            continue
        parts.append(f"{lib.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts) or str(root)


def _cpu_id() -> str:
    """The CPU's model name and feature flags (Linux), or what ``platform`` says elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return f"{platform.machine()}:{platform.processor()}"
    keep = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(keep))  # the first core's lines; the others repeat them


def _key(file_type: int) -> str:
    text = f"{_build_id()}\n{_cpu_id()}\nftype={file_type}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _store() -> Path:
    from hanprompt.backends.embedded import cache_dir

    return cache_dir() / "llama-check.json"


def _read() -> dict:
    try:
        return json.loads(_store().read_text())
    except (OSError, ValueError):
        return {}


def _write(key: str, verdict: dict) -> None:
    path = _store()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        known = _read()
        known[key] = verdict
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(path)
    except OSError:  # a read-only cache only costs a child process next time
        pass


def crash_error(path: Path, kind: str, sig: int) -> BackendError:
    """The one line for a build that dies on this CPU."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    what = "an illegal instruction" if sig == signal.SIGILL else name
    return BackendError(
        f"this llama-cpp-python build crashes on this CPU with {kind} weights ({what} while running "
        f"{path.name}; a build made with -march=native on a host that advertises AMX does this); "
        f"rebuild it portably: {REBUILD}"
    )


def ensure_runs(path: Path, file_type: int, kind: str) -> None:
    """Return when this build runs ``path``'s weight type here; raise BackendError when it crashes.

    ``file_type`` is the file's ``general.file_type`` (llama.cpp's ``llama_ftype``; -1 unknown),
    ``kind`` its name for messages (``Q4_1``). Unquantized files are not checked. A child that fails
    without a signal (a damaged file, say) decides nothing: the load in this process reports it.
    """
    if file_type in UNQUANTIZED:
        return
    key = _key(file_type)
    if key in _checked:
        return
    known = _read().get(key)
    if known is None:
        try:
            done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return  # too slow to tell (a huge file on a slow disk): no verdict
        if done.returncode < 0:
            known = {"ok": False, "signal": -done.returncode, "kind": kind}
        elif done.returncode == 0:
            known = {"ok": True, "kind": kind}
        else:
            return
        _write(key, known)
    if not known.get("ok"):
        raise crash_error(path, kind, int(known.get("signal") or signal.SIGILL))
    _checked.add(key)
