"""Source: a tensorflow-datasets build of the same data, turned back into the original files.

TFDS stores the examples shuffled: sorted by the md5 hash of each example's key (its index in
the original file) salted with the split name. Undoing that order and re-encoding the arrays as
IDX reproduces the original bytes, so the pinned SHA-256 check applies unchanged; if a TFDS
version ever stored them differently, the check fails and this source reports a hash mismatch.
"""

from collections.abc import Iterator, Sequence

import numpy as np

from deep_simple.data import idx
from deep_simple.data.registry import SPLIT_FILES
from deep_simple.data.sources import SourceError


class TfdsSource:
  """`tfds.load(<builder>)`; uses (and may download into) TFDS's own data folder."""

  def __init__(self, builder: str):
    self.builder = builder
    self.name = f"tensorflow-datasets {builder}"

  def read(self, names: Sequence[str], timeout: float) -> Iterator[tuple[str, bytes]]:
    del timeout  # TFDS manages its own downloads
    try:  # optional and slow to import: only when the earlier sources failed
      import tensorflow_datasets as tfds
      from tensorflow_datasets.core import hashing
    except ImportError as e:
      raise SourceError(f"tensorflow_datasets is not importable ({e})") from None
    for split, (images_name, labels_name) in SPLIT_FILES.items():
      wanted = [n for n in (images_name, labels_name) if n in names]
      if not wanted:
        continue
      try:
        arrays = tfds.as_numpy(tfds.load(self.builder, split=split, batch_size=-1, shuffle_files=False))
      except Exception as e:  # TFDS raises many kinds; all mean this source cannot serve
        raise SourceError(f"tfds.load({self.builder!r}, split={split!r}): {type(e).__name__}: {e}") from None
      images_Nx28x28 = arrays["image"][..., 0]
      labels_N = arrays["label"].astype(np.uint8)
      hasher = hashing.Hasher(split)
      stored_keys = sorted(range(len(labels_N)), key=hasher.hash_key)  # original index, per stored row
      position = np.empty(len(stored_keys), np.int64)  # stored row, per original index
      position[stored_keys] = np.arange(len(stored_keys))
      encoded = {images_name: idx.encode(images_Nx28x28[position]),
                 labels_name: idx.encode(labels_N[position])}
      for name in wanted:
        yield name, encoded[name]
