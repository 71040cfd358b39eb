"""The use cases, shared by the CLI and the dashboard: they validate input (raising
`UserError`), call the store, and return plain data. Nothing here prints.

One module per family of use cases; the UIs call them as `service.NAME`.
"""

from __future__ import annotations

from queuectl.service.changing import cancel, dlq_list, dlq_retry, late_cancels, purge
from queuectl.service.enqueue import (
    JOB_KEYS,
    MAX_TIMEOUT,
    NO_ENVIRONMENT,
    PRIORITY_RANGE,
    build_job,
    enqueue,
    name_patterns,
)
from queuectl.service.names import ID_PATTERN, QUEUE_PATTERN, check_queue, check_state, new_job_id
from queuectl.service.reading import (
    EXIT_TIMEOUT,
    attempt,
    attempts_of,
    clock,
    exit_status,
    follow,
    follow_job,
    list_jobs,
    show,
    status,
    wait,
)
from queuectl.service.settings import (
    config_get,
    config_set,
    config_show,
    config_stored,
    config_unset,
)
from queuectl.service.stats import BUCKET_SECONDS, metrics, stats, throughput
from queuectl.service.stores import (
    existing_job_ids,
    load_config,
    locate,
    open_location,
    shown_location,
)
from queuectl.service.workers import await_workers_gone, stop_workers, workers
from queuectl.service.workflows import (
    REASONS,
    Acted,
    array_indices,
    cancel_group,
    each_line_items,
    edit,
    enqueue_array,
    explain,
    group_members,
    group_status,
    hold,
    parse_array,
    release,
    requeue,
    retry_group,
)

__all__ = [
    "cancel",
    "dlq_list",
    "dlq_retry",
    "late_cancels",
    "purge",
    "JOB_KEYS",
    "MAX_TIMEOUT",
    "NO_ENVIRONMENT",
    "PRIORITY_RANGE",
    "build_job",
    "enqueue",
    "name_patterns",
    "ID_PATTERN",
    "QUEUE_PATTERN",
    "check_queue",
    "check_state",
    "new_job_id",
    "EXIT_TIMEOUT",
    "attempt",
    "attempts_of",
    "clock",
    "exit_status",
    "follow",
    "follow_job",
    "list_jobs",
    "show",
    "status",
    "wait",
    "config_get",
    "config_set",
    "config_show",
    "config_stored",
    "config_unset",
    "BUCKET_SECONDS",
    "metrics",
    "stats",
    "throughput",
    "existing_job_ids",
    "load_config",
    "locate",
    "open_location",
    "shown_location",
    "REASONS",
    "Acted",
    "array_indices",
    "cancel_group",
    "each_line_items",
    "edit",
    "enqueue_array",
    "explain",
    "group_members",
    "group_status",
    "parse_array",
    "hold",
    "release",
    "requeue",
    "retry_group",
    "await_workers_gone",
    "stop_workers",
    "workers",
]
