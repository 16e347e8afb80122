"""Small CIFAR-10 and GTSRB folders in their exact published formats, written by the tests that read them.

Pixels are random; each class gets its own mean colour, so a net can learn the labels within a few steps.
"""

import csv
import io
import pathlib
import tarfile

import numpy as np

from deep_simple.data import cifar
from deep_simple.data import gtsrb


def _images(rng, labels_N, h, w, classes):
  """uint8 NxHxWx3: noise around a colour of each class."""
  colours_Kx3 = np.linspace(30, 225, classes * 3).reshape(3, classes).T[rng.permutation(classes)]
  noise = rng.integers(-30, 31, (len(labels_N), h, w, 3))
  return np.clip(colours_Kx3[labels_N][:, None, None, :] + noise, 0, 255).astype(np.uint8)


def cifar_batches(per_batch: int = 20, seed: int = 0) -> dict:
  """{file name: bytes} of the six batch files, `per_batch` records each."""
  rng = np.random.default_rng(seed)
  out = {}
  for names in cifar.SPLIT_FILES.values():
    for name in names:
      labels_N = rng.integers(0, cifar.CLASSES, per_batch)
      out[name] = cifar.encode(_images(rng, labels_N, 32, 32, cifar.CLASSES), labels_N)
  return out


def write_cifar_folder(folder: pathlib.Path, per_batch: int = 20, seed: int = 0) -> dict:
  """The batch files in folder/cifar-10-batches-bin/, as the archive unpacks; returns them."""
  batches = cifar_batches(per_batch, seed)
  (folder / cifar.FOLDER).mkdir(parents=True, exist_ok=True)
  for name, data in batches.items():
    (folder / cifar.FOLDER / name).write_bytes(data)
  return batches


def write_cifar_archive(folder: pathlib.Path, per_batch: int = 20, seed: int = 0) -> dict:
  """folder/cifar-10-binary.tar.gz holding the batch files under cifar-10-batches-bin/; returns them."""
  batches = cifar_batches(per_batch, seed)
  folder.mkdir(parents=True, exist_ok=True)
  with tarfile.open(folder / cifar.ARCHIVE, "w:gz") as tar:
    for name, data in batches.items():
      info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return batches


def _write_listed(folder: pathlib.Path, csv_path: pathlib.Path, names, labels_N, rng) -> None:
  """PPM images of random sizes (15-40 pixels) with a 5-pixel margin around the sign, and their CSV."""
  folder.mkdir(parents=True, exist_ok=True)
  rows = [gtsrb.COLUMNS]
  for name, label in zip(names, labels_N):
    h, w = rng.integers(15, 41, 2)
    image = _images(rng, np.asarray([label]), h, w, 43)[0]
    (folder / name).write_bytes(gtsrb.encode_ppm(image))
    rows.append((name, w, h, 5, 5, w - 5, h - 5, label))
  with open(csv_path, "w", newline="") as f:
    csv.writer(f, delimiter=";").writerows(rows)


def write_gtsrb(folder: pathlib.Path, classes: int = 3, per_class: int = 6, test: int = 8, seed: int = 0) -> None:
  """GTSRB/Final_Training/Images/000NN/ for `classes` classes, GTSRB/Final_Test/Images/ and GT-final_test.csv."""
  rng = np.random.default_rng(seed)
  for k in range(classes):
    class_dir = folder / "GTSRB" / gtsrb.TRAIN / f"{k:05d}"
    names = [f"{t:05d}_{i:05d}.ppm" for t in range(2) for i in range(per_class // 2)]
    _write_listed(class_dir, class_dir / f"GT-{k:05d}.csv", names, [k] * len(names), rng)
  _write_listed(folder / "GTSRB" / gtsrb.TEST, folder / gtsrb.TEST_CSV, [f"{i:05d}.ppm" for i in range(test)],
                rng.integers(0, classes, test), rng)
