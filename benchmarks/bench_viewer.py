"""The web viewer on a large log: pages of a log of 100,000 generations against one of 100.

Run: python benchmarks/bench_viewer.py [--generations 100000] [--small 100] [--per-run 100] [--rounds 7]

Two SQLite logs are written through hanprompt.store's tables in a temporary folder: the large one
holds ``--generations`` answers in runs of ``--per-run`` (two models, five variants, Korean
answers, two checks each), the small one ``--small`` answers of the same shape. The viewer app
(`hanprompt.report.viewer.create_app` over its read-only engine) answers requests in process
through Starlette's test client, so a figure is routing + queries + templates + the policy, not
the network. Each page is requested once to warm up, then ``--rounds`` times; the median is
printed for both logs with the ratio large / small. For scale, the store's `list_runs` (which
counts every generation of every run) is timed on both logs too.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ANSWERS = [
    "서울은 한국의 수도입니다. 경복궁과 북촌 한옥마을을 걸어 보세요.",
    "부산에서는 해운대와 자갈치 시장이 유명합니다. 돼지국밥도 드셔 보세요.",
    "제주도는 성산일출봉과 한라산으로 유명합니다. 봄에는 유채꽃이 핍니다.",
    "Python is a good first language; start with the official tutorial and small projects.",
    "전주 한옥마을에서는 비빔밥을 꼭 드셔 보세요. 밤에는 야시장이 열립니다.",
]


def build_log(url: str, generations: int, per_run: int) -> list[int]:
    """Write ``generations`` answers in runs of ``per_run``; return the run ids."""
    from sqlalchemy import insert, select

    from hanprompt.store import open_engine
    from hanprompt.store.db import now
    from hanprompt.store.runs import create_run, finish_run
    from hanprompt.store.schema import checks
    from hanprompt.store.schema import generations as gens

    engine = open_engine(url)
    run_ids, made = [], 0
    while made < generations:
        n = min(per_run, generations - made)
        run_id = create_run(engine, name=f"travel-{len(run_ids) % 7}", kind="experiment")
        stamp = now()
        with engine.begin() as conn:
            conn.execute(insert(gens), [
                {"run_id": run_id, "model": f"hf:model-{i % 2}", "backend": "hf", "variant": f"v{i % 5}",
                 "vars": {"city": ["서울", "부산"][i % 2]}, "repeat_index": 0, "cell_key": f"{run_id}-{i}",
                 "messages": [{"role": "user", "content": f"여행지를 추천해 주세요 ({i})"}],
                 "prompt": f"<|im_start|>user\n여행지를 추천해 주세요 ({i})<|im_end|>",
                 "response": f"{ANSWERS[(made + i) % len(ANSWERS)]} ({run_id}-{i})", "input_tokens": 20,
                 "output_tokens": 30 + i % 17, "ttft_s": 0.05, "total_s": 1.5, "tokens_per_s": 20.0 + i % 9,
                 "finish_reason": "eos", "created_at": stamp}
                for i in range(n)
            ])
            ids = list(conn.execute(select(gens.c.id).where(gens.c.run_id == run_id)).scalars())
            conn.execute(insert(checks), [
                {"generation_id": g, "name": name, "spec": {name: 2}, "passed": (g + k) % 4 != 0,
                 "reason": "checked", "score": None}
                for g in ids for k, name in enumerate(("min-words", "language"))
            ])
        finish_run(engine, run_id)
        run_ids.append(run_id)
        made += n
    return run_ids


def time_pages(url: str, pages: dict[str, str], rounds: int) -> dict[str, float]:
    """Median milliseconds of each page over ``rounds`` requests after one warm-up."""
    from starlette.testclient import TestClient

    from hanprompt.report.viewer import create_app, read_only_engine

    client = TestClient(create_app(read_only_engine(url)), base_url="http://127.0.0.1")
    out = {}
    for name, path in pages.items():
        assert client.get(path).status_code == 200, path
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        out[name] = statistics.median(samples)
    return out


def time_list_runs(url: str, rounds: int) -> float:
    from hanprompt.store import open_engine
    from hanprompt.store.runs import list_runs

    engine = open_engine(url)
    list_runs(engine, limit=50)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        list_runs(engine, limit=50)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--per-run", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        logs = {}
        for label, count in (("small", args.small), ("large", args.generations)):
            url = f"sqlite:///{Path(folder) / f'{label}.db'}"
            start = time.perf_counter()
            runs = build_log(url, count, args.per_run)
            size = sum(p.stat().st_size for p in Path(folder).glob(f"{label}.db*"))  # with the WAL
            print(f"{label}: {count:,} generations in {len(runs):,} runs written in "
                  f"{time.perf_counter() - start:.1f} s ({size / 2**20:.1f} MiB)", file=sys.stderr)
            logs[label] = (url, runs)

        def pages(runs: list[int]) -> dict[str, str]:
            newest = runs[-1]
            return {
                "runs page (/)": "/",
                "filtered page (/generations?q=서울&model=model-1&check=failed)":
                    "/generations?q=서울&model=model-1&check=failed",
                "a run's page (/runs/ID)": f"/runs/{newest}",
                "one generation (/generations/ID)": "/generations/1",
                "rare filter, no match (/generations?q=없는말)": "/generations?q=없는말",
            }

        results = {label: time_pages(url, pages(runs), args.rounds) for label, (url, runs) in logs.items()}
        reference = {label: time_list_runs(url, args.rounds) for label, (url, _) in logs.items()}

    print(f"\n| page | {args.small:,} generations | {args.generations:,} generations | ratio |")
    print("|---|---|---|---|")
    for name in results["small"]:
        small, large = results["small"][name], results["large"][name]
        print(f"| {name} | {small:.1f} ms | {large:.1f} ms | {large / small:.2f}x |")
    small, large = reference["small"], reference["large"]
    print(f"| for scale: `store.runs.list_runs(limit=50)` (counts every generation) | {small:.1f} ms | "
          f"{large:.1f} ms | {large / small:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
