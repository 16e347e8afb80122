r"""Draws real MNIST digits next to several of their random distortions, as one PNG grid.

    python -m experiments.show_distortions --out=docs/distortions.png --num_digits=10 \
        --num_distortions=8 [--seed=0] [--distort.max_scale=0.2 ...]

Row i shows a training digit of class i mod 10 (its undistorted 29x29 input in the first column) and
then num_distortions independent draws of deep_simple.distort with the --distort config.
"""

import os
import sys

from absl import app
from absl import flags
import jax
import numpy as np
from ml_collections import config_flags

from deep_simple import data
from deep_simple import distort
from deep_simple import plots

OUT = flags.DEFINE_string("out", "docs/distortions.png", "PNG file to write (its folder is created).")
NUM_DIGITS = flags.DEFINE_integer("num_digits", 10, "Rows: the first training digits of classes 0, 1, ...")
NUM_DISTORTIONS = flags.DEFINE_integer("num_distortions", 8, "Distorted copies beside each digit.")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the distortions.")
DISTORT = config_flags.DEFINE_config_dict("distort", distort.default_config(), "Distortion settings.")


def pick_digits(labels_N, num_digits):
  """Indices of the first digit of class 0, 1, ..., 9, then the second of each class, and so on."""
  by_class = [np.flatnonzero(labels_N == c) for c in range(10)]
  return np.array([by_class[i % 10][i // 10] for i in range(num_digits)])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if NUM_DIGITS.value < 1 or NUM_DISTORTIONS.value < 1:
    sys.exit("error: --num_digits and --num_distortions must be at least 1")
  try:
    distort.check_config(DISTORT.value)
  except ValueError as e:
    sys.exit(f"error: --distort: {e}")
  images, labels = data.load("mnist", "train")
  index = pick_digits(labels, NUM_DIGITS.value)
  originals = data.pad_to_29(data.to_unit(images[index]))
  k = NUM_DISTORTIONS.value
  distorted = distort.distort(jax.random.key(SEED.value), np.repeat(originals, k, axis=0),
                              np.repeat(labels[index], k), DISTORT.value)
  rows = np.concatenate([originals[:, None], np.asarray(distorted).reshape(len(index), k, 29, 29)], axis=1)
  captions = ["original", *(f"draw {i + 1}" for i in range(k))] + [""] * (len(index) - 1) * (k + 1)
  os.makedirs(os.path.dirname(os.path.abspath(OUT.value)), exist_ok=True)
  partial = OUT.value + ".partial.png"  # Written beside the target, then renamed: never a half-written PNG.
  try:
    plots.digit_grid(rows.reshape(-1, 29, 29), partial, captions=captions, columns=k + 1)
    os.replace(partial, OUT.value)
  finally:
    if os.path.exists(partial):
      os.remove(partial)
  print(f"wrote {OUT.value}: {len(index)} digits x {k} distortions, seed {SEED.value}")


if __name__ == "__main__":
  app.run(main)
