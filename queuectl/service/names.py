"""Names: job ids (generated ones are short, unique and roughly time-ordered), queue names,
states."""

from __future__ import annotations

import os
import re
import threading
import time

from queuectl.errors import UserError, quote
from queuectl.model import PROCESSING, STATES

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # used with fullmatch: no trailing \n
QUEUE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")

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


def check_queue(queue: str) -> None:
    if not QUEUE_PATTERN.fullmatch(queue):
        raise UserError(f"invalid queue {quote(queue)}: use 1 to 64 of A-Z a-z 0-9 . _ : -")


def check_state(state: str | None) -> str | None:
    if state is not None and state not in STATES:
        raise UserError(f"unknown state {quote(state)}; states: {', '.join(STATES)}")
    return state


# What an attempt can have led to: any job state but processing (SPEC §9 `attempts`).
OUTCOMES = tuple(state for state in STATES if state != PROCESSING)


def check_outcome(outcome: str | None) -> str | None:
    if outcome is not None and outcome not in OUTCOMES:
        raise UserError(f"unknown outcome {quote(outcome)}; outcomes: {', '.join(OUTCOMES)}")
    return outcome
