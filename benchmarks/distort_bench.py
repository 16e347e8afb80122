"""Digits distorted per second: deep_simple.distort against the per-image paths public code uses.

    python -m benchmarks.distort_bench [--size=quick|cpu|gpu] [--repeats=N]

JAX: one jitted call distorts a whole batch of real 29x29 MNIST digits (warm; best of the repeats).
Peers, in the same run on the same digits, one image at a time as a data-loader worker does it:
- scipy: numpy draws the paper's parameters, scipy.ndimage smooths the two noise fields (gaussian_filter)
  and resamples once (map_coordinates, bilinear): tests/distort_reference.py, which our output matches.
- torchvision: v2 RandomAffine + ElasticTransform on one 1x29x29 tensor (torch on one thread).
"""

import functools
import sys

import jax
import numpy as np

from benchmarks import common
from benchmarks import train_bench
from deep_simple import data
from deep_simple import distort
from tests import distort_reference

# size: (JAX batch sizes, digits the per-image peers distort per timed run)
SIZES = {"quick": ((64,), 16), "cpu": ((10_000, 60_000), 500), "gpu": ((10_000, 60_000), 500)}
REPEATS = {"quick": 1, "cpu": 5, "gpu": 20}
COLUMNS = ["case", "digits", "s", "digits/s", "peer", "peer digits/s", "ratio", "speed-up"]


def jax_run(images, labels, cfg):
  """A warm, blocking call distorting the whole batch with a fresh key each time."""
  fn = jax.jit(functools.partial(distort.distort, cfg=cfg))
  images, labels = jax.device_put(images), jax.device_put(labels)
  keys = iter(jax.random.split(jax.random.key(0), 1000))
  return lambda: fn(next(keys), images, labels).block_until_ready()


def scipy_run(images, labels, cfg):
  """Per image: numpy draws the parameters and noise, scipy distorts (the reference implementation)."""
  rng = np.random.default_rng(0)

  def run():
    for image, label in zip(images, labels):
      narrow = label in cfg.narrow_labels
      rotation = cfg.narrow_max_deg if narrow else cfg.max_rotation_deg
      shear = cfg.narrow_max_deg if narrow else cfg.max_shear_deg
      distort_reference.distort_one(
          image, rng.uniform(-rotation, rotation), rng.uniform(-shear, shear),
          *rng.uniform(1 - cfg.max_scale, 1 + cfg.max_scale, 2), rng.uniform(*cfg.sigma_range),
          rng.uniform(*cfg.alpha_range), rng.uniform(-1, 1, (2, *image.shape)))

  return run


def torchvision_run(images, cfg, torch_modules):
  """Per image: torchvision v2 transforms on a 1 x H x W float tensor."""
  torch, v2 = torch_modules
  transform = train_bench.torchvision_distortion(v2, cfg)
  tensors = [torch.from_numpy(image)[None] for image in images]
  return lambda: [transform(t) for t in tensors]


def rate(seconds: dict, digits: int) -> float:
  return digits / seconds["best"]


def comparison(case, digits, seconds, peer, peer_rate):
  """One row: this case against one peer; ratio is time per digit over the peer's (None without a peer)."""
  digits_per_s = rate(seconds, digits)
  ratio = peer_rate / digits_per_s if peer_rate else None
  return {"case": case, "digits": digits, "s": seconds["best"], "digits/s": digits_per_s, "peer": peer,
          "peer digits/s": peer_rate, "ratio": ratio, "speed-up": ratio and 1 / ratio}


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  batches, peer_digits = SIZES[args.size]
  cfg = distort.default_config()
  images_u8, labels = common.train_digits(max(batches))
  images = data.to_unit(images_u8)
  info = common.machine()

  runs = {"scipy": scipy_run(images[:peer_digits], labels[:peer_digits], cfg)}
  torch_modules = common.optional_torch()
  if torch_modules is not None:
    torch_modules[0].set_num_threads(1)  # One data-loader worker distorts one image at a time.
    runs["torchvision"] = torchvision_run(images[:peer_digits], cfg, torch_modules)
  runs.update({batch: jax_run(images[:batch], labels[:batch], cfg) for batch in batches})
  seconds = common.timed(runs, args.repeats)  # Interleaved: a busy spell hits every case alike.

  scipy_rate = rate(seconds["scipy"], peer_digits)
  if torch_modules is None:
    torch_rate, torch_peer = None, "torchvision not installed (pip install torch torchvision)"
  else:
    torch_rate, torch_peer = rate(seconds["torchvision"], peer_digits), "torchvision v2 per image"
  rows = []
  for batch in batches:
    case = f"JAX distort, batch {batch:,}"
    rows.append(comparison(case, batch, seconds[batch], "scipy per image", scipy_rate))
    if batch == batches[0]:
      rows.append(comparison(case, batch, seconds[batch], torch_peer, torch_rate))
  if torch_rate is not None:
    rows.append(comparison("torchvision v2 per image", peer_digits, seconds["torchvision"], "scipy per image",
                           scipy_rate))
  title = f"Distortion, {args.size} size: digits/s, JAX batch vs per-image peers"
  common.print_table(title, rows, COLUMNS, notes=[
      f"Peers distort {peer_digits} digits one by one on one CPU thread, like a data-loader worker; "
      f"JAX runs on {info['jax devices']}, {info['cores used']} CPU core(s).",
      f"s: best of {args.repeats} warm runs, the cases taking turns.",
      "ratio: time per digit over the peer's (< 1: faster); speed-up: 1 / ratio.",
      *common.format_machine(info).splitlines(),
  ])
  return common.save_rows(args, rows)


if __name__ == "__main__":
  main(sys.argv[1:])
