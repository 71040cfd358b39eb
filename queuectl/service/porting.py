"""Export and import (SPEC §10): a store as JSON lines, read back into any store.

The first line names the format and its version; then one line per job (its row, its
attempts, the conditions it still waits for, its hooks not yet run), one for the config,
one per gate (queue pauses and limits, group limits, locks), one per schedule with its
ticks, and an end line that counts the jobs, so that a file cut at a line break is
refused like one cut within a line. Times are integer milliseconds since the epoch, as
the stores keep them, so that a store survives the trip exactly. A job's output is text
when it is UTF-8, else base64.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Callable, NamedTuple

from queuectl import cron, lifecycle
from queuectl.config import Config, setting
from queuectl.errors import Taken, UserError, quote
from queuectl.hooks import HookDuty
from queuectl.inputs import plain_text
from queuectl.jobspec import build_job
from queuectl.lifecycle import dependency_cycle
from queuectl.model import (
    ACCEPTS,
    CATCH_UPS,
    ENQUEUED,
    LIVE,
    OVERLAPS,
    PENDING,
    PROCESSING,
    SKIPPED,
    STATES,
    TERMINAL,
    WAITING,
    Attempt,
    Gate,
    Job,
    Schedule,
    Tick,
)
from queuectl.records import MISSING, fields
from queuectl.service.schedules import REFUSED_KEYS
from queuectl.store.base import JobExport, Store, StoreSettings
from queuectl.store.rows import ms  # the file's times are the stores' milliseconds

FORMAT = "queuectl-export"
VERSION = 1
BATCH = 500  # jobs handed to the store at a time
MOVED_ERROR = "exported while running: put back"
GATE_KINDS = ("queue", "group", "lock")

# Times, as integer milliseconds in the file.
_MOMENTS = frozenset(
    ("run_at", "created_at", "updated_at", "started_at", "finished_at")
    + ("fired_through", "next_fire_at", "tick", "at")
)
_LATEST_MS = 10**14  # a time in the file is before this (the year 5138)
# What a job's row holds only while it runs or that the store works out: not in the file.
_JOB_DERIVED: dict[str, Any] = {
    "worker_id": None,
    "lease_until": None,
    "cancel_requested": False,
    "host": None,
    "waiting_on": 0,
    "gate": None,
}
_JOB_DERIVED_NAMES = tuple(_JOB_DERIVED)
# A job's fields that enqueue checks (its checks are the import's), and the defaults they
# are checked against (a job's own values are all given).
_ENQUEUED_KEYS = (
    *("id", "command", "max_retries", "queue", "priority", "timeout", "cwd", "env", "after"),
    *("group", "lock", "unique_key", "retry_on", "no_retry_on", "on_success", "on_failure"),
)
_DEFAULTS = Config.from_stored({})
_LINE_KINDS = ("job", "config", "gate", "schedule", "end")


def _line(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


# --- export ----------------------------------------------------------------------------


def export_lines(
    store: Store, states: Sequence[str] | None, group: str | None, with_output: bool
) -> Iterator[str]:
    """The export's lines, each without its line break."""
    yield _line({"format": FORMAT, "version": VERSION})
    jobs = 0
    for part in store.export(states, group, with_output):
        if isinstance(part, StoreSettings):
            yield from _settings_lines(part)
        else:
            jobs += 1
            yield _line(_job_data(part, with_output))
    yield _line({"end": {"jobs": jobs}})


def _encoded(record: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A record's fields as the file holds them, but those in `skip`."""
    key = (type(record), skip)
    if key not in _WRITTEN:
        _WRITTEN[key] = [
            (item.name, item.name in _MOMENTS) for item in fields(record) if item.name not in skip
        ]
    data = {}
    for name, moment in _WRITTEN[key]:
        value = getattr(record, name)
        data[name] = ms(value) if moment else value
    return data


_WRITTEN: dict[tuple[type, tuple[str, ...]], list[tuple[str, bool]]] = {}  # by _encoded


def _job_data(entry: JobExport, with_output: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "job": _encoded(entry.job, _JOB_DERIVED_NAMES),
        "attempts": [_attempt_data(attempt, with_output) for attempt in entry.attempts],
    }
    if entry.waits:
        data["waits"] = [{"id": dep, "on": on} for dep, on in sorted(entry.waits)]
    if entry.hook_duties:
        data["hooks"] = [_encoded(duty, ("job_id",)) for duty in entry.hook_duties]
    return data


def _attempt_data(attempt: Attempt, with_output: bool) -> dict[str, Any]:
    data = _encoded(attempt, ("job_id", "output", "pgid"))
    if with_output:
        try:
            data["output"] = attempt.output.decode("utf-8")
        except UnicodeDecodeError:
            data["output_base64"] = base64.b64encode(attempt.output).decode("ascii")
    return data


def _settings_lines(settings: StoreSettings) -> Iterator[str]:
    # Sorted here, not by the database: PostgreSQL sorts text by its collation.
    yield _line({"config": dict(sorted(settings.config.items()))})
    for gate in sorted(settings.gates, key=lambda gate: gate.name):
        yield _line({"gate": _encoded(gate, ("running",))})
    for schedule, ticks in sorted(settings.schedules, key=lambda pair: pair[0].name):
        yield _line(
            {"schedule": _encoded(schedule), "ticks": [_encoded(t, ("schedule",)) for t in ticks]}
        )


# --- import ----------------------------------------------------------------------------


def import_lines(store: Store, lines: Iterable[str | bytes]) -> dict[str, int]:
    """Read an export into `store` in one transaction; how many jobs, attempts, gates and
    schedules it held. UserError naming the line for a file that is not an export of this
    format, is cut short or names what the store holds already; nothing is imported then."""
    reader = _Reader(lines, store.clock())
    try:
        store.import_parts(reader.parts(), reader.now)
    except Taken as exc:
        raise UserError(f"line {reader.line_of(exc.subject)}: {exc}") from None
    return reader.counts


class _Reader:
    """Reads an export's lines into the parts `Store.import_parts` takes, checking each
    line and what the file says twice, and remembering which line said what."""

    def __init__(self, lines: Iterable[str | bytes], now: float) -> None:
        self.lines = lines
        self.now = now
        self.number = 0
        self.said: dict[tuple[str, str], int] = {}  # ("job", id) or ("schedule", name): line
        self.live_keys: set[str] = set()
        self.waits_for: dict[str, list[str]] = {}  # a job of the file: the jobs it waits for
        self.counts = {"jobs": 0, "attempts": 0, "gates": 0, "schedules": 0}
        self.settings = StoreSettings(config={}, gates=[], schedules=[])

    def line_of(self, subject: tuple[str, str]) -> int:
        return self.said.get(subject, self.number)

    def parts(self) -> Iterator[list[JobExport] | StoreSettings]:
        batch: list[JobExport] = []
        ended = False
        for data in self._objects():
            if ended:
                raise self._error("there is more after the end line")
            kind = self._kind(data)
            if kind == "job":
                batch.append(self._job(data))
                if len(batch) == BATCH:
                    yield batch
                    batch = []
            elif kind == "end":
                self._end(data)
                ended = True
            else:
                self._setting(kind, data)
        if not ended:
            raise self._error("the file ends before its end line: it is cut short")
        if ("config", "") not in self.said:
            raise self._error("the file ends with no config line: an export has one")
        cycle = dependency_cycle(self.waits_for)
        if cycle:
            line = self.said["job", cycle[0]]
            raise UserError(
                f"line {line}: the waits form a cycle: {' -> '.join(map(quote, cycle))}"
            )
        if batch:
            yield batch
        yield self.settings

    def _error(self, message: str) -> UserError:
        return UserError(f"line {self.number}: {message}")

    def _objects(self) -> Iterator[dict[str, Any]]:
        header_read = False
        for number, text in enumerate(self.lines, 1):
            self.number = number
            if not text.strip():
                continue
            try:
                data = json.loads(text, parse_constant=_no_constant)
            except (ValueError, RecursionError):  # UnicodeDecodeError too
                raise self._error("not a line of UTF-8 JSON (the file may be cut short)") from None
            if not isinstance(data, dict):
                raise self._error("not a JSON object")
            if not header_read:
                self._header(data)
                header_read = True
            else:
                yield data
        if not header_read:
            raise UserError(f"the file is empty: a {FORMAT} file starts with its format line")

    def _header(self, data: dict[str, Any]) -> None:
        if data.get("format") != FORMAT:
            raise self._error(f"not a {FORMAT} file: its first line names no such format")
        if data.get("version") != VERSION:
            raise self._error(
                f"{FORMAT} version {quote(data.get('version'))}: this queuectl reads "
                f"version {VERSION}"
            )

    def _kind(self, data: dict[str, Any]) -> str:
        kinds = [kind for kind in _LINE_KINDS if kind in data]
        if len(kinds) != 1:
            raise self._error(f"a line holds one of {', '.join(_LINE_KINDS)}")
        return kinds[0]

    def _say_once(self, subject: tuple[str, str]) -> None:
        if subject in self.said:
            kind, name = subject
            raise self._error(f"{kind} {quote(name)} is on line {self.said[subject]} already")
        self.said[subject] = self.number

    # --- jobs --------------------------------------------------------------------------

    def _job(self, data: dict[str, Any]) -> JobExport:
        self._only_keys(data, ("job", "attempts", "waits", "hooks"), "a job line")
        job = self._decoded(Job, data["job"], "job", _JOB_DERIVED)
        self._say_once(("job", job.id))
        self._check_job(job)
        running = job.state == PROCESSING
        if running:  # its attempt given back, as a lease's expiry would
            moved = lifecycle.after_release(job, self.now)
            job.state, job.attempts, job.run_at = moved.state, moved.attempts, moved.run_at
            job.updated_at = self.now
        if job.unique_key is not None and job.state in LIVE:
            if job.unique_key in self.live_keys:
                raise self._error(f"unique key {quote(job.unique_key)} is held twice")
            self.live_keys.add(job.unique_key)
        attempts = [
            self._attempt(job.id, item, running) for item in self._list(data, "attempts", job.id)
        ]
        numbers = [attempt.number for attempt in attempts]
        if len(set(numbers)) < len(numbers) or min(numbers, default=1) < 1:
            raise self._error(f"job {quote(job.id)}: attempt numbers are 1, 2, ... each once")
        waits = [self._wait(job, item) for item in self._list(data, "waits", job.id)]
        if len(set(waits)) < len(waits):
            raise self._error(f"job {quote(job.id)}: a wait is listed twice")
        if waits:
            self.waits_for[job.id] = [dep for dep, _ in waits]
        duties = [self._duty(job.id, item) for item in self._list(data, "hooks", job.id)]
        self.counts["jobs"] += 1
        self.counts["attempts"] += len(attempts)
        return JobExport(job, attempts, waits, duties)

    def _check_job(self, job: Job) -> None:
        """What enqueue checks of a job's fields, and that its counts make sense."""
        if job.state not in STATES:
            raise self._error(f"job {quote(job.id)} has an unknown state {quote(job.state)}")
        if min(job.attempts, job.attempt_number) < 0 or job.attempts > job.attempt_number:
            raise self._error(f"job {quote(job.id)}: attempts and attempt_number do not fit")
        spec = {key: getattr(job, key) for key in _ENQUEUED_KEYS}
        spec = {key: value for key, value in spec.items() if value not in (None, [], {})}
        try:
            build_job(spec, _DEFAULTS, self.now, job.cwd)
        except UserError as exc:
            raise self._error(f"job {quote(job.id)}: {exc}") from None

    def _duty(self, job_id: str, data: Any) -> HookDuty:
        duty = self._decoded(HookDuty, data, "hook", given={"job_id": job_id})
        if duty.state not in TERMINAL:
            raise self._error(f"job {quote(job_id)}: a hook is for a job that ended")
        return duty

    def _list(self, data: dict[str, Any], key: str, job_id: str) -> list[Any]:
        items = data.get(key, [])
        if not isinstance(items, list):
            raise self._error(f"job {quote(job_id)}: {key} must be a list")
        return items

    def _attempt(self, job_id: str, data: Any, running: bool) -> Attempt:
        if not isinstance(data, dict):
            raise self._error(f"job {quote(job_id)}: an attempt must be a JSON object")
        given: dict[str, Any] = {"job_id": job_id, "output": self._output(data), "pgid": None}
        if running and data.get("outcome") is None:
            given.update(finished_at=self.now, outcome=PENDING, error=MOVED_ERROR)
        attempt = self._decoded(Attempt, data, "attempt", given, ("output_base64",))
        if attempt.outcome is not None and attempt.outcome not in STATES:
            raise self._error(f"job {quote(job_id)}: an attempt's outcome is not a job state")
        return attempt

    def _output(self, data: dict[str, Any]) -> bytes:
        text, encoded = data.get("output"), data.get("output_base64")
        if text is not None and encoded is not None:
            raise self._error("an attempt has output and output_base64: give one")
        if text is not None:
            if not isinstance(text, str):
                raise self._error("an attempt's output must be text")
            return text.encode("utf-8", errors="surrogatepass")
        if encoded is None:
            return b""
        try:
            return base64.b64decode(str(encoded), validate=True)
        except binascii.Error:
            raise self._error("an attempt's output_base64 is not base64") from None

    def _wait(self, job: Job, data: Any) -> tuple[str, str]:
        if job.state not in WAITING:
            raise self._error(f"job {quote(job.id)} is {job.state}: it waits for nothing")
        if not isinstance(data, dict) or set(data) != {"id", "on"} or data["on"] not in ACCEPTS:
            raise self._error(
                f'job {quote(job.id)}: a wait is {{"id": ID, "on": {"|".join(ACCEPTS)}}}'
            )
        if not isinstance(data["id"], str):
            raise self._error(f"job {quote(job.id)}: a wait's id must be text")
        return data["id"], data["on"]

    # --- settings ----------------------------------------------------------------------

    def _setting(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "config":
            self._only_keys(data, ("config",), "a config line")
            self._config(data["config"])
        elif kind == "gate":
            self._only_keys(data, ("gate",), "a gate line")
            self.settings.gates.append(self._gate(data["gate"]))
            self.counts["gates"] += 1
        else:
            self._only_keys(data, ("schedule", "ticks"), "a schedule line")
            self.settings.schedules.append(self._schedule(data))
            self.counts["schedules"] += 1

    def _config(self, values: Any) -> None:
        if ("config", "") in self.said:
            raise self._error(f"a second config line (the first is line {self.said['config', '']})")
        self.said["config", ""] = self.number
        if not isinstance(values, dict):
            raise self._error("config must be a JSON object of settings")
        for key, raw in values.items():
            try:
                item = setting(key)
                self.settings.config[item.name] = item.parse(raw)
            except UserError as exc:
                raise self._error(str(exc)) from None

    def _gate(self, data: Any) -> Gate:
        gate = self._decoded(Gate, data, "gate", given={"running": 0})
        self._say_once(("gate", gate.name))
        kind, _, name = gate.name.partition(":")
        if kind not in GATE_KINDS or not name:
            raise self._error(f"a gate's name is {', '.join(k + ':NAME' for k in GATE_KINDS)}")
        if gate.max_running is not None and gate.max_running < 1:
            raise self._error(f"gate {quote(gate.name)}: max_running must be at least 1")
        # Only a queue is paused or limited at will; a lock admits one, a group its %N.
        if kind != "queue" and (
            gate.paused or gate.max_running is None or (kind == "lock" and gate.max_running != 1)
        ):
            raise self._error(f"gate {quote(gate.name)}: a {kind}'s gate is not paused this way")
        return gate

    def _schedule(self, data: dict[str, Any]) -> tuple[Schedule, list[Tick]]:
        schedule = self._decoded(Schedule, data["schedule"], "schedule")
        self._say_once(("schedule", schedule.name))
        try:
            cron.parse_cron(schedule.expression)
            cron.load_zone(schedule.zone)
        except UserError as exc:
            raise self._error(f"schedule {quote(schedule.name)}: {exc}") from None
        if schedule.overlap not in OVERLAPS or schedule.catch_up not in CATCH_UPS:
            raise self._error(
                f"schedule {quote(schedule.name)}: overlap is {' or '.join(OVERLAPS)}, "
                f"catch_up {' or '.join(CATCH_UPS)}"
            )
        refused = [key for key in REFUSED_KEYS if key in schedule.spec]
        try:
            if refused:
                raise UserError(f"a schedule's jobs take no {quote(refused[0])}")
            build_job(schedule.spec, _DEFAULTS, self.now, str(schedule.spec.get("cwd") or "/"))
        except UserError as exc:
            raise self._error(f"schedule {quote(schedule.name)}: {exc}") from None
        ticks = data.get("ticks", [])
        if not isinstance(ticks, list):
            raise self._error(f"schedule {quote(schedule.name)}: ticks must be a list")
        given = {"schedule": schedule.name}
        read = [self._decoded(Tick, tick, "tick", given) for tick in ticks]
        if any(tick.outcome not in (ENQUEUED, SKIPPED) for tick in read):
            raise self._error(f"schedule {quote(schedule.name)}: a tick is enqueued or skipped")
        return schedule, read

    # --- fields ------------------------------------------------------------------------

    def _only_keys(self, data: dict[str, Any], allowed: Iterable[str], what: str) -> None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise self._error(f"{what} has an unknown key {quote(unknown[0])}")

    def _decoded(
        self,
        cls: type[Any],
        data: Any,
        what: str,
        given: dict[str, Any] | None = None,
        extra: Iterable[str] = (),
    ) -> Any:
        """A record of class `cls` from its object in the file: each field checked against
        its annotation, those in `given` as given; keys that are no field (nor `extra`)
        are refused."""
        if not isinstance(data, dict):
            raise self._error(f"a {what} must be a JSON object")
        plan, names = _plan_of(cls)
        if not names.issuperset(data):
            self._only_keys(data, [*names, *extra], what)
        values = dict(given or {})
        for item in plan:
            if item.name in values:
                continue
            value = data.get(item.name, MISSING)
            if value is MISSING:
                if item.required:
                    raise self._error(f"a {what} has no {quote(item.name)}")
            elif value is None:
                if not item.nullable:
                    raise self._error(f"a {what}'s {item.name} must not be null")
                values[item.name] = None
            elif item.moment:
                if type(value) is not int or not 0 <= value < _LATEST_MS:
                    raise self._error(f"a {what}'s {item.name} must be milliseconds since 1970")
                values[item.name] = value / 1000.0
            elif item.check(value):
                values[item.name] = float(value) if item.number else value
            else:
                raise self._error(f"a {what}'s {item.name} must be {item.kind}")
        return cls(**values)

    def _end(self, data: dict[str, Any]) -> None:
        self._only_keys(data, ("end",), "the end line")
        told = data["end"].get("jobs") if isinstance(data["end"], dict) else None
        if type(told) is not int or told != self.counts["jobs"]:
            raise self._error(
                f"the end line counts {quote(told)} jobs, the file holds {self.counts['jobs']}"
            )


def _texts(value: Any) -> bool:
    return type(value) is list and all(_text(item) for item in value)


def _text_map(value: Any) -> bool:
    return type(value) is dict and all(_text(k) and _text(v) for k, v in value.items())


def _of_type(*types: type) -> Callable[[Any], bool]:
    # Exact types: JSON's true is no integer here, as it is to Python.
    return lambda value: type(value) in types


def _text(value: Any) -> bool:
    return type(value) is str and plain_text(value)


def _integer(value: Any) -> bool:
    return type(value) is int and -(2**63) <= value < 2**63  # what a column holds


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number a store holds")


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (_text, "UTF-8 text without NUL"),
    "int": (_integer, "an integer of 64 bits"),
    "float": (lambda value: _integer(value) or type(value) is float, "a number"),
    "bool": (_of_type(bool), "true or false"),
    "dict[str, str]": (_text_map, "an object of texts"),
    "dict[str, Any]": (_of_type(dict), "an object"),
    "list[str]": (_texts, "a list of texts"),
    "list[dict[str, str]]": (
        lambda value: type(value) is list and all(_text_map(item) for item in value),
        "a list of objects of texts",
    ),
}


class _FieldCheck(NamedTuple):
    """How the file's value of one field of a record is checked and read."""

    name: str
    required: bool
    nullable: bool
    moment: bool  # integer milliseconds in the file
    number: bool  # a float field: an integer in the file is read as a float
    check: Callable[[Any], bool]
    kind: str  # what `check` wants, for its error


_PLANS: dict[type, tuple[list[_FieldCheck], frozenset[str]]] = {}


def _plan_of(cls: type[Any]) -> tuple[list[_FieldCheck], frozenset[str]]:
    """The checks of each field of `cls`, and the field names (worked out once a class)."""
    if cls in _PLANS:
        return _PLANS[cls]
    plan = []
    for item in fields(cls):
        base, _, nullable = str(item.type).partition(" | ")
        check, kind = _CHECKS[base] if base in _CHECKS else (_of_type(bytes), "bytes")
        required = item.default is MISSING and item.default_factory is MISSING
        moment = item.name in _MOMENTS
        plan.append(
            _FieldCheck(item.name, required, bool(nullable), moment, base == "float", check, kind)
        )
    _PLANS[cls] = plan, frozenset(item.name for item in plan)
    return _PLANS[cls]
