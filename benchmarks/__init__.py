"""Benchmarks: scripts that time this codebase against a peer measured in the same run."""

import os

# run_all pins a benchmark's process to its first n cores here, before JAX or PyTorch start any thread, so
# that every thread they create inherits the affinity.
CORES_ENV = "DEEP_SIMPLE_BENCH_CORES"
if os.environ.get(CORES_ENV):
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:int(os.environ[CORES_ENV])])
