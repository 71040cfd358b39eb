"""A cancel from the dashboard runs the job's failure hook (SPEC §9), as the CLI's does."""

from __future__ import annotations

from tests.conftest import wait_for


def test_a_cancel_through_the_api_runs_the_failure_hook(fast_config, pool, dashboard):
    cli = fast_config
    hook = ("--on-failure", 'echo "$QUEUECTL_JOB_ID $QUEUECTL_STATE" >> canceled')
    waiting = cli.ok("run", *hook, "--delay", "1h", "true").strip()
    running = cli.ok("run", *hook, "sleep 60").strip()
    pool(1)
    dash = dashboard()
    wait_for(lambda: cli.state(running) == "processing", 60, 0.1, "the job to run")
    for job_id in (waiting, running):
        reply = dash.post(f"/api/jobs/{job_id}/cancel")
        assert reply.status == 200 and reply.json()["result"] == "canceled"
    canceled = cli.home / "canceled"
    wait_for(
        lambda: canceled.exists() and len(canceled.read_text().splitlines()) == 2,
        60,
        0.1,
        "both hooks",
    )
    assert sorted(canceled.read_text().splitlines()) == sorted(
        [f"{waiting} canceled", f"{running} canceled"]
    )
