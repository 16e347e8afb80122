"""The GPU plan's timing questions, each answered by one row printed the moment it is measured.

    python -m benchmarks.gpu_bench [--size=quick|gpu] [--repeats=N]

Rows, in order of importance (distortion included wherever a net trains, as in a real run):
1. one MCDNN column against 35 columns (mcdnn35's) side by side, B = 16: what the committee costs over a column;
2. a net-4 epoch at B = 32, and online (B = 1);
3. distorting 60,000 digits in one jitted call;
4. where PyTorch is installed, the peer that fits a short budget: net 4 at B = 32 without distortion, PyTorch
   eager on the same device (cuda if it sees one).
A row is printed as soon as it is measured, so a run cut at any point keeps what it finished: `make gpu` gives
this benchmark a small share of its budget. Every figure is a best warm time, extrapolated linearly to 60,000
digits where fewer were timed.
"""

import dataclasses
import sys

from benchmarks import committee_bench
from benchmarks import common
from benchmarks import distort_bench
from benchmarks import train_bench
from deep_simple import data
from deep_simple import distort
from experiments.configs import mcdnn


@dataclasses.dataclass(frozen=True)
class Size:
  distort_digits: int
  b32_digits: int
  online_digits: int
  column_digits: int  # Per timed epoch of one column and of 35 columns.
  net: str  # experiments/configs/paper.py preset...
  hidden: tuple = ()  # ...with these layers in its place, if any (quick: the smoke test on a CPU).
  column_maps: tuple = ()
  columns: int = 35  # Side by side, against one.


_SMOKE = Size(256, 256, 64, 64, "net1", (32,), (2, 4), columns=4)  # seconds on a CPU: the plan's dry form
SIZES = {"quick": _SMOKE, "cpu": _SMOKE, "gpu": Size(60_000, 60_000, 20_000, 6_000, "net4")}
REPEATS = {"quick": 1, "cpu": 1, "gpu": 2}
COLUMNS = ["case", "net", "digits", "s", "s/60k", "peer", "peer s/60k", "ratio"]


def _row(case: str, net: str, digits: int, seconds: float, peer: str = "(absolute time)", peer_per_60k=None):
  per_60k = common.per_epoch(seconds, digits)
  return {"case": case, "net": net, "digits": digits, "s": seconds, "s/60k": per_60k, "peer": peer,
          "peer s/60k": peer_per_60k, "ratio": peer_per_60k and per_60k / peer_per_60k}


def _print(row: dict) -> dict:
  print(common.format_table([row], COLUMNS).splitlines()[-1], flush=True)  # the row alone, as measured
  return row


def distortion_row(size: Size, repeats: int) -> dict:
  images, labels = common.train_digits(size.distort_digits)
  run = distort_bench.jax_run(data.to_unit(images), labels, distort.default_config())
  seconds = common.timed({"jax": run}, repeats)["jax"]["best"]
  return _row("distort (jit, one call)", "-", size.distort_digits, seconds)


def net_rows(size: Size, repeats: int):
  for batch_size, digits in ((32, size.b32_digits), (1, size.online_digits)):
    cfg = common.net_config(size.net, size.hidden, batch_size)
    run, trained = train_bench.jax_epoch(cfg, digits)
    seconds = common.timed({"jax": run}, repeats)["jax"]["best"]
    yield _row(f"net epoch, B={batch_size}, distorted", common.net_name(cfg), trained, seconds)


def torch_rows(size: Size, repeats: int):
  """The PyTorch peer, last: a second framework on the same GPU is the likeliest thing to fail."""
  torch_modules = common.optional_torch()
  if torch_modules is not None:
    cfg = common.net_config(size.net, size.hidden, 32)
    cfg.augment = False
    runs, warmups, trained = {}, {}, {}
    runs["JAX"], trained["JAX"] = train_bench.jax_epoch(cfg, size.b32_digits)
    runs["PyTorch"], warmups["PyTorch"], trained["PyTorch"] = train_bench.torch_epoch(
        torch_modules, cfg, size.b32_digits)
    seconds = common.timed(runs, repeats, warmups)
    yield _row("net epoch, B=32, no distortion", common.net_name(cfg), trained["JAX"], seconds["JAX"]["best"],
               "PyTorch eager", common.per_epoch(seconds["PyTorch"]["best"], trained["PyTorch"]))


def column_rows(size: Size, repeats: int):
  images, labels = common.train_digits(size.column_digits)
  for members in (1, size.columns):
    cfg = mcdnn.get_config("mcdnn35")
    cfg.committee.size, cfg.committee.widths = members, ()
    if size.column_maps:
      cfg.model.maps, cfg.model.hidden = size.column_maps, (8,)
    trainer = committee_bench.Trainer(cfg, images, labels)
    seconds = common.timed({"jax": committee_bench.committee_epoch(trainer)}, repeats)["jax"]["best"]
    yield _row(f"{members} column{'s' * (members > 1)} side by side, B=16, distorted", common.net_name(cfg),
               trainer.steps * 16, seconds)


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  size = SIZES[args.size]
  info = common.machine()
  print(f"## GPU plan benchmarks ({args.size} size), {info['jax devices']}\n", flush=True)
  print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS), flush=True)
  rows = [_print(row) for row in column_rows(size, args.repeats)]
  rows += [_print(row) for row in net_rows(size, args.repeats)]
  rows.append(_print(distortion_row(size, args.repeats)))
  rows += [_print(row) for row in torch_rows(size, args.repeats)]
  print("\ns: best of the warm timed calls; s/60k: s x 60,000 / digits. ratio: s/60k over the peer's "
        "(< 1: faster).\n\n" + common.format_machine(info), flush=True)
  return common.save_rows(args, rows)


if __name__ == "__main__":
  main(sys.argv[1:])
