"""Fetches a dataset into the cache, prints where it is, who served it and its class counts, and, when asked,
draws sample images.

  python -m deep_simple.data.fetch [--dataset=mnist|fashion_mnist] [--data_dir=DIR] [--mirror=DIR]
      [--timeout=SECONDS] [--samples_png=FILE]
"""

import collections
import os
import pathlib
import sys

from absl import app
from absl import flags
import numpy as np

from deep_simple import data
from deep_simple import plots

FLAGS = flags.FLAGS
_GRID = (4, 10)  # rows x columns of sample images


def _define_flags():
  flags.DEFINE_enum("dataset", "mnist", [name for name, d in data.DATASETS.items() if d.files], "Dataset to fetch.")
  flags.DEFINE_string("data_dir", None, f"Cache root; default ${data.cache.DATA_DIR_ENV}, else ~/.cache/deep_simple.")
  flags.DEFINE_string("mirror", None, "Local folder with the files (.gz or raw), tried first; default the "
                      "dataset's mirror variable (DEEP_SIMPLE_MNIST_MIRROR, DEEP_SIMPLE_FASHION_MNIST_MIRROR).")
  flags.DEFINE_float("timeout", 30.0, "Seconds to wait on a silent server.", lower_bound=0.001)
  flags.DEFINE_string("samples_png", None, "Also write a grid of sample images to this file (nothing is written "
                      "into the cache but verified data: it may be read-only).")
  flags.register_validator("mirror", lambda v: v is None or os.path.isdir(v), "must be an existing folder")


def _parse_flags(argv):
  """absl's flag parsing, but a bad value is one line on stderr (exit status 1), not a usage text."""
  try:
    args = FLAGS(argv)
  except flags.Error as e:
    sys.exit(f"fetch: {e}")
  if len(args) > 1:
    sys.exit(f"fetch: unexpected arguments {' '.join(args[1:])}")
  return args


def _counts(labels_N, names) -> str:
  counts = np.bincount(labels_N, minlength=len(names))
  return " ".join(f"{name}={count}" for name, count in zip(names, counts))


def _write_samples(path: pathlib.Path, images_Nx28x28, labels_N, names) -> None:
  count = _GRID[0] * _GRID[1]
  path.parent.mkdir(parents=True, exist_ok=True)
  plots.digit_grid(images_Nx28x28[:count], str(path), captions=[names[label] for label in labels_N[:count]],
                   columns=_GRID[1])


def main(argv):
  del argv
  dataset = data.DATASETS[FLAGS.dataset]
  try:
    result = data.ensure(dataset, FLAGS.data_dir, FLAGS.mirror, FLAGS.timeout)
    splits = {split: data.load(dataset, split, FLAGS.data_dir, FLAGS.mirror) for split in data.SPLIT_FILES}
    if FLAGS.samples_png:
      _write_samples(pathlib.Path(FLAGS.samples_png), *splits["train"], dataset.label_names)
  except (data.FetchError, ValueError, OSError) as e:
    sys.exit(f"fetch: {e}")
  print(f"{dataset.name}: {result.folder}")
  by_source = collections.defaultdict(list)
  for name, source in result.served_by.items():
    by_source[source].append(name)
  for source, names in by_source.items():
    print(f"  from {source}: {', '.join(names)}")
  for split, (_, labels_N) in splits.items():
    print(f"  {split}: {len(labels_N)} images, per class {_counts(labels_N, dataset.label_names)}")
  if FLAGS.samples_png:
    print(f"  samples: {FLAGS.samples_png}")


if __name__ == "__main__":
  _define_flags()
  app.run(main, flags_parser=_parse_flags)
