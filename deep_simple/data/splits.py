"""Arrays of the raw splits and the two train/validation protocols."""

import functools
import os
import pathlib

import numpy as np

from deep_simple.data import cache
from deep_simple.data import registry

PROTOCOLS = ("paper", "holdout")
HOLDOUT_SIZE = 10_000  # "holdout": the last 10k training digits validate, the first 50k train
SUBSET_SEED = 2010


def load(dataset: "str | registry.Dataset" = "mnist", split: str = "train", data_dir=None,
         mirror=None, image_size: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """(images uint8, labels_N int32) of the raw "train" or "test" split, fetched if needed: images NxHxW for
  one-channel datasets (MNIST: Nx28x28), else NxHxWxC, in registry.image_shape(dataset, image_size).

  Parsed once per process; the arrays are shared, so they are read-only (copy to modify).
  """
  if split not in registry.SPLIT_FILES:
    raise ValueError(f"unknown split {split!r}, expected one of {', '.join(registry.SPLIT_FILES)}")
  dataset = registry.get(dataset)
  if not mirror and not dataset.files:  # read in place: the folder is part of what is cached
    mirror = os.environ.get(dataset.mirror_env)
  return _load(dataset, cache.data_root(data_dir), str(mirror) if mirror else None, image_size)[split]


def load_splits(dataset: "str | registry.Dataset" = "mnist", protocol: str = "paper", data_dir=None,
                mirror=None, train_limit: int = 0, eval_limit: int = 0,
                validation_limit: int = 0, image_size: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{"train", "validation", "test"} -> (images uint8, labels_N int32), read-only; images as `load`'s.

  "paper": train on all 60k training digits (distorted by the trainer); validate on the same
  digits undistorted. "holdout": train on the first 50k, validate on the last 10k.
  train_limit / eval_limit > 0 keep that many digits of the training / validation and test splits, a fixed
  random subset of each (`subset`); under "paper" the validation digits are then drawn from the training
  digits actually used. validation_limit > 0 keeps that many validation digits instead of eval_limit, e.g.
  10,000 of the paper protocol's 60,000 while all test digits are kept.
  """
  if protocol not in PROTOCOLS:
    raise ValueError(f"unknown protocol {protocol!r}, expected one of {', '.join(PROTOCOLS)}")
  images, labels = load(dataset, "train", data_dir, mirror, image_size)
  if protocol == "paper":
    train = validation = subset((images, labels), train_limit)
  else:
    train = subset((images[:-HOLDOUT_SIZE], labels[:-HOLDOUT_SIZE]), train_limit)
    validation = images[-HOLDOUT_SIZE:], labels[-HOLDOUT_SIZE:]
  return {"train": train, "validation": subset(validation, validation_limit or eval_limit),
          "test": subset(load(dataset, "test", data_dir, mirror, image_size), eval_limit)}


def subset(split: tuple[np.ndarray, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
  """n digits of `split` drawn at random by a fixed seed, in their original order (n = 0: all of them).

  Random, not the first n: MNIST's first test digits are harder than the rest (a net measured at 2.30 % on
  the first 2,000 test digits erred on 1.71 % of all 10,000). Fixed, so every run with the same n sees the
  same digits.
  """
  images, labels = split
  if not n or n >= len(labels):
    return images, labels
  index = np.sort(np.random.default_rng(SUBSET_SEED).choice(len(labels), n, replace=False))
  return images[index], labels[index]


@functools.lru_cache(maxsize=4)
def _load(dataset: registry.Dataset, root: pathlib.Path, mirror: str | None,
          image_size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Both splits at once: one fetch (which hashes every file) or one read of the local folder per dataset and
  process."""
  shape = registry.image_shape(dataset, image_size)
  folder = cache.fetch(dataset, root, mirror) if dataset.files else _local_folder(dataset, mirror)
  return {split: _checked(images, labels, dataset, shape, folder)
          for split, (images, labels) in dataset.reader(folder, dataset, image_size).items()}


def _local_folder(dataset: registry.Dataset, mirror: str | None) -> pathlib.Path:
  """The folder a dataset without fetched files is read from: `mirror` (config.mirror, else its variable)."""
  folder = mirror
  if not folder:
    raise ValueError(f"{dataset.name} cannot be downloaded here: set --config.mirror (config.mirror) or "
                     f"${dataset.mirror_env} to a local folder holding {dataset.holds} (see README.md)")
  if not pathlib.Path(folder).is_dir():
    raise ValueError(f"{dataset.name}: {folder} (config.mirror or ${dataset.mirror_env}) is not a folder")
  return pathlib.Path(folder)


def _checked(images: np.ndarray, labels: np.ndarray, dataset: registry.Dataset, shape: tuple, folder):
  """A reader's split, read-only, once its shape, dtype and labels are those of `dataset`."""
  h, w, c = shape
  expected = (h, w) if c == 1 else (h, w, c)
  if images.dtype != np.uint8 or images.shape[1:] != expected or labels.shape != images.shape[:1]:
    raise ValueError(f"{dataset.name} in {folder}: wrong dims: expected uint8 Nx{'x'.join(map(str, expected))} "
                     f"images and N labels, got {images.dtype} {images.shape} and {labels.shape}")
  if labels.size and not 0 <= labels.min() <= labels.max() < len(dataset.label_names):
    raise ValueError(f"{dataset.name} in {folder}: labels in [{labels.min()}, {labels.max()}], expected "
                     f"[0, {len(dataset.label_names)})")
  labels = labels.astype(np.int32)
  images.flags.writeable = False
  labels.flags.writeable = False
  return images, labels
