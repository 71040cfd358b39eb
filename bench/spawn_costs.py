"""What starting one `true` command costs, by way of starting it (issue 15's "what to try").

``python -m bench.spawn_costs [--starts N] [--rounds R]`` starts N commands each way, in
rotation, R rounds, and prints the median CPU per start of this process (the worker's
side) and of the command (the child's side), from getrusage:

- `platform.spawn`: `subprocess.Popen("true", shell=True, ...)` as a worker used it before
  (new session, stdin from /dev/null, one pipe for stdout and stderr);
- `queuectl.worker.spawning.start`: the same through `os.posix_spawn`;
- a direct exec of `true` found in PATH, skipping `/bin/sh` (GNU make's fast path), with
  the PATH search a worker would make for every such job.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
from typing import Callable

from queuectl import platform
from queuectl.worker import spawning

# As a worker passes it: its own environment joined with the job's and the attempt's tags.
ENV = {**os.environ, "QUEUECTL_JOB_ID": "job", "QUEUECTL_ATTEMPT": "1"}


def _popen() -> int:
    proc = platform.spawn("true", os.getcwd(), ENV)  # how a worker started commands before
    assert proc.stdout is not None
    proc.stdout.read()
    proc.stdout.close()
    return proc.wait()


def _posix_spawn() -> int:
    started = spawning.start("true", os.getcwd(), ENV)
    assert started.stdout is not None
    started.stdout.read()
    started.stdout.close()
    return os.waitpid(started.pid, 0)[1]


def _direct() -> int:
    program = shutil.which("true", path=ENV.get("PATH"))  # the search, every time
    assert program is not None
    read, write = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_DUP2, write, 2)]
    pid = os.posix_spawn(program, ["true"], ENV, file_actions=actions, setsid=True)
    os.close(write)
    while os.read(read, 65536):
        pass
    os.close(read)
    return os.waitpid(pid, 0)[1]


WAYS: dict[str, Callable[[], int]] = {
    "subprocess.Popen, /bin/sh -c true": _popen,
    "posix_spawn, /bin/sh -c true (the worker's way)": _posix_spawn,
    "posix_spawn, true found in PATH (no shell)": _direct,
}


def _cpu() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def measure(starts: int, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (parent, child) CPU seconds per start of each way."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in WAYS}
    for _ in range(rounds):
        for name, way in WAYS.items():
            before = _cpu()
            for _ in range(starts):
                way()
            after = _cpu()
            samples[name].append(((after[0] - before[0]) / starts, (after[1] - before[1]) / starts))
    return {
        name: (
            statistics.median(parent for parent, _ in values),
            statistics.median(child for _, child in values),
        )
        for name, values in samples.items()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spawn_costs")
    parser.add_argument("--starts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    path_entries = len(os.environ.get("PATH", "").split(os.pathsep))
    print(
        f"CPU per start, medians of {args.rounds} rounds of {args.starts} (PATH has "
        f"{path_entries} entries):"
    )
    for name, (parent, child) in measure(args.starts, args.rounds).items():
        print(
            f"  {parent * 1000:.3f} ms here + {child * 1000:.3f} ms the command "
            f"= {(parent + child) * 1000:.3f} ms  {name}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
