"""Hooks (SPEC §9): a job's on_success and on_failure commands, and the duty to run one
that the store records as the job ends (a row, written by the same transaction)."""

from __future__ import annotations

from queuectl.errors import UserError
from queuectl.inputs import plain_text
from queuectl.records import record

KEYS = ("on_success", "on_failure")  # a job's hook fields, and the config keys of the same names
TIME_LIMIT = 60.0  # seconds a hook may run before its process group is stopped
ENVIRONMENT_PREFIX = "QUEUECTL_"


def parse_hook(value: object) -> str:
    """A hook command as given (JSON or an option): a string, "" for none; UserError if it
    is not text a shell can take."""
    if not isinstance(value, str):
        raise UserError("a hook must be a shell command (a string)")
    if not plain_text(value):
        raise UserError("a hook must be UTF-8 text without NUL characters")
    return value if value.strip() else ""


@record(frozen=True)
class HookDuty:
    """One hook to run: its command and where, and the ended job as its environment tells
    it (a snapshot taken as the job ended: the job may be purged before the hook runs)."""

    job_id: str
    command: str
    cwd: str
    env: dict[str, str]
    state: str
    exit_code: int | None
    attempt: int
    last_error: str | None
    created_at: float

    def environment(self) -> dict[str, str]:
        """The variables a hook gets, over the job's own env (an unset value is "")."""
        told = {
            "JOB_ID": self.job_id,
            "STATE": self.state,
            "EXIT_CODE": "" if self.exit_code is None else str(self.exit_code),
            "ATTEMPT": str(self.attempt),
            "LAST_ERROR": self.last_error or "",
        }
        return {**self.env, **{ENVIRONMENT_PREFIX + key: value for key, value in told.items()}}
