"""The settings registry: every key, its type, range and default, in one place.

Settings live in the store (so every worker on every host sees them); this module only
knows how to validate and normalise them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from queuectl.durations import parse_duration
from queuectl.errors import UserError, quote
from queuectl.hooks import KEYS as HOOK_KEYS
from queuectl.hooks import parse_hook
from queuectl.inputs import decimal, integer, size
from queuectl.policy import parse_policy
from queuectl.records import record

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from typing import Any, Callable, Union

    Number = Union[int, float]
    Value = Union[Number, tuple[str, ...], str]  # tuple: a failure policy; str: a hook


@record(frozen=True)
class Setting:
    name: str
    kind: type  # int or float (tuple: a failure policy, str: a hook, read by `parser`)
    low: Number
    high: Number
    default: Value
    help: str
    duration: bool = False  # seconds, also given as DUR text: "30s", "5m", "2h", "1d"
    size: bool = False  # bytes, also given with a unit: "512K", "10M", "10MiB"
    # A value that is not a number (kind, low and high unused): its parser, whose
    # UserError says why a value is wrong.
    parser: Callable[[object], Any] | None = None

    def parse(self, raw: object) -> Any:
        """Validate a value given as text (CLI) or JSON (API); UserError if bad."""
        if self.parser is not None:
            try:
                return self.parser(raw)
            except UserError as exc:
                raise UserError(f"invalid value {quote(raw)} for {self.name}: {exc}") from None
        if self.duration and isinstance(raw, str):
            value = _as_duration(raw)
        elif self.size and isinstance(raw, str):
            value = size(raw)
        else:
            value = _as_number(raw, self.kind)
        if value is None or not (self.low <= value <= self.high):
            if self.duration:
                kind, unit = "a duration", " seconds (30, 30s, 5m, 2h, 1d, 0.5s)"
            elif self.size:
                kind, unit = "a size", " bytes (1048576, 512K, 10M, 10MiB)"
            else:
                kind, unit = ("an integer" if self.kind is int else "a number"), ""
            raise UserError(
                f"invalid value {quote(raw)} for {self.name}: must be {kind} from "
                f"{format_value(self.low)} to {format_value(self.high)}{unit}"
            )
        return value


def _as_duration(raw: str) -> float | None:
    try:
        return parse_duration(raw)
    except UserError:
        return None


def _as_number(raw: object, kind: type) -> Number | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        raw = (decimal if kind is float else integer)(raw.strip())
    if isinstance(raw, int):
        return kind(raw)
    if isinstance(raw, float) and kind is float and math.isfinite(raw):
        return raw
    if isinstance(raw, float) and kind is int and raw.is_integer():
        return int(raw)
    return None


def format_value(value: object) -> str:
    """A setting's value as `config get` prints it: 300.0 -> "300", 0.5 -> "0.5", a
    failure policy as its comma-separated text ("" if empty)."""
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "max_retries",
            int,
            0,
            1000,
            3,
            "retries after the first run, for jobs enqueued without their own",
        ),
        Setting(
            "backoff_base",
            float,
            1,
            3600,
            2.0,
            "seconds, raised to the attempt number: delay = base ** attempts",
        ),
        Setting("backoff_max", float, 0, 604800, 3600.0, "cap on one backoff delay, seconds", True),
        Setting(
            "backoff_jitter",
            float,
            0,
            1,
            0.0,
            "random spread of each backoff delay: times a factor in [1 - j, 1 + j]",
        ),
        Setting(
            "no_retry_on",
            tuple,
            0,
            0,
            (),
            "failure policy for jobs that set none: exit codes, ranges, timeout, signal "
            "(1,64-78,timeout) that go dead at once",
            parser=lambda raw: tuple(parse_policy(raw)),
        ),
        *(
            Setting(
                key,
                str,
                0,
                0,
                "",
                f"hook for jobs that set none: a shell command run after a job {ended}",
                parser=parse_hook,
            )
            for key, ended in zip(HOOK_KEYS, ("completed", "ended dead or canceled"))
        ),
        Setting(
            "job_timeout",
            float,
            0,
            604800,
            0.0,
            "default per-attempt timeout in seconds, 0 = none",
            True,
        ),
        Setting(
            "lease_seconds",
            float,
            1,
            3600,
            30.0,
            "how long a claimed job survives without a heartbeat from its worker",
            True,
        ),
        Setting(
            "poll_interval",
            float,
            0.01,
            60,
            1.0,
            "seconds between idle checks of the store (a fallback to the wake-up)",
            True,
        ),
        Setting(
            "output_limit",
            int,
            0,
            104857600,
            1048576,
            "bytes of output kept per attempt",
            size=True,
        ),
        Setting(
            "kill_grace",
            float,
            0,
            3600,
            5.0,
            "seconds between SIGTERM and SIGKILL when a command is stopped",
            True,
        ),
        Setting(
            "log_max_size",
            int,
            0,
            2**40,
            10 * 1024**2,
            "bytes a pool's log grows to before it is renamed to .1, 0 = never; "
            "read when a pool starts",
            size=True,
        ),
    )
}


def setting(key: str) -> Setting:
    """The setting named `key` (hyphens and underscores are the same)."""
    name = key.strip().lower().replace("-", "_")
    if name not in SETTINGS:
        raise UserError(f"unknown config key {quote(key)}; valid keys: {', '.join(SETTINGS)}")
    return SETTINGS[name]


def defaults() -> dict[str, Value]:
    return {name: s.default for name, s in SETTINGS.items()}


@record(frozen=True)
class Config:
    """Effective settings: the stored values over the defaults."""

    max_retries: int
    backoff_base: float
    backoff_max: float
    backoff_jitter: float
    no_retry_on: tuple[str, ...]
    on_success: str
    on_failure: str
    job_timeout: float
    lease_seconds: float
    poll_interval: float
    output_limit: int
    kill_grace: float
    log_max_size: int

    @classmethod
    def from_stored(cls, stored: Mapping[str, object]) -> Config:
        """Build from raw stored values; a value that no longer validates falls back."""
        values: dict[str, Any] = defaults()  # Number each, as each field's type says
        for name, raw in stored.items():
            if name in SETTINGS:
                try:
                    values[name] = SETTINGS[name].parse(raw)
                except UserError:
                    continue
        return cls(**values)
