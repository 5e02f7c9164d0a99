"""Text entry: hanprompt's one reader against Python's own, and the sentence splitters, in one run.

(a) Reading a large Korean file line by line: ``open(encoding="utf-8")`` iteration (which splits
    on \\r, U+2028 and friends and keeps the BOM) against ``hanprompt.textio.iter_lines`` (BOM,
    UTF-16, \\n / \\r\\n only, NFC per line). Half the lines are NFD, as a macOS copy would give.
(b) Splitting answers into sentences: sentencex (English sources) and Kiwi (Korean sources),
    as sentences per second over the shipped reference set repeated.

    python benchmarks/bench_text.py [--mb 50] [--repeat 20]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _file(folder: Path, mb: int) -> Path:
    lines = (ROOT / "examples" / "korea-travel-ko.txt").read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if line.strip()]
    block = "\n".join(line if i % 2 else unicodedata.normalize("NFD", line) for i, line in enumerate(lines)) + "\n"
    path = folder / "big.txt"
    data = block.encode()
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        for _ in range(mb * 1_000_000 // len(data) + 1):
            fh.write(data)
    return path


def _time(fn) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    from hanprompt.textio import iter_lines
    from hanprompt.translate.segment import split_sentences

    with tempfile.TemporaryDirectory() as tmp:
        path = _file(Path(tmp), args.mb)
        size = path.stat().st_size / 1e6

        def plain() -> int:
            with open(path, encoding="utf-8") as fh:
                return sum(1 for _ in fh)

        def ours() -> int:
            return sum(1 for _ in iter_lines(path))

        plain(), ours()  # warm the page cache
        t_plain, n_plain = _time(plain)
        t_ours, n_ours = _time(ours)
    print(f"(a) {size:.0f} MB Korean text, half NFD: open() {size / t_plain:.0f} MB/s ({n_plain} lines), "
          f"textio.iter_lines {size / t_ours:.0f} MB/s ({n_ours} lines); ratio {t_plain / t_ours:.2f}x")

    tr = ROOT / "examples" / "translation"
    for lang, name in (("en", "en-ko.en"), ("ko", "en-ko.ko")):
        lines = (tr / name).read_text(encoding="utf-8").splitlines() * args.repeat
        split_sentences(lines[0], lang)  # load the splitter (Kiwi: about a second)
        t, n = _time(lambda: sum(len(split_sentences(line, lang)) for line in lines))
        print(f"(b) {'sentencex' if lang == 'en' else 'Kiwi'} ({lang}): {len(lines)} lines, {n} sentences, "
              f"{n / t:,.0f} sentences/s")


if __name__ == "__main__":
    main()
