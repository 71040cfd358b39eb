"""HyperQueue through its PyPI wheel (workload 7), which ships no `hq` binary but embeds the
server and worker: `LocalCluster` runs both inside this process. Run in the folder of one
measurement (its tasks write their stdout/stderr files there, HyperQueue's default):
``python -m bench.peer_hq throughput N`` submits one job of N tasks, then starts a worker
with 2 cores and prints the seconds from that start to the job done;
``python -m bench.peer_hq latency N GAP SETTLE`` starts a worker, runs a warm-up job, waits
SETTLE seconds, then submits N one-task jobs one at a time, each waited for, and prints
their pickup latencies as JSON (the moment the task's `sh` opens a FIFO - the moment just
before the submit call, as for task-spooler)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from hyperqueue import Job, LocalCluster
from hyperqueue.cluster import WorkerConfig

from bench.peers import fifo_reader

SHELL_TRUE = ["sh", "-c", "true"]
CORES = 2


def throughput(cluster: LocalCluster, count: int) -> float:
    client = cluster.client()
    job = Job()
    for _ in range(count):
        job.program(SHELL_TRUE)
    submitted = client.submit(job)
    start = time.perf_counter()
    cluster.start_worker(WorkerConfig(cores=CORES))
    client.wait_for_jobs([submitted])
    return time.perf_counter() - start


def latency(cluster: LocalCluster, count: int, gap: float, settle: float) -> list[float]:
    cluster.start_worker(WorkerConfig(cores=CORES))
    client = cluster.client()
    warm_up = Job()
    warm_up.program(SHELL_TRUE)
    client.wait_for_jobs([client.submit(warm_up)])
    time.sleep(settle)
    out = []
    for index in range(count):
        fifo = Path(f"started{index}")
        os.mkfifo(fifo)
        opened = fifo_reader(fifo)
        job = Job()
        job.program(["sh", "-c", f": > {fifo}; true"])
        before = time.time()
        submitted = client.submit(job)
        out.append(opened() - before)
        client.wait_for_jobs([submitted])
        time.sleep(gap)
    return out


def main(argv: list[str]) -> int:
    with LocalCluster(server_dir=str(Path("hq-server").resolve())) as cluster:
        if argv[0] == "throughput":
            print(throughput(cluster, int(argv[1])))
        else:
            print(json.dumps(latency(cluster, int(argv[1]), float(argv[2]), float(argv[3]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
