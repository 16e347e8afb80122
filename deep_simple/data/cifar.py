"""CIFAR-10's binary version: parse (validated) and encode, and its reader.

Each of data_batch_1.bin ... data_batch_5.bin (training) and test_batch.bin holds records of 3,073 bytes: the
label (0-9), then the 32x32 image's red, green and blue planes, row by row. The archive cifar-10-binary.tar.gz
holds them in its cifar-10-batches-bin folder. A local folder may hold the archive (verified against its
published MD5, then read without unpacking), that folder, or the .bin files themselves.
"""

import hashlib
import pathlib
import tarfile
import zlib

import numpy as np

ARCHIVE = "cifar-10-binary.tar.gz"
FOLDER = "cifar-10-batches-bin"
SPLIT_FILES = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
SIDE, CHANNELS, CLASSES = 32, 3, 10
RECORD = 1 + SIDE * SIDE * CHANNELS


def parse(data: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
  """(images_Nx32x32x3 uint8, labels_N int32) of one batch file's bytes; `name` only labels errors."""
  if not data or len(data) % RECORD:
    raise ValueError(f"{name}: truncated or corrupt: {len(data)} bytes is not a whole number of {RECORD}-byte "
                     "CIFAR-10 records")
  records_NxR = np.frombuffer(data, np.uint8).reshape(-1, RECORD)
  labels_N = records_NxR[:, 0].astype(np.int32)
  bad = np.flatnonzero(labels_N >= CLASSES)
  if bad.size:
    raise ValueError(f"{name}: corrupt: record {bad[0]} has label {labels_N[bad[0]]}, CIFAR-10's are 0-9")
  images_NxCxHxW = records_NxR[:, 1:].reshape(-1, CHANNELS, SIDE, SIDE)
  return np.ascontiguousarray(images_NxCxHxW.transpose(0, 2, 3, 1)), labels_N


def encode(images_Nx32x32x3: np.ndarray, labels_N: np.ndarray) -> bytes:
  """The bytes of a batch file holding these images and labels; inverse of parse."""
  planes_NxD = np.asarray(images_Nx32x32x3, np.uint8).transpose(0, 3, 1, 2).reshape(len(labels_N), -1)
  return np.concatenate([np.asarray(labels_N, np.uint8)[:, None], planes_NxD], axis=1).tobytes()


def read(folder: pathlib.Path, dataset, image_size: int) -> dict:
  """The registry's reader: {"train", "test"} -> (images_Nx32x32x3 uint8, labels_N int32)."""
  del image_size  # never resized
  batches = _batches(pathlib.Path(folder), dict(dataset.published_md5))
  return {split: tuple(np.concatenate(parts) for parts in zip(*(parse(batches[name], name) for name in names)))
          for split, names in SPLIT_FILES.items()}


def _batches(folder: pathlib.Path, md5s: dict) -> dict:
  """name -> bytes of every batch file, from the archive in `folder` (verified first) or from the files."""
  names = [name for split_names in SPLIT_FILES.values() for name in split_names]
  archive = folder / ARCHIVE
  if archive.is_file():
    _check_md5(archive, md5s.get(ARCHIVE))
    return _members(archive, names)
  inner = folder / FOLDER
  where = inner if inner.is_dir() else folder
  missing = [name for name in names if not (where / name).is_file()]
  if missing:
    raise ValueError(f"{folder} holds neither {ARCHIVE} nor {FOLDER}/ nor the batch files ({', '.join(missing)} "
                     "missing)")
  return {name: (where / name).read_bytes() for name in names}


def _check_md5(path: pathlib.Path, expected: str | None) -> None:
  digest = hashlib.md5()
  with open(path, "rb") as f:
    while chunk := f.read(1 << 20):
      digest.update(chunk)
  if expected and digest.hexdigest() != expected:
    raise ValueError(f"{path}: MD5 mismatch: expected {expected} (published), got {digest.hexdigest()}: the archive "
                     "is corrupt or truncated")


def _members(archive: pathlib.Path, names: list) -> dict:
  """The batch files in the archive, read in one pass."""
  wanted = {f"{FOLDER}/{name}": name for name in names}
  found = {}
  try:
    with tarfile.open(archive, "r:gz") as tar:
      for member in tar:
        if member.name in wanted and member.isfile():
          found[wanted[member.name]] = tar.extractfile(member).read()
  except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
    raise ValueError(f"{archive}: corrupt or truncated archive ({type(e).__name__}: {e})") from None
  missing = [name for name in names if name not in found]
  if missing:
    raise ValueError(f"{archive}: holds no {FOLDER}/{missing[0]}")
  return found
