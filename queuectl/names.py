"""Names: job ids, queue names, states. (Generated ids are model.new_job_id's: the pools
make them too, for the jobs of schedules.)"""

from __future__ import annotations

import re

from queuectl.errors import UserError, quote
from queuectl.model import PROCESSING, STATES

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")  # used with fullmatch: no trailing \n
QUEUE_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def check_queue(queue: str) -> None:
    if not QUEUE_PATTERN.fullmatch(queue):
        raise UserError(f"invalid queue {quote(queue)}: use 1 to 64 of A-Z a-z 0-9 . _ : -")


def check_schedule(name: str) -> str:
    if not ID_PATTERN.fullmatch(name):
        raise UserError(f"invalid schedule name {quote(name)}: use 1 to 128 of A-Z a-z 0-9 . _ : -")
    return name


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
