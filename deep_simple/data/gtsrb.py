"""GTSRB as published (Stallkamp et al. 2012): PPM images listed by semicolon-separated CSV files, and its reader.

    GTSRB/Final_Training/Images/00000/GT-00000.csv, 00000_00000.ppm, ...   # one folder per class, 00000-00042
    GTSRB/Final_Test/Images/00000.ppm, ...                                 # the test images
    GT-final_test.csv                                                      # the test labels (a separate download)

Each CSV row is `Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId`. Every image is cropped to its region
of interest and resized to a square (48x48 in Ciresan et al. 2012).
"""

import csv
import pathlib
import re

import numpy as np

COLUMNS = ("Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId")
TRAIN, TEST, TEST_CSV = "Final_Training/Images", "Final_Test/Images", "GT-final_test.csv"
HOLDS = f"GTSRB/{TRAIN}/000NN/ (PPM images, GT-000NN.csv), GTSRB/{TEST}/ and {TEST_CSV}"
_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n)*(\S+)")


def parse_ppm(data: bytes, name: str) -> np.ndarray:
  """image_HxWx3 uint8 of a binary PPM (P6, maxval 255); `name` only labels errors."""
  tokens, pos = [], 0
  while len(tokens) < 4:
    match = _TOKEN.match(data, pos)
    if match is None:
      raise ValueError(f"{name}: truncated: the PPM header ends after {len(tokens)} of its 4 fields")
    tokens.append(match.group(1))
    pos = match.end() + 1  # one whitespace byte ends the header
  if tokens[0] != b"P6" or not all(t.isdigit() for t in tokens[1:]):
    raise ValueError(f"{name}: corrupt: not a binary PPM header ({b' '.join(tokens)[:40]!r})")
  w, h, maxval = map(int, tokens[1:])
  if maxval != 255 or not w or not h:
    raise ValueError(f"{name}: corrupt: a {w}x{h} PPM of maxval {maxval}; expected 8-bit pixels")
  body = data[pos:pos + w * h * 3]
  if len(body) < w * h * 3:
    raise ValueError(f"{name}: truncated: {len(body)} bytes of pixels, a {w}x{h} PPM needs {w * h * 3}")
  return np.frombuffer(body, np.uint8).reshape(h, w, 3)


def encode_ppm(image_HxWx3: np.ndarray) -> bytes:
  """The bytes of a binary PPM; inverse of parse_ppm."""
  h, w, _ = image_HxWx3.shape
  return b"P6\n%d %d\n255\n" % (w, h) + np.asarray(image_HxWx3, np.uint8).tobytes()


def resize(image_HxWxC: np.ndarray, size: int) -> np.ndarray:
  """uint8 size x size x C: a triangle (bilinear) filter, widened to each output pixel's footprint when shrinking so
  every input pixel counts (antialiasing)."""
  rows_SxH, cols_SxW = (_resize_matrix(n, size) for n in image_HxWxC.shape[:2])
  out = np.einsum("sh,hwc,tw->stc", rows_SxH, image_HxWxC.astype(np.float64), cols_SxW)
  return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
  scale = n_out / n_in
  support = max(1.0, 1 / scale)  # input pixels either side of a centre that the filter reaches
  centres_O = (np.arange(n_out) + 0.5) / scale - 0.5
  weights_OxI = np.maximum(0.0, 1 - np.abs(np.arange(n_in)[None, :] - centres_O[:, None]) / support)
  return weights_OxI / weights_OxI.sum(axis=1, keepdims=True)


def read_listed(folder: pathlib.Path, csv_path: pathlib.Path, size: int) -> tuple[np.ndarray, np.ndarray]:
  """(images_Nxsizexsizex3 uint8, labels_N int32) of the images `csv_path` lists in `folder`."""
  try:
    with open(csv_path, newline="") as f:
      rows = list(csv.reader(f, delimiter=";"))
  except OSError as e:
    raise ValueError(f"{csv_path}: cannot read it ({e.strerror})") from None
  if not rows or tuple(rows[0][:len(COLUMNS)]) != COLUMNS:
    raise ValueError(f"{csv_path}: corrupt: expected the header {';'.join(COLUMNS)}")
  images, labels = [], []
  for line, row in enumerate(rows[1:], start=2):
    try:
      name, (w, h, x1, y1, x2, y2, label) = row[0], map(int, row[1:len(COLUMNS)])
    except ValueError:
      raise ValueError(f"{csv_path}: corrupt or truncated at line {line}: {';'.join(row)[:80]!r}") from None
    path = folder / name
    try:
      image = parse_ppm(path.read_bytes(), str(path))
    except OSError as e:
      raise ValueError(f"{path}: cannot read it ({e.strerror}), listed in {csv_path}") from None
    if image.shape[:2] != (h, w) or not (0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h):
      raise ValueError(f"{path}: corrupt: a {image.shape[1]}x{image.shape[0]} image; {csv_path} line {line} says "
                       f"{w}x{h} with region of interest ({x1}, {y1})-({x2}, {y2})")
    # Roi.X2, Roi.Y2 taken as exclusive: the published margins (10 % of the sign, at least 5 pixels) then come
    # out the same on both sides.
    images.append(resize(image[y1:y2, x1:x2], size))
    labels.append(label)
  if not images:
    raise ValueError(f"{csv_path}: lists no images")
  return np.stack(images), np.asarray(labels, np.int32)


def read(folder: pathlib.Path, dataset, image_size: int) -> dict:
  """The registry's reader: {"train", "test"} -> (images_NxSxSx3 uint8, labels_N int32), S = image_size (0: the
  dataset's own)."""
  size = image_size or dataset.shape[0]
  root = folder / "GTSRB" if (folder / "GTSRB").is_dir() else folder
  train, test = root / TRAIN, root / TEST
  test_csv = next((p for p in (test / TEST_CSV, folder / TEST_CSV, root / TEST_CSV) if p.is_file()), None)
  if not train.is_dir() or not test.is_dir() or test_csv is None:
    raise ValueError(f"{folder} does not hold GTSRB as published: expected {HOLDS}")
  classes = sorted(p for p in train.iterdir() if p.is_dir())
  if not classes:
    raise ValueError(f"{train} holds no class folders (00000, 00001, ...)")
  parts = [read_listed(c, c / f"GT-{c.name}.csv", size) for c in classes]
  return {"train": tuple(np.concatenate(arrays) for arrays in zip(*parts)),
          "test": read_listed(test, test_csv, size)}
