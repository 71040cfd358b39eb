"""A job object (the JSON of `enqueue`, the options of `run`, a schedule's runs)
validated into a `NewJob`: plain rules, no store. The pools build the runs of schedules
with it too."""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping
from types import MappingProxyType

from queuectl.config import Config
from queuectl.durations import MAX_DURATION, parse_duration, parse_time
from queuectl.errors import UserError, quote
from queuectl.hooks import parse_hook
from queuectl.inputs import plain_text
from queuectl.model import ACCEPTS, DEFAULT_QUEUE, ON_SUCCESS, NewJob, new_job_id
from queuectl.names import ID_PATTERN, check_queue
from queuectl.policy import parse_policy

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any

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
    "inherit_env",
    "after",
    "group",
    "lock",
    "unique_key",
    "retry_on",
    "no_retry_on",
    "on_success",
    "on_failure",
)
PRIORITY_RANGE = (-(2**31), 2**31 - 1)
MAX_TIMEOUT = (604800 * 52, "364 days")  # longer is surely a typo
NO_ENVIRONMENT: Mapping[str, str] = MappingProxyType({})  # a caller without one to inherit


def build_job(
    spec: Mapping[str, Any],
    config: Config,
    now: float,
    base_cwd: str,
    where: str = "",
    environ: Mapping[str, str] = NO_ENVIRONMENT,
) -> NewJob:
    """Validate one job object (the JSON of `enqueue`, or the options of `run`). A key left
    out, or null, takes its default (for `timeout`: config `job_timeout`, as a job object
    says with null). `inherit_env` copies variables of `environ`, the enqueuer's."""

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
    if not plain_text(command):
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
    retry_on, no_retry_on = _failure_policy(spec, config, fail)
    return NewJob(
        id=job_id,
        command=command,
        max_retries=max_retries,
        queue=queue,
        priority=priority,
        run_at=_run_at(spec, now, fail),
        timeout=timeout,
        cwd=_cwd(spec["cwd"], base_cwd, fail) if "cwd" in spec else base_cwd,
        env={
            **_inherited(spec.get("inherit_env"), environ, fail),
            **(_env(spec["env"], fail) if "env" in spec else {}),
        },
        after=_after(spec["after"], job_id, fail) if "after" in spec else [],
        group=_name(spec["group"], "group", fail) if "group" in spec else None,
        lock=_name(spec["lock"], "lock", fail) if "lock" in spec else None,
        unique_key=_name(spec["unique_key"], "unique_key", fail) if "unique_key" in spec else None,
        retry_on=retry_on,
        no_retry_on=no_retry_on,
        on_success=_hook(spec, "on_success", config, fail),
        on_failure=_hook(spec, "on_failure", config, fail),
    )


def _failure_policy(
    spec: Mapping[str, Any], config: Config, fail
) -> tuple[list[str] | None, list[str] | None]:
    """(retry_on, no_retry_on): the one the job gives, or config no_retry_on as it is now
    (copied, as max_retries is: a later config change leaves the job as it was)."""
    if "retry_on" in spec and "no_retry_on" in spec:
        raise fail("give 'retry_on' or 'no_retry_on', not both")
    if "retry_on" not in spec:
        given = spec.get("no_retry_on", config.no_retry_on)
        return None, _policy(given, "no_retry_on", fail)
    retry_on = _policy(spec["retry_on"], "retry_on", fail)
    if not retry_on:
        raise fail("'retry_on' names no exit code: to retry nothing, set 'max_retries' to 0")
    return retry_on, None


def _hook(spec: Mapping[str, Any], key: str, config: Config, fail) -> str | None:
    """The job's hook `key`, or the config key of that name as it is now (copied, as
    no_retry_on is); None for no hook ("" given: none, whatever config says)."""
    try:
        command = parse_hook(spec[key]) if key in spec else getattr(config, key)
    except UserError as exc:
        raise fail(f"'{key}': {exc}") from None
    return command or None


def _policy(value: Any, key: str, fail) -> list[str]:
    try:
        return parse_policy(value)
    except UserError as exc:
        raise fail(f"'{key}': {exc}") from None


def _name(value: Any, key: str, fail) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise fail(f"invalid {key} {quote(value)}: use 1 to 128 of A-Z a-z 0-9 . _ : -")
    return value


def _after(value: Any, job_id: str, fail) -> list[dict[str, str]]:
    """`after`: ids (each to complete) or {"id": ID, "on": success|any|failure} objects; an
    id may be group:NAME, every job of that group."""
    if not isinstance(value, list):
        raise fail('\'after\' must be a list of job ids or {"id", "on"} objects')
    entries: dict[tuple[str, str], None] = {}
    for item in value:
        entry = {"id": item, "on": ON_SUCCESS} if isinstance(item, str) else item
        if not isinstance(entry, Mapping) or set(entry) - {"id", "on"} or "id" not in entry:
            raise fail('each of \'after\' must be a job id or an {"id", "on"} object')
        on = entry.get("on", ON_SUCCESS)
        if on not in ACCEPTS:
            raise fail(f"'after': unknown condition {quote(on)}; use {', '.join(ACCEPTS)}")
        target = entry["id"]
        name = (
            target[len("group:") :]
            if isinstance(target, str) and target.startswith("group:")
            else target
        )
        if name == "":
            raise fail(f"'after': {quote(target)} names no group")
        _name(name, "dependency", fail)
        if target == job_id:
            raise fail(f"job {quote(job_id)} cannot wait for itself")
        entries[(target, on)] = None
    return [{"id": target, "on": on} for target, on in entries]


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


def _cwd(cwd: Any, base_cwd: str, fail) -> str:
    if not isinstance(cwd, str) or not cwd or not plain_text(cwd):
        raise fail("'cwd' must be a directory path")
    return os.path.normpath(os.path.join(base_cwd, os.path.expanduser(cwd)))


def _env(env: Any, fail) -> dict[str, str]:
    if not isinstance(env, Mapping):
        raise fail("'env' must be an object of NAME: value strings")
    for key, value in env.items():
        if (
            not key
            or "=" in key
            or not plain_text(key)
            or not isinstance(value, str)
            or not plain_text(value)
        ):
            raise fail(f"'env' entry {quote(key)} must be a NAME (no '=') with a string value")
    return dict(env)


def name_patterns(value: Any) -> list[str]:
    """The patterns of `inherit_env`: a list of them, or one string of them separated by
    commas ("PATH,LANG,AWS_*")."""
    patterns = value.split(",") if isinstance(value, str) else value
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise UserError("'inherit_env' must be a list of name patterns or a comma-separated string")
    patterns = [pattern.strip() for pattern in patterns if pattern.strip()]
    if not patterns:
        raise UserError("'inherit_env' names no variable: give patterns such as PATH,AWS_*")
    return patterns


def _inherited(given: Any, environ: Mapping[str, str], fail) -> dict[str, str]:
    """The variables of `environ` whose names match a pattern of `given` (fnmatch: `*`,
    `?`, `[...]`). fnmatch compares as the OS does: case matters on POSIX, not on
    Windows, whose variable names ignore case."""
    if given is None:
        return {}
    try:
        patterns = name_patterns(given)
    except UserError as exc:
        raise fail(str(exc)) from None
    # Windows keeps each drive's directory in variables named like "=C:", which no job
    # can be given: they are not inherited.
    chosen = {
        name: value
        for name, value in environ.items()
        if "=" not in name and any(fnmatch.fnmatch(name, pattern) for pattern in patterns)
    }
    for name, value in chosen.items():
        if not plain_text(name) or not plain_text(value):
            raise fail(f"'inherit_env': the variable {quote(name)} is not UTF-8 text")
    return chosen
