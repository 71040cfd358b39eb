"""The page in a real headless Chromium: Playwright drives Debian's /usr/bin/chromium
(`.ci/run` installs it). In CI a missing browser fails the test; elsewhere it is skipped."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.dashboard.conftest import XSS_COMMAND, XSS_OUTPUT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TOKEN = "correct-horse-battery-staple"
TIMEOUT_MS = 15000
STATES = ["pending", "processing", "completed", "failed", "dead", "canceled"]


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed: pip install playwright"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: apt-get install chromium"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    missing = _missing_browser()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


class Tab:
    """A fresh browser context and page that records every JavaScript error."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        self.page.on("console", self._console)
        self.page.on("dialog", lambda dialog: dialog.accept())

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")


@pytest.fixture
def tab(browser) -> Iterator[Tab]:
    opened = Tab(browser)
    yield opened
    opened.context.close()


def count_of(page, state: str):
    return page.locator(f'#counts a[data-state="{state}"] .count')


def test_the_page_shows_counts_escapes_jobs_and_retries_a_dead_job(
    fast_config, pool, dashboard, tab
):
    from playwright.sync_api import expect

    cli = fast_config
    cli.ok(
        "enqueue",
        "-",
        input="\n".join(
            json.dumps(job)
            for job in (
                {"id": "done", "command": "echo fine"},
                {"id": "xss", "command": XSS_COMMAND},
                {"id": "broken", "command": "echo boom >&2; exit 3", "max_retries": 0},
                {"id": "later", "command": "true", "delay": "1h", "queue": "mail"},
                {"id": "dropped", "command": "true", "delay": "1h"},
            )
        )
        + "\n",
    )
    cli.ok("cancel", "dropped")
    pool(1)
    wait_for(
        lambda: (
            [cli.state(i) for i in ("done", "xss", "broken")] == ["completed", "completed", "dead"]
        ),
        message="the jobs to run",
    )
    cli.ok("worker", "stop", "--wait")  # so the retried job stays pending
    dash = dashboard()
    page = tab.page
    page.goto(dash.url)

    counts = dash.get_json("/api/status")["counts"]
    for state in STATES:
        expect(count_of(page, state)).to_have_text(str(counts[state]), timeout=TIMEOUT_MS)
    expect(page.locator('#counts a[data-state=""] .count')).to_have_text("5")
    expect(page.locator("#queues tr")).to_have_count(2)
    expect(page.locator("#chart svg rect.completed")).not_to_have_count(0)

    xss_row = page.locator('#jobs tr[data-job="xss"]')
    expect(xss_row.locator("td.command")).to_have_text(XSS_COMMAND)
    expect(xss_row.locator("td.command")).to_have_attribute("title", XSS_COMMAND)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    # A delayed job says when it will run; one that ran says nothing there.
    later_run_at = page.locator('#jobs tr[data-job="later"] td.run-at')
    expect(later_run_at).to_have_text(re.compile(r"^in (59m \d+s|1h 0m)$"))
    expect(page.locator('#jobs tr[data-job="done"] td.run-at')).to_have_text("")

    # It refreshes itself: a new job shows up without a page load.
    page.evaluate("window.stillTheSamePage = true")
    cli.ok("run", "--id", "fresh", "--delay", "1h", "true")
    expect(page.locator('#jobs tr[data-job="fresh"]')).to_be_visible(timeout=TIMEOUT_MS)
    assert page.evaluate("window.stillTheSamePage") is True

    page.locator('#dlq tr[data-job="broken"] button[data-action="retry"]').click()
    wait_for(lambda: cli.state("broken") == "pending", message="broken to be pending")
    expect(count_of(page, "dead")).to_have_text("0", timeout=TIMEOUT_MS)
    expect(count_of(page, "pending")).to_have_text("3", timeout=TIMEOUT_MS)
    expect(page.locator("#dlq td.empty")).to_have_text("no dead jobs")
    expect(page.locator("#banner")).to_have_text("broken moved back to pending")
    assert cli.job("broken")["attempts"] == 0

    xss_row.locator("a").first.click()
    expect(page.locator("#job-view")).to_be_visible()
    expect(page.locator("#job-fields pre.command")).to_have_text(XSS_COMMAND, timeout=TIMEOUT_MS)
    expect(page.locator("#attempts pre.output")).to_have_text(XSS_OUTPUT)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None
    assert tab.errors == []


def test_with_a_token_the_browser_logs_in_and_cancels_with_cookie_and_csrf(cli, dashboard, tab):
    from playwright.sync_api import expect

    cli.ok("run", "--id", "waiting", "--delay", "1h", "sleep 1")
    dash = dashboard("--token", TOKEN)
    page = tab.page
    page.goto(dash.url)
    page.fill('input[name="token"]', TOKEN)
    page.click('button[type="submit"]')
    expect(count_of(page, "pending")).to_have_text("1", timeout=TIMEOUT_MS)
    cookies = tab.context.cookies()
    assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]

    page.locator('#jobs tr[data-job="waiting"] button[data-action="cancel"]').click()
    wait_for(lambda: cli.state("waiting") == "canceled", message="the cancel")
    expect(count_of(page, "canceled")).to_have_text("1", timeout=TIMEOUT_MS)

    page.click("#logout")
    expect(page.locator('input[name="token"]')).to_be_visible(timeout=TIMEOUT_MS)
    assert tab.context.cookies() == []
    assert tab.errors == []


def test_a_failed_job_load_clears_the_page_and_dot_ids_open(cli, dashboard, tab):
    """Issue 11, point 16: after one job's page, a missing job's must not keep its fields
    and Cancel button (clicking it canceled the first job); `.` and `..` are ids, not
    paths for the browser to resolve."""
    from playwright.sync_api import expect

    for job_id in ("stale-target", ".", ".."):
        cli.ok("run", "true", "--id", job_id, "--delay", "1h")
    dash = dashboard()
    page = tab.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(dash.url + "#/job/stale-target")
    expect(page.locator("#job-fields pre.command")).to_have_text("true", timeout=TIMEOUT_MS)
    cancel = page.locator('#job-actions button[data-action="cancel"]')
    expect(cancel).to_have_attribute("data-id", "stale-target")

    page.evaluate("window.location.hash = '#/job/no-such-job'")
    expect(page.locator("#banner")).to_contain_text("no-such-job", timeout=TIMEOUT_MS)
    expect(page.locator("#job-id")).to_have_text("no-such-job")
    expect(page.locator("#job-fields tr")).to_have_count(0)
    expect(page.locator("#job-actions button")).to_have_count(0)
    expect(page.locator("#attempts *")).to_have_count(0)
    assert cli.state("stale-target") == "pending"

    for job_id, encoded in ((".", "%2E"), ("..", "%2E%2E")):
        page.evaluate(f"window.location.hash = '#/job/{encoded}'")
        expect(page.locator("#job-id")).to_have_text(job_id)
        expect(page.locator("#job-fields pre.command")).to_have_text("true", timeout=TIMEOUT_MS)
        expect(cancel).to_have_attribute("data-id", job_id)
        assert dash.origin + f"/api/job?id={job_id}" in requested
    cancel.click()
    wait_for(lambda: cli.state("..") == "canceled", message="the cancel of ..")
    assert dash.origin + "/api/job/cancel?id=.." in requested
    assert [cli.state(i) for i in ("stale-target", ".")] == ["pending", "pending"]
    assert all("404" in error for error in tab.errors), tab.errors  # no-such-job's only
