"""Runs every benchmark and prints one table of ratios against the peers measured in the same run.

    python -m benchmarks.run_all [--quick | --size=cpu|gpu] [--repeats=N]     (`make bench`)

Each benchmark prints its own table first; the combined table at the end repeats every comparison row (this
case's time over its peer's, < 1: faster than the peer) under the machine it ran on and the date.
"""

import argparse
import sys

from benchmarks import committee_bench
from benchmarks import common
from benchmarks import distort_bench
from benchmarks import highway_bench
from benchmarks import train_bench

BENCHMARKS = {"distort": distort_bench.main, "train": train_bench.main, "committee": committee_bench.main,
              "highway": highway_bench.main}
COLUMNS = ["benchmark", "case", "net", "peer", "ratio"]


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


def combine(results: dict) -> list:
  """{benchmark: rows} -> one row per comparison: benchmark, case, net, peer, ratio."""
  return [{"benchmark": name, **{key: row.get(key) for key in COLUMNS[1:]}}
          for name, rows in results.items() for row in rows if "ratio" in row]


def main(argv=None) -> list:
  forwarded = benchmark_args(argv)
  info = common.machine()  # Before the runs: the date is when they started.
  results = {name: bench(forwarded) for name, bench in BENCHMARKS.items()}
  rows = combine(results)
  common.print_table(f"All benchmarks ({' '.join(forwarded)}): time / peer time, same run", rows, COLUMNS,
                     notes=common.format_machine(info).splitlines())
  return rows


if __name__ == "__main__":
  main(sys.argv[1:])
