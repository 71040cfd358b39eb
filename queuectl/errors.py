"""One exception hierarchy: user errors become one stderr line and exit 1."""

QUOTE_LIMIT = 80  # characters of user text an error message shows


def quote(value: object) -> str:
    """`value` as an error message shows it: repr(), text past QUOTE_LIMIT characters cut
    and its length given, so that a 100 KB argument still makes one readable line."""
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        return f"{value[:QUOTE_LIMIT] + '…'!r} ({len(value)} characters)"
    return repr(value)


class QueuectlError(Exception):
    """Base of every error queuectl raises on purpose."""


class UserError(QueuectlError):
    """Bad input or a request that the current state does not allow (exit 1)."""


class NotFound(UserError):
    """A job id (or attempt) that the store does not have."""


class Conflict(UserError):
    """The request clashes with the store's state: duplicate id, wrong job state."""


class DuplicateId(Conflict):
    """An enqueue named a job id that is already taken."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job id {quote(job_id)} already exists")
        self.job_id = job_id


class Taken(Conflict):
    """An import names what the store holds already (a job id, a schedule name, a unique
    key), or a job it cannot take as it is; `subject` is the job or schedule of the file
    that said so: ("job", id) or ("schedule", name)."""

    def __init__(self, message: str, subject: tuple[str, str]) -> None:
        super().__init__(message)
        self.subject = subject


class StoreError(QueuectlError):
    """The store cannot be opened or used (wrong version, missing driver, unreachable)."""


class SchemaTooNew(StoreError):
    """The store's schema is of a newer release than this one: that release upgraded it."""


class StoreUnavailable(StoreError):
    """The store cannot be used for now, for a reason that passes: a database server that
    restarts or refuses connections, a full disk, a lock held too long. Workers and pools
    ride it out and try again; a command that meets it reports it like any store error."""


class StoreMissing(StoreError):
    """A command that only reads named a store that does not exist: it is not created."""

    def __init__(self, location: str) -> None:
        super().__init__(
            f"no queue store at {location}; it is created by the first run/enqueue/worker start"
        )


class StoreReadOnly(StoreError):
    """The store cannot be written: a read-only file system, or no permission to write."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"the store {location} is read-only: {reason}")
        self.reason = reason
