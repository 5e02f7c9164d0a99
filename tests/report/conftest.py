"""Fixtures of the report and viewer tests: the sample log, and a real browser (Debian's Chromium)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from report_sample import SampleLog, write_sample_log

CHROMIUM = os.environ.get("HANPROMPT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def db(hanprompt_home) -> str:
    """The default SQLite URL of this test's private home."""
    from hanprompt import settings

    return settings.db_url()


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory) -> SampleLog:
    """The sample log, written once per test module; tests only read it (pass --db sample_log.url)."""
    return write_sample_log(f"sqlite:///{tmp_path_factory.mktemp('log') / 'hanprompt.db'}")


# --- the browser ------------------------------------------------------------------------------


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped without it, except in CI (CI=true)."""
    reason = chromium_missing()
    if reason:
        if os.environ.get("CI") == "true" or os.environ.get("HANPROMPT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are required here: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request, tmp_path):
    """A fresh page that records console errors and page errors; a screenshot when the test fails."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        folder = Path(os.environ.get("HANPROMPT_SCREENSHOTS", tmp_path))
        folder.mkdir(parents=True, exist_ok=True)
        shot = folder / f"{request.node.name}.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
        except Exception as e:  # a closed page cannot be photographed; the test's own failure matters
            print(f"no screenshot: {e}")
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell whether the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)
