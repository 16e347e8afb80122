"""Fashion-MNIST from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) or
$DEEP_SIMPLE_FASHION_MNIST_MIRROR, verified against the pinned hashes."""

import numpy as np

from deep_simple import data


def test_fashion_mnist_loads_verified(tmp_path):
  folder = data.fetch("fashion_mnist", tmp_path)
  for spec in data.FASHION_MNIST.files:
    assert data.cache.sha256_file(folder / spec.name) == spec.sha256
  splits = data.load_splits("fashion_mnist", "holdout", data_dir=tmp_path)
  assert [len(splits[s][1]) for s in ("train", "validation", "test")] == [50000, 10000, 10000]
  train_x, train_y = data.load("fashion_mnist", "train", tmp_path)
  test_x, test_y = data.load("fashion_mnist", "test", tmp_path)
  assert train_x.shape == (60000, 28, 28) and test_x.shape == (10000, 28, 28)
  assert np.bincount(train_y).tolist() == [6000] * 10
  assert np.bincount(test_y).tolist() == [1000] * 10
  assert train_y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
  assert [data.FASHION_MNIST.label_names[i] for i in (0, 9)] == ["T-shirt/top", "Ankle boot"]
