"""Regenerate the pictures in docs/images/ from a real run on the embedded model.

    python docs/scripts/screenshots.py            # about two minutes on 2 CPU cores

In a fresh HANPROMPT_HOME: runs examples/first-run.yaml on ``smollm2``, counts the words of
examples/korea-travel-ko.txt (chart), benchmarks ``smollm2`` briefly (bench chart), writes
``hanprompt report`` and serves ``hanprompt view``, and photographs both pages with Playwright
driving the system's Chromium (/usr/bin/chromium; never a downloaded browser).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("HANPROMPT_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1000, "height": 640}


def hanprompt(env: dict, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "hanprompt", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True)
    if proc.returncode:
        sys.exit(f"hanprompt {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout + proc.stderr


def shoot(url: str, out: Path, start_at: str | None = None) -> None:
    """A viewport-sized picture of the page at ``url``, from the heading ``start_at`` if given."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        top = 0.0
        if start_at:
            box = page.get_by_role("heading", name=start_at).first.bounding_box()
            top = max(0.0, box["y"] - 16) if box else 0.0
        page.screenshot(path=str(out), full_page=True,
                        clip={"x": 0, "y": top, "width": VIEWPORT["width"], "height": VIEWPORT["height"]})
        browser.close()


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hanprompt-shots-"))
    env = dict(os.environ, HANPROMPT_HOME=str(work / "home"), HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT / "src"), COLUMNS="100")
    env.pop("HANPROMPT_MODEL", None)
    env.pop("HANPROMPT_DB", None)
    try:
        out = hanprompt(env, "run", "examples/first-run.yaml")
        run_id = re.search(r"run (\d+): ", out).group(1)
        hanprompt(env, "words", "examples/korea-travel-ko.txt", "--top", "10", "--chart", str(IMAGES / "words-chart.png"))
        hanprompt(env, "bench", "-m", "smollm2", "--repeat", "2", "--warmup", "1", "--prompt-tokens", "64",
                  "--gen-tokens", "16", "--chart", str(IMAGES / "bench-chart.png"))
        report = work / "report.html"
        hanprompt(env, "report", run_id, "-o", str(report))
        shoot(report.as_uri(), IMAGES / "report.png", start_at="Answers side by side")
        viewer = subprocess.Popen([sys.executable, "-m", "hanprompt", "view", "--port", "0"], cwd=ROOT, env=env,
                                  text=True, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        try:
            line = viewer.stderr.readline()
            url = re.search(r"(http://\S+?)/? ", line).group(1)
            shoot(f"{url}/runs/{run_id}", IMAGES / "viewer.png")
        finally:
            viewer.terminate()
            viewer.wait(10)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for png in sorted(IMAGES.glob("*.png")):
        print(f"{png.relative_to(ROOT)}: {png.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
