"""Shared fixtures: real MNIST through the data layer.

Sources and cache come from the environment: DEEP_SIMPLE_MNIST_MIRROR (local mirror folder) and
DEEP_SIMPLE_DATA_DIR (cache root); see deep_simple.data.fetch.
"""

import pytest

from deep_simple import data


@pytest.fixture(scope="session")
def mnist_dir():
  """The cache folder holding the four verified, uncompressed MNIST files."""
  return data.fetch("mnist")


@pytest.fixture(scope="session")
def mnist_splits():
  """Paper protocol: {"train", "validation", "test"} -> (images_Nx28x28 uint8, labels_N int32), read-only."""
  return data.load_splits("mnist", protocol="paper")
