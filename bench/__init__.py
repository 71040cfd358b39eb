"""queuectl's benchmark suite (dev only; issue 6): ``python -m bench [--quick] [--only NAME ...]
[--runs 3] [--output docs/benchmarks.md]``.

One module per workload (throughput, storeapi, enqueue, latency, scale, memory, peers, pg,
dashboard), shared helpers in ``common``, the report in ``report``. Speed is shown here,
never by timed assertions in the tests; ``tests/test_bench.py`` only runs the quick mode so
that the suite cannot rot.
"""
