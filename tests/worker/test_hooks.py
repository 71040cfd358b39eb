"""The hook runner (worker/hooks.py) with a real store and real processes: the time limit
(shortened here; a pool uses hooks.TIME_LIMIT), a cwd gone, a cold stop."""

from __future__ import annotations

import logging

from queuectl.worker.hooks import MOST_AT_ONCE, OUTPUT_KEPT, HookRunner
from tests.conftest import wait_for
from tests.contract.test_store import T0, new


def ended(store, tmp_path, *hooks: str) -> None:
    """Jobs canceled while pending, one per hook, in `tmp_path`: their duties wait."""
    jobs = [
        new(f"j{index}", on_failure=hook, cwd=str(tmp_path)) for index, hook in enumerate(hooks)
    ]
    store.enqueue(jobs, T0)
    store.cancel([job.id for job in jobs], T0 + 1)


def test_a_hook_past_its_time_limit_is_stopped_and_logged(store, tmp_path, caplog):
    ended(store, tmp_path, "echo started > started; sleep 600")
    runner = HookRunner(time_limit=0.5)
    with caplog.at_level(logging.INFO, "queuectl.hooks"):
        assert runner.start_due(store, kill_grace=1) == 1
        wait_for(lambda: not runner.running(), 60, 0.05, "the hook to be stopped")
    assert (tmp_path / "started").read_text() == "started\n"
    assert "hook of job j0 (canceled) stopped: timed out after 0.5 s" in caplog.text


def test_a_hook_whose_cwd_is_gone_is_logged_as_not_started(store, tmp_path, caplog):
    gone = tmp_path / "gone"
    gone.mkdir()
    ended(store, gone, "true")
    gone.rmdir()
    runner = HookRunner()
    with caplog.at_level(logging.INFO, "queuectl.hooks"):
        runner.start_due(store, kill_grace=1)
        runner.join(30)
    assert "hook of job j0 (canceled) could not start" in caplog.text


def test_a_runner_takes_no_more_than_it_runs_at_once_and_stops_them_cold(store, tmp_path):
    ended(store, tmp_path, *[f"echo {i} >> runs; sleep 600" for i in range(MOST_AT_ONCE + 2)])
    runner = HookRunner()
    assert runner.start_due(store, kill_grace=1) == MOST_AT_ONCE
    assert runner.start_due(store, kill_grace=1) == 0  # no room: the rest wait in the store
    runs = tmp_path / "runs"
    wait_for(lambda: runs.exists() and len(runs.read_text().splitlines()) == MOST_AT_ONCE, 60)
    runner.stop()
    wait_for(lambda: not runner.running(), 60, 0.05, "the hooks to be stopped")
    assert len(store.take_hook_duties(10)) == 2


def test_a_chatty_hook_logs_only_the_tail_of_its_output(store, tmp_path, caplog):
    # 4 MB of output, then a last line: the pool keeps OUTPUT_KEPT bytes of it, not all.
    ended(store, tmp_path, "head -c 4000000 /dev/zero | tr '\\0' x; echo; echo last words")
    runner = HookRunner()
    with caplog.at_level(logging.INFO, "queuectl.hooks"):
        runner.start_due(store, kill_grace=1)
        runner.join(60)
    logged = caplog.text
    assert "hook of job j0 (canceled): last words" in logged
    assert "hook of job j0 (canceled) done" in logged
    assert OUTPUT_KEPT - 100 <= logged.count("x") < OUTPUT_KEPT  # the tail, with the last line


def test_a_hook_that_leaves_a_child_holding_its_output_ends_with_its_shell(store, tmp_path, caplog):
    ended(store, tmp_path, "sleep 600 & echo shell done")
    runner = HookRunner(time_limit=120)
    with caplog.at_level(logging.INFO, "queuectl.hooks"):
        runner.start_due(store, kill_grace=1)
        runner.join(60)
    assert "hook of job j0 (canceled): shell done" in caplog.text
    assert "hook of job j0 (canceled) done" in caplog.text
