"""The pool supervisor: starts N worker processes, replaces one that dies, turns stop
signals into warm (first signal) and cold (second signal) stops for all of them, and, being
otherwise idle, does the upkeep: recovering lost jobs (of any host), SQLite checkpoints,
firing the schedules that are due (every pool takes part: worker/schedules.py) and running
the hooks of jobs that ended (worker/hooks.py).

Workers are started with multiprocessing's *spawn* method on every OS: no connection or
lock crosses a fork, and Windows takes the same path as Linux.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import secrets
import signal
import socket
import time
from typing import Any, Callable

from queuectl import platform
from queuectl.config import Config
from queuectl.durations import iso_utc
from queuectl.errors import StoreError, StoreUnavailable
from queuectl.store.base import Store
from queuectl.worker import recovery, schedules
from queuectl.worker.hooks import HookRunner
from queuectl.worker.logfile import PoolLog
from queuectl.worker.loop import STORE_UNUSABLE_EXIT, WorkerSpec, worker_main
from queuectl.worker.outage import Outage

log = logging.getLogger("queuectl.pool")

REGISTER_TIMEOUT = 60.0  # seconds for a new worker to register in the store
QUICK_DEATH = 2.0  # a worker that dies sooner than this after starting delays its successor
LONGEST_RESTART_DELAY = 30.0  # seconds, for a worker that keeps dying young
ABANDON_TIMEOUT = 10.0  # seconds for a worker of a failed start-up to stop before SIGTERM
STOP_LOOK_INTERVAL = 0.5  # seconds between looks for `worker stop` while starting workers
LOCK_PRUNE_INTERVAL = 5.0  # seconds between deletions of the gates of locks no job takes


def new_worker_id() -> str:
    return "w-" + secrets.token_hex(3)


class _Slot:
    """One worker process and what the supervisor knows of it."""

    def __init__(self, process, spec: WorkerSpec, pgid_slot) -> None:
        self.process = process
        self.spec = spec
        self.pgid_slot = pgid_slot
        self.started = time.monotonic()


class Pool:
    def __init__(
        self,
        store: Store,
        location: str,
        count: int,
        queues: list[str] | None,
        pool_id: str,
        log: PoolLog | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.location = location
        self.count = count
        self.queues = queues
        self.pool_id = pool_id
        self.host = platform.hostname()
        self._ctx = multiprocessing.get_context("spawn")
        self._stop = self._ctx.Event()
        self._cold = self._ctx.Event()
        self._slots: dict[str, _Slot] = {}
        self._unrecovered: list[_Slot] = []  # dead workers whose jobs await the store
        self._restarts: list[float] = []  # monotonic times at which to start a worker
        self._signals = 0
        self._quick_deaths = 0
        self._next_prune = 0.0  # monotonic time of the next prune_lock_gates
        self._config_seen = Config.from_stored({})
        self._outage = Outage(f"pool {pool_id}")
        self._gave_up: str | None = None  # why the pool stopped by itself
        self._started_at = 0.0  # store time: a `worker stop` after it stops a starting pool
        self._hooks = HookRunner()

    # --- running -----------------------------------------------------------------------

    def run(self, announce: Callable[[list[tuple[str, int]]], None]) -> int:
        """Run until every worker has stopped; 0 after a warm stop, 1 after a cold one or
        when the pool stopped by itself (its store was replaced or became unusable)."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        previous = self._install_signals(wake_w)
        try:
            self._started_at = self.store.clock()
            self._stop_strays()
            try:
                started = self._start_workers()
            except BaseException:
                self._abandon_start()
                raise
            if started is not None:
                announce(started)
            self._supervise(wake_r)
            self._let_hooks_end()
        finally:
            self._restore_signals(previous)
            wake_r.close()
            wake_w.close()
        log.info("pool %s stopped%s", self.pool_id, " (cold)" if self._cold.is_set() else "")
        return 1 if self._cold.is_set() or self._gave_up else 0

    def _supervise(self, wake_r: socket.socket) -> None:
        """Reap and replace workers, act on signals, keep up the store, until every worker
        has stopped. A store outage pauses only the upkeep, never the reaping."""
        next_upkeep = next_firing = 0.0
        while self._slots or self._restarts:
            config = self._config()
            # SPEC §2: a lost job is recovered within lease_seconds plus one poll.
            interval = min(1.0, config.poll_interval, config.lease_seconds / 3)
            timeout = min(interval, max(min(next_upkeep, next_firing) - time.monotonic(), 0.0))
            if self._restarts:
                timeout = min(timeout, max(min(self._restarts) - time.monotonic(), 0.0))
            sentinels = [slot.process.sentinel for slot in self._slots.values()]
            multiprocessing.connection.wait(sentinels + [wake_r], timeout=timeout)
            _drain(wake_r)
            self._apply_signals()
            self._reap()
            self._start_due_workers()
            if time.monotonic() >= next_firing:
                next_firing = time.monotonic() + schedules.FIRE_INTERVAL
                self._fire_schedules(config)
                self._start_hooks(config)
            if time.monotonic() >= next_upkeep:
                next_upkeep = time.monotonic() + interval
                self._upkeep(config)

    def _upkeep(self, config: Config) -> None:
        """Recover lost work and checkpoint, unless the store is away (then try again at
        the next round) or is no longer the store this pool opened (then stop)."""
        try:
            reason = self.store.vanished()
            if reason is not None:
                self._give_up(reason)
                return
            for slot in list(self._unrecovered):
                self._recover(slot)
                self._unrecovered.remove(slot)
            self.store.housekeeping()
            recovery.recover_lost_work(
                self.store, config, self.host, self.store.clock(), self._running_pgids()
            )
            if time.monotonic() >= self._next_prune:  # after recovery, which matters more
                self._next_prune = time.monotonic() + LOCK_PRUNE_INTERVAL
                self.store.prune_lock_gates()
            self._outage.over()
        except StoreUnavailable as exc:
            self._outage.failed(exc)
        except StoreError as exc:
            self._give_up(str(exc))

    def _fire_schedules(self, config: Config) -> None:
        """Enqueue the due ticks of schedules (SPEC §8: within 1 s of their time), while
        the pool is not stopping. A store that is away or broken is the upkeep's to report
        (and to stop the pool for)."""
        if self._stop.is_set():
            return
        with contextlib.suppress(StoreError):
            for tick in schedules.fire_due(self.store, self.store.clock(), config):
                log.info(
                    "schedule %s: tick %s %s%s",
                    tick.schedule,
                    iso_utc(tick.tick),
                    tick.outcome,
                    f" as {tick.job}" if tick.job else f" ({tick.reason})",
                )

    def _start_hooks(self, config: Config) -> None:
        """Run the hooks of jobs that ended (SPEC §9: within a few seconds), while the pool
        is not stopping: a stopping pool leaves them to the next one."""
        if not self._stop.is_set():
            self._hooks.start_due(self.store, config.kill_grace)

    def _let_hooks_end(self) -> None:
        """Wait for the running hooks (each ends within its time limit); a cold stop, asked
        meanwhile or before, stops them at once."""
        while self._hooks.running():
            self._apply_signals()
            if self._cold.is_set():
                self._hooks.stop()
            self._hooks.join(0.1)

    def _give_up(self, reason: str) -> None:
        """Stop warm by itself: running jobs finish (into the store they were claimed
        from, still open), nothing new is claimed."""
        if self._gave_up is None:
            self._gave_up = reason
            log.error("pool %s stops: %s", self.pool_id, reason)
            self._stop.set()
            self._restarts.clear()

    def _install_signals(self, wake_w: socket.socket) -> dict[int, Any]:
        def on_signal(signum, frame) -> None:  # only count: the main loop acts on it
            self._signals += 1

        previous = {sig: signal.signal(sig, on_signal) for sig in platform.stop_signals()}
        previous[-1] = signal.set_wakeup_fd(wake_w.fileno())
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        signal.set_wakeup_fd(previous.pop(-1))
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def _apply_signals(self) -> None:
        if self._signals >= 1 and not self._stop.is_set():
            log.info(
                "warm stop: workers finish their current job, then exit "
                "(signal again for a cold stop)"
            )
            self._warm_stop()
        if self._signals >= 2 and not self._cold.is_set():
            log.info("cold stop: running commands are stopped and their jobs put back")
            self._cold.set()

    def _warm_stop(self) -> None:
        self._stop.set()
        self._restarts.clear()
        with contextlib.suppress(StoreError):  # the event stops them; the store shows it
            self.store.request_stop(list(self._slots))  # `worker list`: stopping

    # --- workers -----------------------------------------------------------------------

    def _start_worker(self) -> None:
        spec = WorkerSpec(self.location, new_worker_id(), self.pool_id, self.queues, self.log)
        pgid_slot = self._ctx.RawValue("q", 0)
        process = self._ctx.Process(
            target=worker_main,
            name=f"queuectl-{spec.worker_id}",
            args=(spec, self._stop, self._cold, pgid_slot),
        )
        process.start()
        self._slots[spec.worker_id] = _Slot(process, spec, pgid_slot)

    def _start_workers(self) -> list[tuple[str, int]] | None:
        """Start the workers and wait until each has registered: their (worker id, pid),
        ordered by pid. None if a stop came first (a signal, or `worker stop` asking one of
        them): then the workers that exist stop warm, and no more are started. Start-up
        acts on a stop at once, since starting many workers can take minutes."""
        next_look = time.monotonic() + STOP_LOOK_INTERVAL
        for _ in range(self.count):
            self._apply_signals()
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + STOP_LOOK_INTERVAL
                self._registered()  # reads the store for `worker stop`
            if self._stop.is_set():
                return None
            self._start_worker()
        return self._wait_registered()

    def _abandon_start(self) -> None:
        """Stop at once the workers of a start-up that failed: left running, they would
        run on unsupervised, and multiprocessing would wait for them at exit forever."""
        self._stop.set()
        self._cold.set()
        for slot in self._slots.values():
            slot.process.join(ABANDON_TIMEOUT)
            if slot.process.is_alive():
                slot.process.terminate()
                slot.process.join()

    def _registered(self) -> dict[str, int]:
        """This pool's workers registered so far, by id (their pid); a warm stop if
        `worker stop` asked any of them, or this pool, to stop."""
        found = []
        asked = False
        with contextlib.suppress(StoreUnavailable):  # a server may be restarting
            found = [w for w in self.store.list_workers() if w.id in self._slots]
            asked = self.store.pool_stop_requested(self.pool_id, self._started_at)
        if (asked or any(w.stop_requested for w in found)) and not self._stop.is_set():
            log.info("warm stop during start-up, asked by `worker stop`")
            self._warm_stop()
        return {w.id: w.pid for w in found}

    def _wait_registered(self) -> list[tuple[str, int]] | None:
        deadline = time.monotonic() + REGISTER_TIMEOUT
        wanted = set(self._slots)
        while time.monotonic() < deadline:
            self._apply_signals()
            registered = self._registered()
            if self._stop.is_set():
                return None
            if len(registered) == len(wanted):
                return sorted(registered.items(), key=lambda item: item[1])
            if any(not slot.process.is_alive() for slot in self._slots.values()):
                break
            time.sleep(0.02)
        self._cold.set()  # stop whatever did start, at once, handing back what it claimed
        for slot in self._slots.values():
            slot.process.join(10)
            if slot.process.exitcode != 0:
                self._recover(slot)
        raise StoreError("the workers did not start; see the messages above")

    def _reap(self) -> None:
        for worker_id, slot in list(self._slots.items()):
            if slot.process.is_alive():
                continue
            slot.process.join()
            del self._slots[worker_id]
            if slot.process.exitcode == 0:
                continue  # it was asked to stop, and did
            if slot.process.exitcode == STORE_UNUSABLE_EXIT:
                self._give_up(f"worker {worker_id} found the store unusable (see above)")
            else:
                log.error(
                    "worker %s (pid %s) died with exit code %s",
                    worker_id,
                    slot.process.pid,
                    slot.process.exitcode,
                )
            try:
                self._recover(slot)
            except StoreError:  # StoreUnavailable: upkeep tries again; else it says why
                self._unrecovered.append(slot)
            if not self._stop.is_set():
                self._replace(slot)

    def _config(self) -> Config:
        """The stored settings, or the last ones seen while the store is away."""
        with contextlib.suppress(StoreError):
            self._config_seen = Config.from_stored(self.store.config_values())
        return self._config_seen

    def _recover(self, slot: _Slot) -> None:
        """Stop the dead worker's command tree, then put its job back in play at once."""
        recovery.recover_dead_worker(
            self.store,
            slot.spec.worker_id,
            self._config(),
            self.host,
            self.store.clock(),
            slot.pgid_slot.value,
        )

    def _running_pgids(self) -> dict[str, int]:
        """The process group each worker's command runs in, published before the worker
        records it in the store: a worker that dies between the two is still cleaned up."""
        return {
            worker_id: slot.pgid_slot.value
            for worker_id, slot in self._slots.items()
            if slot.pgid_slot.value
        }

    def _replace(self, slot: _Slot) -> None:
        """Start a successor: at once, or, for a worker that died young, after a delay that
        grows with each young death. The delay is a time in the supervisor's loop, not a
        sleep, so reaping, recovery and signals go on meanwhile."""
        delay = 0.0
        if time.monotonic() - slot.started < QUICK_DEATH:
            self._quick_deaths += 1
            delay = min(2.0**self._quick_deaths, LONGEST_RESTART_DELAY)
        else:
            self._quick_deaths = 0
        self._restarts.append(time.monotonic() + delay)

    def _start_due_workers(self) -> None:
        now = time.monotonic()
        for due in [due for due in self._restarts if due <= now]:
            self._restarts.remove(due)
            self._start_worker()

    def _stop_strays(self) -> None:
        recovery.stop_stray_trees(self.store, self._config(), self.host)


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(512):
            pass
    except OSError:
        pass
