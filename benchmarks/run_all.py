"""Runs every benchmark and prints one table of ratios against the peers measured in the same run.

    python -m benchmarks.run_all [--quick | --size=cpu|gpu] [--repeats=N]     (`make bench`)

Each benchmark runs in a process of its own, first on every core of the machine, then (at the CPU size, for
the benchmarks whose peers run on CPU threads) pinned to one core: both sides of a comparison always run on the
same cores, so no row is tilted by thread counts. Each benchmark prints its own table; the combined table at
the end repeats every comparison row (this case's time over its peer's, < 1: faster than the peer) with the
cores it ran on, under the machine and the date.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import benchmarks
from benchmarks import common

BENCHMARKS = {"distort": "benchmarks.distort_bench", "train": "benchmarks.train_bench",
              "committee": "benchmarks.committee_bench", "highway": "benchmarks.highway_bench",
              "cnn": "benchmarks.cnn_bench"}
ONE_CORE = ("distort", "train", "highway", "cnn")  # Peers on CPU threads: also measured with both sides on one core.
COLUMNS = ["benchmark", "cores", "case", "net", "peer", "ratio"]


def benchmark_args(argv) -> list:
  """run_all's command line -> the one passed on to every benchmark."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  size = parser.add_mutually_exclusive_group()
  size.add_argument("--quick", action="store_const", const="quick", dest="size",
                    help="the smallest sizes, seconds each (the smoke test)")
  size.add_argument("--size", choices=common.SIZES)
  parser.set_defaults(size="cpu")  # Both flags set `size`: the default goes on the parser, not on either.
  parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (default: each benchmark's)")
  args = parser.parse_args(argv)
  return [f"--size={args.size}"] + ([f"--repeats={args.repeats}"] if args.repeats is not None else [])


def plan(forwarded: list) -> list:
  """[(benchmark, cores)] in order: every benchmark on all cores; then, at the CPU size, on one core."""
  all_cores = [(name, None) for name in BENCHMARKS]
  return all_cores + ([(name, 1) for name in ONE_CORE] if "--size=cpu" in forwarded else [])


PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"
_CHILD_PREALLOCATE = os.environ.get(PREALLOCATE)  # The children get the user's setting back.


def run_benchmark(name: str, forwarded: list, cores=None) -> list:
  """The rows of benchmark `name` run in a fresh process, on its first `cores` cores (None: all of them).

  The process pins itself before JAX or PyTorch start (benchmarks/__init__.py), so all their threads do too.
  """
  env = dict(os.environ)
  env.pop(benchmarks.CORES_ENV, None)
  env.pop(PREALLOCATE, None)
  if _CHILD_PREALLOCATE is not None:
    env[PREALLOCATE] = _CHILD_PREALLOCATE
  if cores is not None:
    env[benchmarks.CORES_ENV] = str(cores)
  with tempfile.TemporaryDirectory() as folder:
    rows_json = os.path.join(folder, "rows.json")
    subprocess.run([sys.executable, "-m", BENCHMARKS[name], *forwarded, f"--rows_json={rows_json}"],
                   check=True, env=env)
    with open(rows_json) as f:
      return json.load(f)


def combine(results: list) -> list:
  """[(benchmark, rows)] -> one row per comparison: benchmark, cores, case, net, peer, ratio."""
  return [{"benchmark": name, **{key: row.get(key) for key in COLUMNS[1:]}}
          for name, rows in results for row in rows if "ratio" in row]


def main(argv=None) -> list:
  forwarded = benchmark_args(argv)
  # This process only looks at the devices: by default JAX would hold 75 % of a GPU's memory from its children.
  os.environ[PREALLOCATE] = "false"
  info = common.machine()  # Before the runs: the date is when they started.
  results = [(name, run_benchmark(name, forwarded, cores)) for name, cores in plan(forwarded)]
  rows = combine(results)
  common.print_table(f"All benchmarks ({' '.join(forwarded)}): time / peer time, same run", rows, COLUMNS,
                     notes=["cores: the CPU cores both sides ran on (the distortion peers always use one "
                            "thread, like a data-loader worker)."] + common.format_machine(info).splitlines())
  return rows


if __name__ == "__main__":
  main(sys.argv[1:])
