"""Epoch time of the MCDNN column: the jitted `train.make_train_epoch` with each convolution against PyTorch eager.

    python -m benchmarks.cnn_bench [--size=quick|cpu|gpu] [--repeats=N]

The column of experiments/configs/mcdnn.py (1x29x29-20C4-MP2-40C5-MP3-150N-10N, 76,040 weights), plain SGD on
cross-entropy at batch sizes 1 (online) and 32. Model-only rows train on undistorted digits with each of the
library's convolutions (deep_simple/conv.py: im2col, XLA's, and "split", XLA's forward with im2col's
backward, what "auto" picks on CPU); the distorted row adds fresh distortions of every digit, torchvision v2
RandomAffine + ElasticTransform per image for the peer (as benchmarks/train_bench.py). PyTorch: the same
column from `nn.Conv2d`/`nn.MaxPool2d` in eager mode, a Python loop over batches, on the same cores.
At --size=gpu, also one epoch of 35 columns side by side (mcdnn35) beside one column. Ratio: JAX time over
PyTorch time per digit (< 1: JAX faster). Last, the MCDNN member's epoch (mcdnn35's recipe) as a fraction of the
machine's matrix-multiply rate, a `jnp.dot` measured in the same run: near 1 only if the step is compute-bound.
"""

import dataclasses
import sys

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import common
from benchmarks import committee_bench
from benchmarks import train_bench
from deep_simple import config
from deep_simple import train
from experiments.configs import mcdnn


@dataclasses.dataclass(frozen=True)
class Size:
  digits: int  # Per timed epoch, both sides...
  xla_digits: int  # ...except XLA's convolution, slow to train on CPU.
  torch_distorted_digits: int
  committee_digits: int = 0  # > 0: also time mcdnn35's 35 columns (GPU).


SIZES = {"quick": Size(64, 64, 64), "cpu": Size(2_048, 512, 512), "gpu": Size(60_000, 60_000, 6_000, 60_000)}
REPEATS = {"quick": 1, "cpu": 3, "gpu": 3}
BATCH_SIZES = (1, 32)
COLUMNS = ["case", "net", "JAX digits", "JAX s", "JAX s/60k", "PyTorch digits", "PyTorch s", "PyTorch s/60k",
           "peer", "ratio"]


def column_config(batch_size: int, impl: str, distorted: bool):
  cfg = mcdnn.get_config("column")
  cfg.model.conv_impl, cfg.batch_size, cfg.augment = impl, batch_size, distorted
  cfg.ema_decay, cfg.reported_weights = 0.0, "params"  # the step alone, as the peer's
  return cfg


def torch_column(torch, cfg):
  """The same column as models.cnn with ReLU units (`nn.Conv2d` weights OIHW, ours HWIO)."""
  nn, m = torch.nn, cfg.model
  layers, channels, size = [], 1, 29
  for maps, kernel, pool in zip(m.maps, m.kernels, m.pools):
    layers += [nn.Conv2d(channels, maps, kernel), nn.MaxPool2d(pool), nn.ReLU()]
    channels, size = maps, (size - kernel + 1) // pool
  layers.append(nn.Flatten())
  width = channels * size * size
  for hidden in m.hidden:
    layers += [nn.Linear(width, hidden), nn.ReLU()]
    width = hidden
  return nn.Sequential(*layers, nn.Linear(width, config.num_classes(cfg)))


def measure(size: Size, batch_size: int, impl: str, distorted: bool, torch_modules, repeats: int) -> dict:
  cfg = column_config(batch_size, impl, distorted)
  digits = size.xla_digits if impl == "xla" else size.digits
  runs, warmups, trained = {}, {}, {}
  runs["JAX"], trained["JAX"] = train_bench.jax_epoch(cfg, digits)
  if torch_modules is not None:
    runs["PyTorch"], warmups["PyTorch"], trained["PyTorch"] = train_bench.torch_epoch(
        torch_modules, cfg, size.torch_distorted_digits if distorted else size.digits, make_net=torch_column)
  seconds = common.timed(runs, repeats, warmups)
  row = {"case": f"{impl}, B={batch_size}, {'distorted' if distorted else 'model only'}",
         "net": common.net_name(cfg)}
  for side in runs:
    row.update({f"{side} digits": trained[side], f"{side} s": seconds[side]["best"],
                f"{side} s/60k": common.per_epoch(seconds[side]["best"], trained[side])})
  if torch_modules is None:
    return dict(row, peer="PyTorch not installed (pip install torch torchvision)", ratio=None)
  return dict(row, peer="PyTorch eager", ratio=row["JAX s/60k"] / row["PyTorch s/60k"])


def committee_rows(size: Size, repeats: int) -> list:
  """One epoch of mcdnn35's 35 columns in one call, and of one column, on the same digits (B=16, distorted)."""
  images, labels = common.train_digits(size.committee_digits)
  trainers = {}
  for preset in ("mcdnn35", "column"):
    cfg = mcdnn.get_config("mcdnn35")
    cfg.committee.size, cfg.committee.widths = (35, ()) if preset == "mcdnn35" else (1, ())
    trainers[preset] = committee_bench.Trainer(cfg, images, labels)
  seconds = common.timed({name: committee_bench.committee_epoch(t) for name, t in trainers.items()}, repeats)
  return [{"case": f"{'35 columns' if name == 'mcdnn35' else '1 column'}, B=16, distorted",
           "net": common.net_name(trainers[name].cfg), "JAX digits": trainers[name].steps * 16,
           "JAX s": seconds[name]["best"],
           "JAX s/60k": common.per_epoch(seconds[name]["best"], trainers[name].steps * 16),
           "peer": "(absolute time)"} for name in trainers]


MATMUL_SIDE = {"quick": 256, "cpu": 1_024, "gpu": 8_192}
PEAK_COLUMNS = ["case", "net", "JAX digits", "JAX s/60k", "MFLOP/digit", "GFLOP/s", "matmul GFLOP/s", "fraction"]


def matmul_flops_per_second(side: int, repeats: int) -> float:
  """The machine's float32 matrix-multiply rate: a jitted `jnp.dot` of two side x side matrices."""
  a = jnp.asarray(np.random.default_rng(0).standard_normal((side, side)), jnp.float32)
  dot = jax.jit(jnp.dot)
  seconds = common.timed({"dot": lambda: dot(a, a).block_until_ready()}, repeats)["dot"]["best"]
  return 2 * side**3 / seconds


def step_flops_per_digit(cfg) -> float:
  """Floating-point operations of one training step of `cfg`, per digit, as XLA counts them."""
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=1)
  batch = {"images": jnp.zeros((cfg.batch_size, *config.input_shape(cfg)), jnp.float32),
           "labels": jnp.zeros((cfg.batch_size,), jnp.int32)}
  cost = jax.jit(train.make_train_step(cfg)).lower(state, batch).compile().cost_analysis()
  cost = cost[0] if isinstance(cost, list) else cost  # a list of one dict in older JAX
  return cost["flops"] / cfg.batch_size


def peak_rows(size_name: str, size: Size, repeats: int) -> list:
  """The MCDNN member's training epoch (mcdnn35's recipe, one column, B=16) as a fraction of the matrix-multiply
  rate measured in the same run: its step's arithmetic over the epoch's time, model only and distorted."""
  peak = matmul_flops_per_second(MATMUL_SIDE[size_name], repeats)
  rows = []
  for distorted in (False, True):
    cfg = mcdnn.get_config("mcdnn35")
    cfg.committee.size, cfg.committee.widths, cfg.augment = 1, (), distorted
    run, digits = train_bench.jax_epoch(cfg, size.digits)
    seconds = common.timed({"epoch": run}, repeats)["epoch"]["best"]
    flops = step_flops_per_digit(cfg)
    rate = flops * digits / seconds
    rows.append({"case": f"mcdnn35 member, B={cfg.batch_size}, {'distorted' if distorted else 'model only'}",
                 "net": common.net_name(cfg), "JAX digits": digits, "JAX s/60k": common.per_epoch(seconds, digits),
                 "MFLOP/digit": flops / 1e6, "GFLOP/s": rate / 1e9, "matmul GFLOP/s": peak / 1e9,
                 "fraction": rate / peak,
                 # As the other rows: this case's time over its peer's, here the time at the matmul rate.
                 "peer": f"jnp.dot {MATMUL_SIDE[size_name]}x{MATMUL_SIDE[size_name]} rate", "ratio": peak / rate})
  return rows


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  size = SIZES[args.size]
  torch_modules = common.optional_torch()
  rows = [measure(size, b, impl, False, torch_modules, args.repeats)
          for b in BATCH_SIZES for impl in ("im2col", "xla", "split")]
  rows += [measure(size, b, "auto", True, torch_modules, args.repeats) for b in BATCH_SIZES]
  if size.committee_digits:
    rows += committee_rows(size, args.repeats)
  peak = peak_rows(args.size, size, args.repeats)
  threads = common.threads()
  common.print_table(f"MCDNN column training epoch, {args.size} size, {threads} core(s): JAX train_epoch vs "
                     "PyTorch eager", rows, COLUMNS, notes=[
      "s: best of the timed epochs (warm); s/60k: s x 60,000 / digits, linear extrapolation to a full epoch.",
      "ratio: JAX s/60k over PyTorch s/60k (< 1: JAX faster). Case: the convolution (auto = split on CPU, "
      "XLA's on GPU), the batch size, and whether every digit is distorted afresh.",
      f"Both sides run on the same {threads} core(s) (torch.set_num_threads({threads})).",
  ])
  common.print_table(f"MCDNN member's training epoch against the matrix-multiply rate, {args.size} size, {threads} "
                     "core(s)", peak, PEAK_COLUMNS, notes=[
      "MFLOP/digit: XLA's count of one training step's floating-point operations (forward and backward), per digit;"
      " GFLOP/s: that over the epoch's best time; fraction: GFLOP/s over a jitted float32 jnp.dot's, measured here.",
      "The evaluation of a member's epoch (validation and test digits) is not in these epochs.",
  ])
  return common.save_rows(args, rows + peak)


if __name__ == "__main__":
  main(sys.argv[1:])
