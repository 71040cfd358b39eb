"""One worker's loop run in this process on a real store, with faults put between the
worker and its store: a store call whose work commits but whose answer is lost."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import pytest

from queuectl.errors import StoreUnavailable
from queuectl.model import NewJob
from queuectl.store import open_store
from queuectl.worker.loop import Controls, Worker, WorkerSpec
from tests.conftest import wait_for


class Faulty:
    """A store whose calls named in `lose` commit but raise StoreUnavailable once each, as
    when a connection drops between the commit and its answer, and whose calls named in
    `refuse` always raise it, as a server that is away. It counts its waiters' closes."""

    def __init__(self, store, lose: frozenset = frozenset(), refuse: frozenset = frozenset()):
        self._store = store
        self._lose = set(lose)
        self._refuse = refuse
        self.lost: list[object] = []
        self.waiters_closed = 0

    def waiter(self):
        waiter = self._store.waiter()
        close = waiter.close

        def counted() -> None:
            self.waiters_closed += 1
            close()

        waiter.close = counted
        return waiter

    def __getattr__(self, name: str):
        action = getattr(self._store, name)
        if name in self._refuse:
            raise StoreUnavailable("the server is away")
        if name not in self._lose:
            return action

        def lossy(*args, **kwargs):
            self._lose.discard(name)
            self.lost.append(action(*args, **kwargs))
            raise StoreUnavailable("the connection dropped before the answer came")

        return lossy


@pytest.fixture
def run_worker(location: str) -> Iterator:
    """Starts a worker loop in a thread on a given store; stops it and closes the store
    at teardown."""
    threads: list[tuple[threading.Thread, threading.Event, object]] = []

    def start(store) -> None:
        stop = threading.Event()
        spec = WorkerSpec(location=location, worker_id="w-test", pool="p-test", queues=None)
        worker = Worker(store, spec, Controls(stop, threading.Event()))
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        threads.append((thread, stop, store))

    yield start
    for thread, stop, store in threads:
        stop.set()
        thread.join(60)
        store.close()


def new(job_id: str, command: str) -> NewJob:
    return NewJob(id=job_id, command=command, max_retries=3, cwd=os.getcwd())


def test_a_claim_whose_answer_was_lost_is_handed_back_before_the_next_job_runs(
    location, run_worker
):
    store = open_store(location)
    try:
        store.config_set("lease_seconds", 600)  # its lease would hold it for ten minutes
        # The second job runs long enough for its own checks to see the store work again.
        store.enqueue([new("first", "true"), new("second", "sleep 0.5")], store.clock())
        lossy = Faulty(open_store(location), lose=frozenset({"claim"}))
        run_worker(lossy)
        wait_for(lambda: store.get_job("second").state == "completed", message="second done")
        (lost,) = lossy.lost
        assert lost.id == "first"
        errors = [attempt.error for attempt in store.attempts("first")]
        assert errors[0] == "not started: the worker was stopping", errors
    finally:
        store.close()


def test_a_worker_stopped_before_it_could_register_closes_its_waiter(location):
    faulty = Faulty(open_store(location), refuse=frozenset({"register_worker"}))
    spec = WorkerSpec(location=location, worker_id="w-test", pool="p-test", queues=None)
    stop = threading.Event()
    stop.set()
    try:
        Worker(faulty, spec, Controls(stop, threading.Event())).run()
        assert faulty.waiters_closed == 1
    finally:
        faulty.close()


class ConfigReads:
    """A store that counts the reads of the settings made while a command runs (between
    the record of its start and that of its outcome)."""

    def __init__(self, store) -> None:
        self._store = store
        self.running = False
        self.reads_while_running = 0

    def record_start(self, *args, **kwargs):
        self.running = True
        return self._store.record_start(*args, **kwargs)

    def finish_and_claim(self, *args, **kwargs):
        self.running = False
        return self._store.finish_and_claim(*args, **kwargs)

    def finish(self, *args, **kwargs):
        self.running = False
        return self._store.finish(*args, **kwargs)

    def config_values(self):
        self.reads_while_running += self.running
        return self._store.config_values()

    def __getattr__(self, name: str):
        return getattr(self._store, name)


def test_a_running_job_keeps_its_settings_without_reading_them_again(location, run_worker):
    store = open_store(location)
    try:
        store.enqueue([new("long", "sleep 2.5")], store.clock())
        counting = ConfigReads(open_store(location))
        run_worker(counting)
        wait_for(lambda: store.get_job("long").state == "completed", message="the job done")
        assert counting.reads_while_running == 0
    finally:
        store.close()


class ClaimsAndReads:
    """A store that notes, in order, each claim an idle worker makes and each read of the
    settings."""

    def __init__(self, store) -> None:
        self._store = store
        self.calls: list[str] = []

    def claim(self, *args, **kwargs):
        job = self._store.claim(*args, **kwargs)
        self.calls.append("claim" if job is None else "claim " + job.id)
        return job

    def config_values(self):
        self.calls.append("settings")
        return self._store.config_values()

    def stop_requested(self, worker_id: str) -> bool:
        self.calls.append("stop check")
        return self._store.stop_requested(worker_id)

    def __getattr__(self, name: str):
        return getattr(self._store, name)


@contextlib.contextmanager
def _idle_worker(location, run_worker, noting_class=ClaimsAndReads):
    """A store, and a worker idle on it through a store that notes its calls (a 60 s poll:
    only a wake-up starts a job)."""
    store = open_store(location)
    try:
        store.config_set("poll_interval", 60)
        noting = noting_class(open_store(location))
        run_worker(noting)
        wait_for(lambda: "claim" in noting.calls, message="the worker idle")
        yield store, noting
    finally:
        store.close()


def _ring_and_wait(store) -> None:
    store.enqueue([new("rung", "true")], store.clock())  # rings the doorbell (NOTIFY)
    wait_for(lambda: store.get_job("rung").state == "completed", message="the job done")


def test_a_woken_worker_claims_its_job_before_it_reads_the_settings_again(location, run_worker):
    with _idle_worker(location, run_worker) as (store, noting):
        seen = len(noting.calls)
        _ring_and_wait(store)
        # Settings changed meanwhile are still read on every wake-up, once the claim is made.
        after = [call for call in noting.calls[seen:] if call != "stop check"]
        assert after[:2] == ["claim rung", "settings"], noting.calls


class SettingsAwayAfterClaim(ClaimsAndReads):
    """... and whose first read of the settings after a claim that got a job fails, as a
    server that went away just then."""

    def config_values(self):
        if self.calls and self.calls[-1].startswith("claim "):
            self.calls.append("settings refused")
            raise StoreUnavailable("the server is away")
        return super().config_values()


def test_a_job_claimed_on_a_wake_up_runs_though_the_settings_cannot_be_read(location, run_worker):
    with _idle_worker(location, run_worker, SettingsAwayAfterClaim) as (store, refusing):
        _ring_and_wait(store)
        assert "settings refused" in refusing.calls
        assert [attempt.error for attempt in store.attempts("rung")] == [None]


def test_a_worker_rung_for_work_claims_before_it_reads_its_stop_flag(location, run_worker):
    from queuectl.worker.loop import CHECK_INTERVAL

    with _idle_worker(location, run_worker) as (store, noting):
        time.sleep(CHECK_INTERVAL + 0.1)  # its periodic read of the stop flag is due
        seen = len(noting.calls)
        _ring_and_wait(store)
        after = noting.calls[seen:]
        assert after[0] == "claim rung" and "stop check" in after, noting.calls


def test_a_worker_rung_by_a_stop_request_stops_without_claiming(location, run_worker):
    with _idle_worker(location, run_worker) as (store, noting):
        seen = len(noting.calls)
        store.request_stop(["w-test"])  # rings as a stop request
        wait_for(lambda: not store.list_workers(), message="the worker gone")
        assert "claim" not in noting.calls[seen:], noting.calls
