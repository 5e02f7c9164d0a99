"""Korean word analysis: hanprompt against bare kiwipiepy, and counting over stored responses.

Run: python benchmarks/bench_words.py [--mb 1.2] [--workers 2] [--responses 100000]

1. Throughput: the same ≥ 1 MB of generated Korean text, split into answer-sized documents, is
   counted by hanprompt (analyse_texts: Kiwi batch tokenize + filtering, stopwords, lemmas, top N)
   and by a bare kiwipiepy loop with the same worker count (tokenize + a Counter of NNG/NNP).
   Alternating rounds; the best of each side; characters/s and the ratio are printed.
2. Streaming: N responses are inserted into a temporary SQLite log through hanprompt.store,
   then `analyse_store(--all)` counts them in a fresh process whose peak RSS is reported,
   beside the peak RSS of a process that only loads all responses into a list.
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

PLACES = ["서울", "부산", "제주도", "전주", "경주", "강릉", "여수", "인천", "대구", "광주", "속초", "안동"]
SIGHTS = ["궁궐", "한옥마을", "해수욕장", "전통시장", "박물관", "미술관", "산책로", "폭포", "사찰", "전망대", "야시장", "항구"]
FOODS = ["비빔밥", "냉면", "떡볶이", "국밥", "회", "칼국수", "불고기", "김밥", "호떡", "순두부찌개", "막국수", "갈비"]
PEOPLE = ["친구", "가족", "동료", "부모님", "아이들", "여행객", "학생들", "외국인 관광객"]
SEASONS = ["봄", "여름", "가을", "겨울", "주말", "연휴", "아침", "저녁"]
FEELINGS = ["아름다웠다", "조용했다", "붐볐다", "따뜻했다", "시원했다", "인상적이었다", "편안했다", "흥미로웠다"]
TEMPLATES = [
    "{season}에 {people}와 함께 {place}의 {sight}을 찾았는데 정말 {feeling}.",
    "{place}에서 먹은 {food}은 값이 싸고 맛도 좋아서 다시 가고 싶다.",
    "{place}까지는 기차로 세 시간쯤 걸리고, 역 근처에 {sight}이 있어서 걷기 좋다.",
    "{people}에게 {place} 여행을 추천한다면 {sight}과 {food}을 꼭 말해 주고 싶다.",
    "{season}의 {place}는 {sight} 주변이 특히 {feeling}.",
    "숙소에서 {sight}까지 버스를 타고 이동했고, 점심으로 {food}을 먹었다.",
    "{place} 사람들은 친절했고 {sight} 안내도 자세하게 해 주었다.",
    "여행 계획을 세울 때는 {place}의 날씨와 {sight} 운영 시간을 먼저 확인하세요.",
    "{people}는 {place}의 {food}이 가장 기억에 남는다고 말했다.",
    "비가 오는 날에는 {sight} 대신 근처의 카페와 서점을 둘러보는 것도 좋습니다.",
    "{place}의 밤거리는 {feeling}, {sight}에서 본 야경은 오래 기억할 것 같다.",
    "교통카드를 하나 사 두면 {place} 안에서 지하철과 버스를 편하게 탈 수 있다.",
]


def sentence(rng: random.Random) -> str:
    return rng.choice(TEMPLATES).format(
        place=rng.choice(PLACES), sight=rng.choice(SIGHTS), food=rng.choice(FOODS),
        people=rng.choice(PEOPLE), season=rng.choice(SEASONS), feeling=rng.choice(FEELINGS),
    )


def documents(total_bytes: int, seed: int = 7, sentences: tuple[int, int] = (3, 9)) -> list[str]:
    """Answer-sized documents of generated Korean, at least ``total_bytes`` of UTF-8 in all."""
    rng = random.Random(seed)
    docs, size = [], 0
    while size < total_bytes:
        doc = " ".join(sentence(rng) for _ in range(rng.randint(*sentences)))
        docs.append(doc)
        size += len(doc.encode())
    return docs


def bare_kiwi(kiwi, docs: list[str]) -> Counter:
    nouns = {"NNG", "NNP"}
    counts: Counter = Counter()
    for tokens in kiwi.tokenize(docs):
        counts.update([t.form for t in tokens if t.tag in nouns])
    return counts


def throughput(mb: float, workers: int, rounds: int, sentences: tuple[int, int] = (3, 9)) -> dict:
    from kiwipiepy import Kiwi

    from hanprompt.analysis.service import WordOptions, analyse_texts

    docs = documents(int(mb * 1_000_000), sentences=sentences)
    chars = sum(map(len, docs))
    print(f"\ncorpus of {sentences[0]}-{sentences[1]} sentences per document: {len(docs)} documents, "
          f"{chars:,} characters, "
          f"{sum(len(d.encode()) for d in docs) / 1e6:.2f} MB UTF-8; {workers} workers")
    kiwi = Kiwi(num_workers=workers)
    options = WordOptions(workers=workers, top=20)
    bare_kiwi(kiwi, docs[:50])  # load both models before timing
    analyse_texts(docs[:50], options)
    best = {"bare kiwipiepy": float("inf"), "hanprompt": float("inf")}
    for _ in range(rounds):
        t = time.perf_counter()
        bare_kiwi(kiwi, docs)
        best["bare kiwipiepy"] = min(best["bare kiwipiepy"], time.perf_counter() - t)
        t = time.perf_counter()
        report = analyse_texts(docs, options)
        best["hanprompt"] = min(best["hanprompt"], time.perf_counter() - t)
    speeds = {k: chars / v for k, v in best.items()}
    for name, speed in speeds.items():
        print(f"  {name:15s} {best[name]:6.2f} s   {speed:10,.0f} chars/s")
    ratio = speeds["hanprompt"] / speeds["bare kiwipiepy"]
    print(f"  ratio hanprompt / bare: {ratio:.1%}   (top word: {report.result['top'][0]['word']})")
    return {"chars": chars, "speeds": speeds, "ratio": ratio}


# ru_maxrss survives exec on Linux (a child would report the parent's peak); VmHWM does not.
PEAK = """
def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""
CHILD_COUNT = PEAK + """
import json, sys, time
from hanprompt.analysis.morphology import get_kiwi
from hanprompt.analysis.service import WordOptions, analyse_store
get_kiwi((), int(sys.argv[2]))  # the model load (about 1 s) is not counting
t = time.perf_counter()
report = analyse_store(WordOptions(workers=int(sys.argv[2]), top=10), db=sys.argv[1], reuse=False)
print(json.dumps({"seconds": time.perf_counter() - t, "documents": report.result["documents"],
                  "peak_rss_mb": peak_mb()}))
"""
CHILD_LOAD_ALL = PEAK + """
import json, sys
from sqlalchemy import create_engine, text
engine = create_engine(sys.argv[1])
with engine.connect() as conn:
    texts = [r[0] for r in conn.execute(text("SELECT response FROM generations"))]
print(json.dumps({"documents": len(texts),
                  "peak_rss_mb": peak_mb()}))
"""
CHILD_BASELINE = PEAK + """
import json, sys
import kiwipiepy, sqlalchemy
from hanprompt.analysis import service, charts
from hanprompt.store import analyses
from hanprompt.analysis.morphology import get_kiwi
kiwi = get_kiwi((), int(sys.argv[1]))
for _ in kiwi.tokenize(["서울의 궁궐과 부산의 바다를 보고 제주도에서 국수를 먹었다."] * 200):
    pass
print(json.dumps({"peak_rss_mb": peak_mb()}))
"""


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fill(url: str, n: int, seed: int = 11) -> int:
    """Store ``n`` generated responses through hanprompt.store; return their characters."""
    from hanprompt.store import open_engine
    from hanprompt.store.runs import add_generation, create_run

    rng = random.Random(seed)
    engine = open_engine(url)
    run_id = create_run(engine, name="bench", kind="experiment")
    chars = 0
    for start in range(0, n, 5000):
        with engine.begin() as conn:
            for _ in range(min(5000, n - start)):
                text = " ".join(sentence(rng) for _ in range(rng.randint(1, 3)))
                chars += len(text)
                add_generation(conn, run_id, {"model": "hf:bench", "backend": "hf", "response": text})
    engine.dispose()
    return chars


def streaming(n: int, workers: int) -> dict:
    """Peak memory of counting n stored responses against n/10: flat when it streams."""
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = child(CHILD_BASELINE, str(workers))
        print(f"\nprocess with Kiwi loaded and warmed up, nothing counted: peak RSS {base['peak_rss_mb']:.0f} MB")
        for size in (n // 10, n):
            url = f"sqlite:///{Path(tmp) / f'bench-{size}.db'}"
            chars = fill(url, size)
            counted = child(CHILD_COUNT, url, str(workers))
            loaded = child(CHILD_LOAD_ALL, url)
            rows[size] = {"chars": chars, "counted": counted, "loaded": loaded}
            print(f"  {size:>7,} stored responses ({chars:,} chars): analyse_store --all "
                  f"{counted['seconds']:.1f} s, {chars / counted['seconds']:,.0f} chars/s, "
                  f"peak RSS {counted['peak_rss_mb']:.0f} MB; "
                  f"a process that only loads them all into a list: {loaded['peak_rss_mb']:.0f} MB")
    small, large = rows[n // 10]["counted"]["peak_rss_mb"], rows[n]["counted"]["peak_rss_mb"]
    print(f"  peak RSS grows {large - small:+.0f} MB from {n // 10:,} to {n:,} responses")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.2, help="UTF-8 megabytes of text for the throughput test")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--responses", type=int, default=100_000, help="stored responses for the streaming test")
    args = parser.parse_args()
    throughput(args.mb, args.workers, args.rounds)
    # Short answers, like the stored responses below: Kiwi's per-document cost weighs more.
    throughput(args.mb, args.workers, args.rounds, sentences=(1, 3))
    if args.responses:
        streaming(args.responses, args.workers)


if __name__ == "__main__":
    main()
