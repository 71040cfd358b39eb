"""The raw floor of workload 1: a plain Python pool of P processes calling
``subprocess.run("true", shell=True)`` N times. ``python -m bench.rawfloor N P``; the suite
times the whole process, start-up included, as it times queuectl from worker start."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys


def run_true(_: int) -> None:
    subprocess.run("true", shell=True, check=True)


def main(argv: list[str]) -> int:
    count, processes = int(argv[0]), int(argv[1])
    with multiprocessing.Pool(processes) as pool:  # the platform's default start method
        pool.map(run_true, range(count))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
