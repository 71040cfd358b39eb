"""The use cases, shared by the CLI and the dashboard: they validate input (raising
`UserError`), call the store, and return plain data. Nothing here prints.

One module per family of use cases; the UIs call them as `service.NAME`. A family's module
is imported when one of its names is first used, so that `queuectl run` loads `enqueue`
and not `doctor`, `schedules` or `stats` with all they import (PEP 562).
"""

from __future__ import annotations

import importlib
import sys
import types

# Where each name of the service lives.
_HOMES: dict[str, tuple[str, ...]] = {
    "queuectl.jobspec": (
        "JOB_KEYS",
        "MAX_TIMEOUT",
        "NO_ENVIRONMENT",
        "PRIORITY_RANGE",
        "build_job",
        "name_patterns",
    ),
    "queuectl.model": ("new_job_id",),
    "queuectl.names": (
        "ID_PATTERN",
        "OUTCOMES",
        "QUEUE_PATTERN",
        "check_outcome",
        "check_queue",
        "check_schedule",
        "check_state",
    ),
    "queuectl.service.changing": (
        "cancel",
        "dlq_list",
        "dlq_retry",
        "late_cancels",
        "purge",
    ),
    "queuectl.service.doctor": (
        "Check",
        "diagnose",
        "has_failure",
    ),
    "queuectl.service.enqueue": (
        "Enqueued",
        "enqueue",
    ),
    "queuectl.service.porting": (
        "export_lines",
        "import_lines",
    ),
    "queuectl.service.queues": (
        "held_locks",
        "limit",
        "parse_limit",
        "pause",
        "queue_gates",
        "queue_list",
        "resume",
    ),
    "queuectl.service.reading": (
        "EXIT_TIMEOUT",
        "LOG_COLUMNS",
        "attempt",
        "attempt_log",
        "attempts_of",
        "clock",
        "exit_status",
        "follow",
        "follow_job",
        "list_jobs",
        "show",
        "status",
        "wait",
    ),
    "queuectl.service.schedules": (
        "add_schedule",
        "pause_schedule",
        "remove_schedule",
        "resume_schedule",
        "run_schedule",
        "schedule_list",
        "schedule_show",
    ),
    "queuectl.service.settings": (
        "config_get",
        "config_set",
        "config_show",
        "config_stored",
        "config_unset",
    ),
    "queuectl.service.stats": (
        "BUCKET_SECONDS",
        "metrics",
        "stats",
        "throughput",
    ),
    "queuectl.service.stores": (
        "existing_job_ids",
        "load_config",
        "locate",
        "open_location",
        "shown_location",
    ),
    "queuectl.service.workers": (
        "await_workers_gone",
        "stop_workers",
        "workers",
    ),
    "queuectl.service.workflows": (
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
        "groups",
        "hold",
        "parse_array",
        "release",
        "requeue",
        "retry_group",
    ),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = list(_HOME_OF)


class _Service(types.ModuleType):
    def __getattr__(self, name: str) -> object:
        if name not in _HOME_OF:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(_HOME_OF[name]), name)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value: object) -> None:
        # Importing queuectl.service.stats binds `stats` on the package to that module, over
        # the function `stats` of the service.
        if not (isinstance(value, types.ModuleType) and name in _HOME_OF):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Service

TYPE_CHECKING = False  # typing's own: importing typing costs `queuectl run` 4 ms
if TYPE_CHECKING:
    from queuectl.jobspec import (
        JOB_KEYS,
        MAX_TIMEOUT,
        NO_ENVIRONMENT,
        PRIORITY_RANGE,
        build_job,
        name_patterns,
    )
    from queuectl.model import new_job_id
    from queuectl.names import (
        ID_PATTERN,
        OUTCOMES,
        QUEUE_PATTERN,
        check_outcome,
        check_queue,
        check_schedule,
        check_state,
    )
    from queuectl.service.changing import cancel, dlq_list, dlq_retry, late_cancels, purge
    from queuectl.service.doctor import Check, diagnose, has_failure
    from queuectl.service.enqueue import Enqueued, enqueue
    from queuectl.service.porting import export_lines, import_lines
    from queuectl.service.queues import (
        held_locks,
        limit,
        parse_limit,
        pause,
        queue_gates,
        queue_list,
        resume,
    )
    from queuectl.service.reading import (
        EXIT_TIMEOUT,
        LOG_COLUMNS,
        attempt,
        attempt_log,
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
    from queuectl.service.schedules import (
        add_schedule,
        pause_schedule,
        remove_schedule,
        resume_schedule,
        run_schedule,
        schedule_list,
        schedule_show,
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
        groups,
        hold,
        parse_array,
        release,
        requeue,
        retry_group,
    )
