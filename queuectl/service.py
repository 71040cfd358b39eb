"""The use cases, shared by the CLI and the dashboard: they validate input (raising
`UserError`), call the store, and return plain data. Nothing here prints."""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Callable

from queuectl.config import SETTINGS, Config, setting
from queuectl.durations import MAX_DURATION, iso_utc, parse_duration, parse_time
from queuectl.errors import Conflict, DuplicateId, NotFound, UserError, quote
from queuectl.model import (
    CANCELED,
    COMPLETED,
    DEAD,
    DEFAULT_QUEUE,
    FAILED,
    PENDING,
    PROCESSING,
    STATES,
    TERMINAL,
    Attempt,
    Job,
    NewJob,
)
from queuectl.store import backend_of, display_location, open_store, resolve_location
from queuectl.store.base import Store

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # used with fullmatch: no trailing \n
QUEUE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
JOB_KEYS = (
    "command",
    "id",
    "max_retries",
    "queue",
    "priority",
    "run_at",
    "delay",
    "timeout",
    "cwd",
    "env",
)
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
MAX_TIMEOUT = (604800 * 52, "364 days")  # longer is surely a typo
EXIT_TIMEOUT = 124  # like timeout(1): `wait` gave up before the jobs ended
BUCKET_SECONDS = 60  # `throughput` counts attempts per minute


# --- the store ----------------------------------------------------------------------------


def locate(given: str | None) -> str:
    """The store's location: `given` (--db), else $QUEUECTL_DB, else the per-user file."""
    return resolve_location(given)


def open_location(location: str, durable: bool = True, only_reads: bool = False) -> Store:
    """The store at `location`, created or upgraded if need be: the one way the CLI and the
    dashboard open one (`durable` and `only_reads` as for `queuectl.store.open_store`)."""
    return open_store(location, durable=durable, only_reads=only_reads)


def existing_job_ids(location: str, prefix: str, limit: int) -> list[str]:
    """Of the `limit` newest jobs of the store at `location`, the ids that start with
    `prefix` (for shell completion). A store that does not exist is not created: no ids.
    Nor is a store on a server opened, since opening one creates its tables."""
    if backend_of(location).schemes or not os.path.isfile(location):
        return []
    store = open_store(location, only_reads=True)
    try:
        jobs = store.list_jobs(limit=limit)
    finally:
        store.close()
    return [job.id for job in jobs if job.id.startswith(prefix)]


def shown_location(location: str) -> str:
    """The location as it may be shown: a password in it masked."""
    return display_location(location)


def load_config(store: Store) -> Config:
    return Config.from_stored(store.config_values())


# --- ids --------------------------------------------------------------------------------

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase
# Service functions may run on several threads at once (the dashboard serves each request
# on its own): two calls that begin a millisecond together would each pick a counter start,
# and their runs of ids could meet.
_id_lock = threading.Lock()
_last_ms = 0
_prefix = ""
_counter = 0


def new_job_id() -> str:
    """13 characters: milliseconds since the epoch then a counter that starts at a random
    point each millisecond, so ids sort roughly by time and do not collide in a batch."""
    global _last_ms, _prefix, _counter
    with _id_lock:
        ms = int(time.time() * 1000)
        if ms <= _last_ms:
            _counter += 1
        else:
            start = int.from_bytes(os.urandom(3), "big") % (32**4 // 2)
            _last_ms, _prefix, _counter = ms, _base32(ms, 9), start
        return _prefix + _base32(_counter, 4)


def _base32(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 32)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


# --- enqueue ----------------------------------------------------------------------------


def build_job(
    spec: Mapping[str, Any], config: Config, now: float, base_cwd: str, where: str = ""
) -> NewJob:
    """Validate one job object (the JSON of `enqueue`, or the options of `run`). A key left
    out, or null, takes its default (for `timeout`: config `job_timeout`, as a job object
    says with null)."""

    def fail(message: str) -> UserError:
        return UserError(f"{where}{message}")

    if not isinstance(spec, Mapping):
        raise fail("a job must be a JSON object")
    unknown = [key for key in spec if key not in JOB_KEYS]
    if unknown:
        raise fail(f"unknown key {quote(unknown[0])}; valid keys: {', '.join(JOB_KEYS)}")
    spec = {key: value for key, value in spec.items() if value is not None}
    command = spec.get("command")
    if not isinstance(command, str) or not command.strip():
        raise fail("'command' must be a non-empty string")
    if not _plain_text(command):
        raise fail("'command' must be UTF-8 text without NUL characters")
    job_id = spec["id"] if "id" in spec else new_job_id()
    queue = spec.get("queue", DEFAULT_QUEUE)
    for name, value in (("id", job_id), ("queue", queue)):
        if not isinstance(value, str):
            raise fail(f"'{name}' must be a string")
    if not ID_PATTERN.fullmatch(job_id):
        raise fail(f"invalid id {quote(job_id)}: use 1 to 128 of A-Z a-z 0-9 . _ : -")
    try:
        check_queue(queue)
    except UserError as exc:
        raise fail(str(exc)) from None
    max_retries = (
        _int(spec["max_retries"], "max_retries", 0, 1000, fail)
        if "max_retries" in spec
        else config.max_retries
    )
    priority = _int(spec.get("priority", 0), "priority", *PRIORITY_RANGE, fail=fail)
    timeout = spec.get("timeout")
    if timeout is not None:
        timeout = _seconds(timeout, "timeout", fail, positive=True, most=MAX_TIMEOUT)
    return NewJob(
        id=job_id,
        command=command,
        max_retries=max_retries,
        queue=queue,
        priority=priority,
        run_at=_run_at(spec, now, fail),
        timeout=timeout,
        cwd=_cwd(spec["cwd"], base_cwd, fail) if "cwd" in spec else base_cwd,
        env=_env(spec["env"], fail) if "env" in spec else {},
    )


def _int(value: Any, name: str, low: int, high: int, fail) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(f"'{name}' must be an integer from {low} to {high}")
    return value


def _seconds(
    value: Any,
    name: str,
    fail,
    positive: bool = False,
    most: tuple[float, str] = (MAX_DURATION, "100 years"),
) -> float:
    """A duration in seconds from a number or a string such as "5m", within
    [0 (or more than 0 if `positive`), most]; `most` is (seconds, how to say it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail(f"'{name}' must be a duration such as 30, 30s, 5m, 2h or 1d")
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except UserError as exc:
            raise fail(f"'{name}': {exc}") from None
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= most[0] or (positive and not seconds):
        span = (
            f"of more than 0 seconds and at most {most[1]}"
            if positive
            else f"from 0 seconds to {most[1]}"
        )
        raise fail(f"'{name}' must be a duration {span}")
    return seconds


def _run_at(spec: Mapping[str, Any], now: float, fail) -> float:
    if "run_at" in spec and "delay" in spec:
        raise fail("give 'run_at' or 'delay', not both")
    if "delay" in spec:
        return now + _seconds(spec["delay"], "delay", fail)
    if "run_at" not in spec:
        return now
    run_at = spec["run_at"]
    if not isinstance(run_at, str):
        raise fail("'run_at' must be an ISO-8601 time such as 2026-12-01T09:00")
    try:
        return parse_time(run_at)
    except UserError as exc:
        raise fail(f"'run_at': {exc}") from None


def _plain_text(text: str) -> bool:
    """Text a command line, a path or an environment can hold: encodable as UTF-8 (no
    lone surrogates, which JSON's \\ud800 escapes can produce) and without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\0" not in text


def _cwd(cwd: Any, base_cwd: str, fail) -> str:
    if not isinstance(cwd, str) or not cwd or not _plain_text(cwd):
        raise fail("'cwd' must be a directory path")
    return os.path.normpath(os.path.join(base_cwd, os.path.expanduser(cwd)))


def _env(env: Any, fail) -> dict[str, str]:
    if not isinstance(env, Mapping):
        raise fail("'env' must be an object of NAME: value strings")
    for key, value in env.items():
        if (
            not key
            or "=" in key
            or not _plain_text(key)
            or not isinstance(value, str)
            or not _plain_text(value)
        ):
            raise fail(f"'env' entry {quote(key)} must be a NAME (no '=') with a string value")
    return dict(env)


def enqueue(
    store: Store,
    specs: Sequence[Mapping[str, Any]],
    base_cwd: str,
    label: Callable[[int], str] = lambda index: "",
) -> list[str]:
    """Validate every job, then insert them all in one transaction (all or nothing).
    `label(i)` prefixes the error message of the i-th job (e.g. "line 3: ")."""
    if not specs:
        raise UserError("no jobs given")
    config = load_config(store)
    now = store.clock()
    jobs = [
        build_job(spec, config, now, base_cwd, label(index)) for index, spec in enumerate(specs)
    ]
    first_use: dict[str, int] = {}
    for index, job in enumerate(jobs):
        if first_use.setdefault(job.id, index) != index:
            raise Conflict(f"{label(index)}job id {quote(job.id)} is used twice in this batch")
    try:
        store.enqueue(jobs, now)
    except DuplicateId as exc:  # name the line of a batch
        raise Conflict(f"{label(first_use.get(exc.job_id, 0))}{exc}") from None
    return [job.id for job in jobs]


# --- reading ----------------------------------------------------------------------------


def status(store: Store) -> dict[str, Any]:
    raw = store.counts()
    counts = {state: 0 for state in STATES}
    queues = {}
    for queue in sorted(raw):
        queues[queue] = {state: raw[queue].get(state, 0) for state in STATES}
        for state, n in raw[queue].items():
            counts[state] = counts.get(state, 0) + n
    return {
        "counts": counts,
        "queues": queues,
        "workers": [w for w in workers(store) if w["state"] != "lost"],
        "store": shown_location(store.location),
    }


def clock(store: Store) -> float:
    """The store's time, which the ages of jobs are measured from (for PostgreSQL, the
    database server's clock)."""
    return store.clock()


def workers(store: Store) -> list[dict[str, Any]]:
    config = load_config(store)
    now = store.clock()
    return [w.to_dict(now, config.lease_seconds) for w in store.list_workers()]


def check_queue(queue: str) -> None:
    if not QUEUE_PATTERN.fullmatch(queue):
        raise UserError(f"invalid queue {quote(queue)}: use 1 to 64 of A-Z a-z 0-9 . _ : -")


def check_state(state: str | None) -> str | None:
    if state is not None and state not in STATES:
        raise UserError(f"unknown state {quote(state)}; states: {', '.join(STATES)}")
    return state


def list_jobs(
    store: Store,
    state: str | None = None,
    queue: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    if limit < 1 or offset < 0:
        raise UserError("limit must be at least 1 and offset at least 0")
    return store.list_jobs(check_state(state), queue, limit, offset)


def attempts_of(store: Store, job: Job) -> list[Attempt]:
    """The job's attempts; a just-started one whose record is not written yet is shown
    from the job row."""
    attempts = store.attempts(job.id)
    if job.state == PROCESSING and all(a.number != job.run_no for a in attempts):
        attempts.append(
            Attempt(
                job_id=job.id, number=job.run_no, worker_id=job.worker_id, started_at=job.started_at
            )
        )
    return attempts


def show(store: Store, job_id: str) -> tuple[Job, list[Attempt]]:
    job = store.get_job(job_id)
    return job, attempts_of(store, job)


def attempt(store: Store, job_id: str, number: int | None = None) -> Attempt:
    """One attempt of a job (default: the latest); NotFound if it has none."""
    job, attempts = show(store, job_id)
    if not attempts:
        raise NotFound(f"job {quote(job_id)} has not run yet ({job.state})")
    if number is None:
        return attempts[-1]
    for item in attempts:
        if item.number == number:
            return item
    raise NotFound(
        f"job {quote(job_id)} has no attempt {number} "
        f"(attempts: {', '.join(str(a.number) for a in attempts)})"
    )


def follow(store: Store, job_id: str, write: Callable[[bytes], None], poll: float = 0.2) -> Attempt:
    """Write a job's output as it arrives: the latest attempt, or the next one if the job
    has not started yet, until that attempt ends. Returns the finished attempt."""
    job = store.get_job(job_id)
    while job.state != PROCESSING and not attempts_of(store, job) and job.state not in TERMINAL:
        time.sleep(poll)
        job = store.get_job(job_id)
    current = attempt(store, job_id)
    position = max(current.output_total - len(current.output), 0)
    while True:
        current = attempt(store, job_id, current.number)
        if current.finished_at is not None:
            start = current.output_total - len(current.output)
            write(current.output[max(position - start, 0) :])
            return current
        for start, data in store.output_chunks(job_id, current.number, position):
            if start + len(data) > position:
                write(data[max(position - start, 0) :])
                position = start + len(data)
        time.sleep(poll)


def wait(
    store: Store,
    job_ids: Sequence[str],
    timeout: float | None = None,
    on_no_worker: Callable[[], None] = lambda: None,
    poll: float = 0.05,
) -> int:
    """Block until every job is terminal. Returns the exit status of SPEC §3: 0 if all
    completed, else that of the first listed job that did not, 124 on timeout."""
    for job_id in job_ids:
        store.get_job(job_id)  # NotFound before any waiting
    deadline = None if timeout is None else time.monotonic() + timeout
    warned = False
    pending = list(job_ids)
    while True:
        pending = [i for i in pending if store.get_job(i).state not in TERMINAL]
        if not pending:
            return exit_status([store.get_job(i) for i in job_ids])
        if deadline is not None and time.monotonic() >= deadline:
            return EXIT_TIMEOUT
        if not warned and not any(w["state"] in ("idle", "busy") for w in workers(store)):
            on_no_worker()
            warned = True
        time.sleep(poll)
        poll = min(poll * 1.5, 0.25)


def exit_status(jobs: Sequence[Job]) -> int:
    for job in jobs:
        if job.state != COMPLETED:
            return job.exit_code if job.exit_code else 1
    return 0


# --- changing ---------------------------------------------------------------------------


def dlq_list(store: Store, limit: int = 1000) -> tuple[list[Job], int]:
    """The newest `limit` dead jobs, and how many dead jobs there are."""
    jobs = store.list_jobs(DEAD, None, limit, 0)
    total = len(jobs)
    if total == limit:  # there may be more: count them
        total = sum(states.get(DEAD, 0) for states in store.counts().values())
    return jobs, total


def dlq_retry(store: Store, job_ids: Sequence[str] | None) -> list[str]:
    """Retry the named dead jobs, or every dead job if `job_ids` is None."""
    if job_ids is not None and not job_ids:
        raise UserError("name the jobs to retry, or use --all")
    return store.retry_dead(list(job_ids) if job_ids is not None else None, store.clock())


def cancel(store: Store, job_ids: Sequence[str]) -> dict[str, str]:
    """Cancel jobs (SPEC §3): {id: outcome}. A waiting job is canceled at once. For a running
    one the cancel is recorded and its worker stops the process tree; this waits up to
    kill_grace + 5 s for that. Outcome: "canceled"; "requested" if its worker has not
    stopped it yet; else the state the job reached on its own first (see `late_cancels`)."""
    if not job_ids:
        raise UserError("name the jobs to cancel")
    results = store.cancel(list(dict.fromkeys(job_ids)), store.clock())
    requested = [job_id for job_id, result in results.items() if result == "requested"]
    if requested:
        ended = _await_cancel(store, requested, load_config(store).kill_grace + 5)
        results.update(
            {
                job_id: "requested" if state == PROCESSING else state
                for job_id, state in ended.items()
            }
        )
    return results


def late_cancels(results: Mapping[str, str]) -> str | None:
    """The error to report for the jobs of a `cancel` result that ended on their own
    before the cancel reached them, or None if none did."""
    missed = [job_id for job_id, result in results.items() if result not in (CANCELED, "requested")]
    if not missed:
        return None
    return (
        f"{', '.join(missed)}: finished ({results[missed[0]]}) before the cancel reached "
        f"{'them' if len(missed) > 1 else 'it'}"
    )


def _await_cancel(store: Store, job_ids: Sequence[str], timeout: float) -> dict[str, str]:
    """Wait for requested cancels to take effect: {id: state now}, "processing" for a job
    its worker has not stopped yet. A job handed back to the queue before its worker saw
    the cancel (a cold stop) is canceled here, as a waiting job is."""
    deadline = time.monotonic() + timeout
    states = {job_id: PROCESSING for job_id in job_ids}
    while time.monotonic() < deadline and PROCESSING in states.values():
        time.sleep(0.05)
        for job_id in [i for i, state in states.items() if state == PROCESSING]:
            states[job_id] = store.get_job(job_id).state
            if states[job_id] in (PENDING, FAILED):
                with contextlib.suppress(Conflict):  # it may have ended meanwhile
                    store.cancel([job_id], store.clock())
                states[job_id] = PROCESSING  # look again
    return states


def purge(store: Store, state: str, older_than: float | None = None) -> int:
    if state not in TERMINAL:
        raise UserError(
            f"can only purge terminal states ({', '.join(TERMINAL)}), not {quote(state)}"
        )
    before = None if older_than is None else store.clock() - older_than
    return store.purge([state], before)


def stats(store: Store, since: float = 3600.0) -> dict[str, Any]:
    """Finished attempts in the last `since` seconds, overall and per queue."""
    now = store.clock()
    start = now - since
    groups: dict[str, list[Any]] = {}
    for item in store.finished_attempts(start):
        groups.setdefault(item.queue, []).append(item)
    everything = [item for items in groups.values() for item in items]
    return {
        "since": iso_utc(start),
        "until": iso_utc(now),
        "window_seconds": since,
        "total": _summary(everything, since),
        "queues": {queue: _summary(groups[queue], since) for queue in sorted(groups)},
    }


def _summary(items: Sequence[Any], window: float) -> dict[str, Any]:
    outcomes = [item.outcome for item in items]
    durations = sorted(
        item.finished_at - item.started_at
        for item in items
        if item.started_at is not None and item.outcome != "pending"
    )
    finished = sum(outcomes.count(s) for s in (COMPLETED, DEAD, CANCELED))
    return {
        "completed": outcomes.count(COMPLETED),
        "failed_attempts": outcomes.count(FAILED) + outcomes.count(DEAD),
        "dead": outcomes.count(DEAD),
        "canceled": outcomes.count(CANCELED),
        "jobs_per_minute": round(finished / (window / 60.0), 3) if window > 0 else None,
        "mean_seconds": round(sum(durations) / len(durations), 3) if durations else None,
        "p95_seconds": round(_percentile(durations, 0.95), 3) if durations else None,
    }


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


def throughput(store: Store, minutes: int = 60) -> dict[str, Any]:
    """Attempts finished per minute, completed, failed and canceled, oldest minute first;
    the last bucket is the current, partial minute. Failed counts every failed attempt,
    including the one that made a job dead."""
    now = store.clock()
    first = (math.floor(now / BUCKET_SECONDS) - minutes + 1) * BUCKET_SECONDS
    counts = [{COMPLETED: 0, FAILED: 0, CANCELED: 0} for _ in range(minutes)]
    for start, outcome, count in store.throughput(first, BUCKET_SECONDS):
        index = int(round((start - first) / BUCKET_SECONDS))
        key = FAILED if outcome == DEAD else outcome
        if 0 <= index < minutes and key in counts[index]:
            counts[index][key] += count
    buckets = [
        {"start": iso_utc(first + i * BUCKET_SECONDS), **bucket} for i, bucket in enumerate(counts)
    ]
    return {"bucket_seconds": BUCKET_SECONDS, "until": iso_utc(now), "buckets": buckets}


def metrics(store: Store, run_time_bounds: Sequence[float]) -> dict[str, Any]:
    """What the Prometheus metrics report: "jobs" {queue: {state: n}}, finished "attempts"
    {outcome: n}, their "run_times" counted against `run_time_bounds`, and "workers"."""
    return {
        "jobs": store.counts(),
        "attempts": store.attempt_counts(),
        "run_times": store.run_times(run_time_bounds),
        "workers": workers(store),
    }


# --- config -----------------------------------------------------------------------------


def config_show(store: Store) -> dict[str, Any]:
    effective = load_config(store)
    return {name: getattr(effective, name) for name in SETTINGS}


def config_stored(store: Store) -> dict[str, Any]:
    return {k: v for k, v in store.config_values().items() if k in SETTINGS}


def config_get(store: Store, key: str) -> Any:
    return config_show(store)[setting(key).name]


def config_set(store: Store, key: str, raw: object) -> Any:
    item = setting(key)
    value = item.parse(raw)
    store.config_set(item.name, value)
    return value


def config_unset(store: Store, key: str) -> None:
    store.config_unset(setting(key).name)


# --- workers ----------------------------------------------------------------------------


def stop_workers(store: Store, pool: str | None = None, queue: str | None = None) -> list[str]:
    """Ask every worker of this store, on every host, to stop after its job (those shown
    `lost` too: a heartbeat may only be late); or only the workers of one pool, or those
    started to serve `queue` (`worker start --queue`). Pools still starting are asked too,
    before the workers are listed: a pool that registers its last worker meanwhile has
    either seen the request or has every worker in the list."""
    if queue is not None:
        check_queue(queue)
    else:
        store.request_pool_stop(pool, store.clock())
    ids = [
        w["id"]
        for w in workers(store)
        if (pool is None or w["pool"] == pool) and (queue is None or queue in (w["queues"] or []))
    ]
    if ids:
        store.request_stop(ids)
    return ids


def await_workers_gone(store: Store, worker_ids: Sequence[str], timeout: float | None) -> list[str]:
    """Wait until those workers have exited; returns the ones still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    remaining = list(worker_ids)
    while remaining:
        alive = {w["id"] for w in workers(store) if w["state"] != "lost"}
        remaining = [i for i in remaining if i in alive]
        if not remaining or (deadline is not None and time.monotonic() >= deadline):
            break
        time.sleep(0.1)
    return remaining
