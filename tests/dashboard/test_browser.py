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

from tests.conftest import one_at_a_time, wait_for
from tests.dashboard.conftest import XSS_COMMAND, XSS_OUTPUT

# One worker runs the module, so the module's browser starts once; Chromium is heavy.
pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"), one_at_a_time]

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
    # What the attempt's command used (SPEC §9), in its summary line.
    expect(page.locator("#attempts summary")).to_contain_text(re.compile(r"CPU \d+\.\d{3} s"))
    expect(page.locator("#attempts summary")).to_contain_text(re.compile(r"max RSS \d+\.\d MiB"))
    assert page.locator("img").count() == 0
    assert page.evaluate("window.pwned") is None

    # Issue 11, point 20: a moment to come (a canceled job's run_at) read "(0.0s ago)".
    page.evaluate("window.location.hash = '#/job/dropped'")
    run_at = page.locator("#job-fields tr", has_text="run at").locator("td")
    expect(run_at).to_contain_text(re.compile(r"\(in (59m \d+s|1h 0m)\)"), timeout=TIMEOUT_MS)
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


# --- issue 11, point 20: what the page shows ---------------------------------------------


def in_every_code_point_but_unassigned() -> str:
    """Every character Python's Unicode data assigns: a newer Unicode in the browser may
    have assigned more, which the two would then judge differently."""
    import unicodedata

    return "".join(
        chr(code)
        for code in range(0x110000)
        if unicodedata.category(chr(code)) not in ("Cn", "Cs")  # lone surrogates: no JSON
    )


def test_invisible_characters_show_as_escapes_the_same_as_in_the_cli(cli, dashboard, tab):
    from playwright.sync_api import expect

    from queuectl.visible import LINE_BREAKS, visible

    command = "echo \u202etxt.exe; rm -rf nothing-here \u200b#"
    shown = "echo \\u202etxt.exe; rm -rf nothing-here \\u200b#"
    cli.ok("run", "--id", "sneaky", "--delay", "1h", command)
    page = tab.page
    page.goto(dashboard().url)
    cell = page.locator('#jobs tr[data-job="sneaky"] td.command')
    expect(cell).to_have_text(shown, timeout=TIMEOUT_MS)
    expect(cell).to_have_attribute("title", shown)
    page.locator('#jobs tr[data-job="sneaky"] a').click()
    expect(page.locator("#job-fields pre.command")).to_have_text(shown, timeout=TIMEOUT_MS)

    sample = in_every_code_point_but_unassigned()
    for keep in ("", LINE_BREAKS):
        in_js = page.evaluate(
            "([text, keep]) => window.queuectl.visible(text, keep)", [sample, keep]
        )
        assert in_js == visible(sample, keep)
    assert tab.errors == []


def serious_violations(page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}, x{len(v['nodes'])}): {v['nodes'][0]['html']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_on_any_view(jobs_in_every_state, dashboard, browser, scheme):
    """The jobs list with data, the workers, the dead letter queue (all on the overview)
    and a job's page, in both colour schemes."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(dashboard().url)
        expect(page.locator('#jobs tr[data-job="later"]')).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator('#dlq tr[data-job="broken"]')).to_be_visible()
        expect(page.locator("#workers tr td.empty")).to_have_count(0)
        assert serious_violations(page) == []
        page.evaluate("window.location.hash = '#/job/broken'")
        expect(page.locator("#attempts pre.output")).to_have_text("boom\n", timeout=TIMEOUT_MS)
        assert serious_violations(page) == []
        assert page.locator("h1").count() == 1
    finally:
        context.close()


def right_edges(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(
        selector, "nodes => nodes.map(n => n.getBoundingClientRect().right)"
    )


def test_a_narrow_screen_keeps_everything_in_view(jobs_in_every_state, dashboard, browser):
    """At 420 px the store path ran off the header, a state name out of its card, and each
    table scrolled on its own with its buttons off-screen."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 420, "height": 900})
    try:
        page = context.new_page()
        page.goto(dashboard().url)
        expect(page.locator('#jobs tr[data-job="later"]')).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator('#dlq tr[data-job="broken"]')).to_be_visible()
        expect(page.locator("#store")).not_to_have_text("")
        width = page.evaluate("document.documentElement.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        buttons = right_edges(page, "button:visible")
        assert len(buttons) >= 5 and max(buttons) <= width, buttons
        assert max(right_edges(page, "#store, .card .label, .grid td")) <= width
        overflowing = page.eval_on_selector_all(
            ".card .label, .panel",
            "nodes => nodes.filter(n => n.scrollWidth > n.clientWidth)"
            ".map(n => n.textContent.slice(0, 40))",
        )
        assert overflowing == []
        assert serious_violations(page) == []
    finally:
        context.close()


def test_a_long_error_keeps_the_retry_buttons_in_the_dlq_panel(
    fast_config, pool, dashboard, browser
):
    """At 1400 px a long error pushed them past the panel. A real dead job, its answer
    given a long error (as a spawn failure quoting a long path would be)."""
    from playwright.sync_api import expect

    cli = fast_config
    cli.ok("run", "--id", "broken", "--max-retries", "0", "exit 3")
    pool(1)
    wait_for(lambda: cli.state("broken") == "dead", message="the job to die")
    cli.ok("worker", "stop", "--wait")
    long_error = "cannot start the command: " + "a very long reason " * 40

    def with_long_error(route) -> None:
        page = route.fetch().json()
        for job in page["jobs"]:
            job["last_error"] = long_error
        route.fulfill(json=page)

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.route(lambda url: "state=dead" in url, with_long_error)
        page.goto(dashboard().url)
        error = page.locator('#dlq tr[data-job="broken"] td.error')
        expect(error).to_have_attribute("title", long_error, timeout=TIMEOUT_MS)
        panel = page.locator("#dlq-panel").bounding_box()
        button = page.locator('#dlq button[data-action="retry"]').bounding_box()
        assert button["x"] + button["width"] <= panel["x"] + panel["width"]
        assert page.evaluate(
            "(p => p.scrollWidth <= p.clientWidth)(document.getElementById('dlq-panel'))"
        )
    finally:
        context.close()


def test_the_page_says_it_is_loading_until_the_first_data(cli, dashboard, tab):
    from playwright.sync_api import expect

    cli.ok("run", "--id", "waiting", "--delay", "1h", "true")
    held: list = []
    page = tab.page
    page.route("**/api/status", lambda route: held.append(route))  # answered when told
    page.goto(dashboard().url)
    # Playwright hands over the request while the test waits on the page.
    wait_for(lambda: page.wait_for_timeout(50) or held, message="the held request")
    expect(page.locator("#loading")).to_be_visible()
    expect(page.locator("#jobs tr")).to_have_count(0)
    for route in held:
        route.continue_()
    page.unroute("**/api/status")
    expect(page.locator('#jobs tr[data-job="waiting"]')).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.locator("#loading")).to_be_hidden()


def test_live_output_follows_its_newest_lines_unless_scrolled_up(
    cli, pool, dashboard, tab, tmp_path
):
    from playwright.sync_api import expect

    more, done = tmp_path / "more", tmp_path / "done"
    wait_file = "while [ ! -e {0} ]; do sleep 0.1; done"
    cli.ok(
        "run",
        "--id",
        "chatty",
        f"seq 1 200; {wait_file.format(more)}; seq 201 400; {wait_file.format(done)}; seq 401 600",
    )
    pool(1)
    page = tab.page
    page.goto(dashboard().url + "#/job/chatty")
    output = page.locator("#attempts pre.output")
    at_bottom = "pre => pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4"
    expect(output).to_contain_text("\n200\n", timeout=TIMEOUT_MS)
    assert output.evaluate(at_bottom)
    more.touch()
    expect(output).to_contain_text("\n400\n", timeout=TIMEOUT_MS)
    assert output.evaluate(at_bottom)

    output.evaluate("pre => { pre.scrollTop = 100; }")
    done.touch()
    expect(output).to_contain_text("\n600\n", timeout=TIMEOUT_MS)
    assert output.evaluate("pre => pre.scrollTop") == 100
    wait_for(lambda: cli.state("chatty") == "completed", message="chatty to end")
    cli.ok("worker", "stop", "--wait")
    assert tab.errors == []


# --- workflows (SPEC §7): groups, holds, dependencies ------------------------------------


def test_groups_show_progress_filter_the_jobs_and_a_job_shows_why_it_waits(
    fast_config, pool, dashboard, tab
):
    """A group's bar and its text, the group filter, and on a job's page its reasons, its
    dependencies and dependents as links, Hold then Release; Requeue failed on a group."""
    from playwright.sync_api import expect

    cli = fast_config
    cli.ok("run", "--id", "ok", "--group", "g", "true")
    cli.ok("run", "--id", "bad", "--group", "g", "--max-retries", "0", "exit 3")
    pool(1)
    wait_for(lambda: [cli.state("ok"), cli.state("bad")] == ["completed", "dead"])
    cli.ok("worker", "stop", "--wait")  # so what is enqueued now stays pending
    cli.ok("run", "--id", "later", "--group", "g", "--after", "ok", "--after-any", "bad", "true")
    cli.ok("run", "--id", "next", "--after", "later", "true")
    cli.ok("run", "--id", "loose", "true")
    dash = dashboard()
    page = tab.page
    page.goto(dash.url)

    row = page.locator('#groups tr[data-group="g"]')
    expect(row).to_be_visible(timeout=TIMEOUT_MS)
    bar = row.locator("svg.progress")
    expect(bar).to_have_attribute("role", "img")
    expect(bar).to_have_attribute("aria-label", "progress of g: 1 completed, 1 dead, 1 pending")
    expect(bar.locator("rect.completed")).to_have_count(1)
    expect(bar.locator("rect.dead")).to_have_count(1)
    expect(row).to_contain_text("2 of 3 (67%)")
    expect(row.locator('button[data-action="group-cancel"]')).to_have_attribute("data-group", "g")
    assert serious_violations(page) == []

    page.select_option("#filter-group", "g")
    expect(page.locator("#jobs tr")).to_have_count(3, timeout=TIMEOUT_MS)
    assert page.locator("#jobs tr[data-job]").evaluate_all(
        "rows => rows.map(r => r.dataset.job)"
    ) == ["later", "bad", "ok"]
    expect(page.locator("#page-info")).to_have_text("1–3 of 3")
    assert "group=g" in page.evaluate("window.location.hash")

    page.locator('#jobs tr[data-job="later"] a').click()
    expect(page.locator("#job-id")).to_have_text("later", timeout=TIMEOUT_MS)
    deps = page.locator("#dependencies li")
    expect(deps).to_have_count(2, timeout=TIMEOUT_MS)
    expect(deps.nth(0)).to_have_text("ok to complete completed")
    expect(deps.nth(1)).to_have_text("bad to end dead")
    expect(deps.nth(1).locator("a")).to_have_attribute("href", "#/job/bad")
    expect(page.locator("#reasons li[data-code=no_worker]")).to_have_text(
        "no live worker serves queue default"
    )
    assert serious_violations(page) == []

    page.click('#job-actions button[data-action="hold"]')
    expect(page.locator("#job-state .badge.held")).to_have_text("held", timeout=TIMEOUT_MS)
    expect(page.locator("#reasons li[data-code=held]")).to_be_visible()
    assert cli.job("later")["held"] is True
    release = page.locator('#job-actions button[data-action="release"]')
    expect(release).to_have_attribute("data-id", "later")
    release.click()
    expect(page.locator("#job-state .badge.held")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator('#job-actions button[data-action="hold"]')).to_be_visible()
    assert cli.job("later")["held"] is False

    page.locator("#dependents li a", has_text="next").click()
    expect(page.locator("#job-id")).to_have_text("next", timeout=TIMEOUT_MS)
    expect(page.locator("#reasons li[data-code=dependency]")).to_have_text(
        "it waits for later (pending) to complete", timeout=TIMEOUT_MS
    )
    expect(page.locator("#dependents li")).to_have_text("no job waits for it")

    page.goto(dash.url)
    page.locator('#groups tr[data-group="g"] button[data-action="group-requeue"]').click()
    wait_for(lambda: cli.state("bad") == "pending", message="the group's requeue")
    expect(page.locator("#banner")).to_have_text(
        "1 jobs of group g moved back to pending (2 skipped)", timeout=TIMEOUT_MS
    )
    assert tab.errors == []


# --- flow control (SPEC §8): queues and locks --------------------------------------------


def test_queues_pause_and_resume_by_their_buttons_and_held_locks_show(
    cli, pool, dashboard, tab, tmp_path
):
    """The Queues panel's state, running / limit and Pause then Resume (by keyboard, then
    by a click), each seen in the store; the Held locks panel links the lock's holder."""
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    cli.ok("queue", "limit", "gpu", "2")
    wait_loop = f"while ! test -e {gate}; do sleep 0.05; done"
    cli.ok("run", "--id", "holder", "--queue", "gpu", "--lock", "deploy", "--", wait_loop)
    cli.ok("run", "--id", "img", "--queue", "images", "--delay", "1h", "true")
    pool(1, "--queue", "gpu")
    wait_for(lambda: cli.state("holder") == "processing", message="the lock's holder to run")
    page = tab.page
    page.goto(dashboard().url)

    def paused(queue: str) -> bool:
        return {q["queue"]: q["paused"] for q in cli.json("queue", "list")}[queue]

    images = page.locator('#queues tr[data-queue="images"]')
    expect(images.locator("td.flow")).to_have_text("active", timeout=TIMEOUT_MS)
    expect(page.locator('#queues tr[data-queue="gpu"] td.running')).to_have_text("1 / 2")
    expect(images.locator("td.running")).to_have_text("0 / no limit")
    lock = page.locator('#locks tr[data-lock="deploy"]')
    expect(lock).to_contain_text("deploy")
    expect(lock.locator("a")).to_have_attribute("href", "#/job/holder")

    page.get_by_role("button", name="Pause queue images").focus()
    page.keyboard.press("Enter")
    wait_for(lambda: paused("images"), message="images to be paused")
    expect(page.locator("#banner")).to_have_text("queue images paused", timeout=TIMEOUT_MS)
    expect(images.locator("td.flow")).to_have_text("paused", timeout=TIMEOUT_MS)
    assert not paused("gpu")
    assert serious_violations(page) == []

    page.get_by_role("button", name="Resume queue images").click()
    wait_for(lambda: not paused("images"), message="images to be resumed")
    expect(images.locator("td.flow")).to_have_text("active", timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Pause queue images")).to_be_visible()

    gate.touch()
    wait_for(lambda: cli.state("holder") == "completed", message="the holder to finish")
    expect(page.locator("#locks td.empty")).to_have_text("no lock is held", timeout=TIMEOUT_MS)
    assert tab.errors == []


def test_schedules_pause_resume_and_run_now_by_their_buttons(cli, pool, dashboard, tab):
    """The Schedules panel's cron, zone, next run in its zone and state, no secret of its
    env; Pause by a click, Resume by keyboard and Run now, each seen in the store (the run
    a job of the schedule, which a pool runs and the panel links with its state)."""
    from playwright.sync_api import expect

    cli.ok(
        "schedule",
        "add",
        "nightly",
        "30 2 * * *",
        "echo backup",
        "--tz",
        "Europe/Berlin",
        "--env",
        "API_TOKEN=hush",
    )
    pool(1)
    page = tab.page
    page.goto(dashboard().url)

    def shown() -> dict:
        return cli.json("schedule", "list")[0]

    row = page.locator('#schedules tr[data-schedule="nightly"]')
    expect(row.locator("td.flow")).to_have_text("active", timeout=TIMEOUT_MS)
    expect(row).to_contain_text("30 2 * * *")
    expect(row).to_contain_text("Europe/Berlin")
    expect(row.locator("td.next-run")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 02:30"))
    expect(row.locator("td.last-run")).to_have_text("none yet")
    assert "hush" not in page.locator("#schedules-panel").inner_text()
    assert serious_violations(page) == []

    page.get_by_role("button", name="Pause schedule nightly").click()
    wait_for(lambda: shown()["paused"], message="nightly to be paused")
    expect(page.locator("#banner")).to_have_text("schedule nightly paused", timeout=TIMEOUT_MS)
    expect(row.locator("td.flow")).to_have_text("paused", timeout=TIMEOUT_MS)
    expect(row.locator("td.next-run")).to_have_text("paused")

    page.get_by_role("button", name="Resume schedule nightly").focus()
    page.keyboard.press("Enter")
    wait_for(lambda: not shown()["paused"], message="nightly to be resumed")
    expect(row.locator("td.flow")).to_have_text("active", timeout=TIMEOUT_MS)
    assert shown()["next_run"] is not None

    page.get_by_role("button", name="Run schedule nightly now").click()
    wait_for(lambda: cli.json("list", "--schedule", "nightly"), message="a run of nightly")
    [run] = cli.json("list", "--schedule", "nightly")
    assert (run["command"], run["env"]) == ("echo backup", {"API_TOKEN": "***"})
    expect(page.locator("#banner")).to_have_text(
        f"schedule nightly enqueued as {run['id']}", timeout=TIMEOUT_MS
    )
    expect(row.locator("td.last-run a")).to_have_attribute("href", f"#/job/{run['id']}")
    wait_for(lambda: cli.state(run["id"]) == "completed", message="the run to finish")
    expect(row.locator("td.last-run .badge")).to_have_text("completed", timeout=TIMEOUT_MS)
    assert serious_violations(page) == []
    assert tab.errors == []
