"""What the benchmark scripts share: size flags, timing, MNIST digits, the machine's description, tables.

Row convention: every benchmark's `main()` returns a list of dicts; a row that compares with a peer measured
in the same run carries "case", "peer" and "ratio" (this case's time divided by the peer's time, so < 1 means
faster than the peer). `benchmarks.run_all` gathers those three keys into its combined table.
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import statistics
import time

import jax
import numpy as np

from deep_simple import config
from deep_simple import data
from deep_simple import models
from experiments.configs import paper

SIZES = ("quick", "cpu", "gpu")
TRAIN_DIGITS = 60_000  # One epoch of the paper: all of MNIST's training digits.


def parse_args(argv, description: str, default_repeats: dict) -> argparse.Namespace:
  """`--size` (quick: smoke test, cpu: a 2-core machine, gpu: the paper's sizes), `--repeats`, `--rows_json`."""
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--size", choices=SIZES, default="cpu",
                      help="quick: seconds, for tests; cpu: small nets and digits; gpu: net 4 on 60,000 digits")
  parser.add_argument("--repeats", type=int, default=None,
                      help=f"timed runs after the warm-up; default {default_repeats}")
  parser.add_argument("--rows_json", default=None, help="also write the rows to this JSON file (run_all)")
  args = parser.parse_args(argv)
  if args.repeats is None:
    args.repeats = default_repeats[args.size]
  if args.repeats < 1:
    parser.error(f"--repeats must be at least 1, got {args.repeats}")
  return args


def timed(fns: dict, repeats: int, warmups=None) -> dict:
  """{name: {"best", "median"}}: wall-clock seconds of `repeats` calls of each function.

  Every function first runs its warm-up once (`warmups[name]`, default the function itself); then the timed
  calls take turns (a, b, a, b, ...), so the slow spells of a shared machine fall on all of them alike.
  Each function must return only once its work is done (block on JAX results, synchronise CUDA).
  """
  warmups = warmups or {}
  for name, fn in fns.items():
    warmups.get(name, fn)()
  seconds = {name: [] for name in fns}
  for _ in range(repeats):
    for name, fn in fns.items():
      start = time.perf_counter()
      fn()
      seconds[name].append(time.perf_counter() - start)
  return {name: {"best": min(s), "median": statistics.median(s)} for name, s in seconds.items()}


def train_digits(n: int):
  """The first n MNIST training digits padded to 29x29 (uint8) and their labels (int32)."""
  images, labels = data.load("mnist", "train")
  if n > len(labels):
    raise ValueError(f"benchmarks: asked for {n} training digits, MNIST has {len(labels)}")
  return data.pad_to_29(images[:n]), np.asarray(labels[:n], np.int32)


def net_config(preset: str, hidden: tuple, batch_size: int):
  """An experiments/configs/paper.py preset at `batch_size`; non-empty `hidden` replaces its layers."""
  cfg = paper.get_config(preset)
  if hidden:
    cfg.model.hidden = hidden
  cfg.batch_size = batch_size
  return cfg


def net_name(cfg) -> str:
  """The architecture as the results tables write it, e.g. Table 1's "1000-500-10"."""
  return models.describe(cfg.model, config.num_classes(cfg))


def per_epoch(seconds: float, digits: int) -> float:
  """Linear extrapolation to a 60,000-digit epoch: every digit costs the same within an epoch."""
  return seconds * TRAIN_DIGITS / digits


def threads() -> int:
  """The CPU cores this process may run on: JAX's threads, and the PyTorch peers' (`optional_torch`)."""
  return len(os.sched_getaffinity(0))


def optional_torch():
  """(torch, torchvision.transforms.v2), or None where they are not installed; torch uses `threads()` threads,
  so a peer runs on as many cores as JAX does."""
  try:
    import torch  # pylint: disable=import-outside-toplevel
    from torchvision.transforms import v2  # pylint: disable=import-outside-toplevel
  except ImportError:
    return None
  torch.set_num_threads(threads())
  return torch, v2


def save_rows(args: argparse.Namespace, rows: list) -> list:
  """Marks `rows` with the cores they ran on and writes them to --rows_json when given (run_all reads them
  back); returns them."""
  rows = [dict(row, cores=threads()) for row in rows]
  if args.rows_json:
    with open(args.rows_json, "w") as f:
      json.dump(rows, f)
  return rows


def _version(package: str) -> str:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return "not installed"


def _cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or platform.machine()


def machine() -> dict:
  devices = jax.devices()
  return {
      "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
      "cpu": _cpu_model(),
      "cores": os.cpu_count(),
      "cores used": threads(),
      "jax devices": f"{len(devices)} x {devices[0].device_kind} ({devices[0].platform})",
      "python": platform.python_version(),
      "jax": _version("jax"),
      "jaxlib": _version("jaxlib"),
      "torch": _version("torch"),
      "torchvision": _version("torchvision"),
  }


def format_machine(info: dict) -> str:
  return "\n".join(f"{key}: {value}" for key, value in info.items())


def _cell(value) -> str:
  if value is None:
    return "-"
  if isinstance(value, float):
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
  return str(value)


def format_table(rows: list, columns: list) -> str:
  """A markdown table of `columns` (keys of the row dicts); floats to 3 significant digits, None as '-'."""
  cells = [[_cell(row.get(c)) for c in columns] for row in rows]
  widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
  line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"
  return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def print_table(title: str, rows: list, columns: list, notes=()) -> None:
  print(f"\n## {title}\n")
  print(format_table(rows, columns))
  for note in notes:
    print(f"- {note}")
  print(flush=True)
