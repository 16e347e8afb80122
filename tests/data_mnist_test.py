"""Real MNIST through the data layer (mirror and cache from the environment, see conftest)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import data

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_raw_splits(mnist_splits):
  (train_x, train_y), (test_x, test_y) = mnist_splits["train"], mnist_splits["test"]
  assert train_x.shape == (60000, 28, 28) and train_x.dtype == np.uint8
  assert test_x.shape == (10000, 28, 28) and test_x.dtype == np.uint8
  assert train_y.shape == (60000,) and train_y.dtype == np.int32
  assert test_y.shape == (10000,) and test_y.dtype == np.int32
  assert np.bincount(train_y).tolist() == TRAIN_COUNTS
  assert np.bincount(test_y).tolist() == TEST_COUNTS
  assert train_y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
  assert test_y[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
  assert abs(train_x.mean() / 255 - 0.1307) < 1e-4


def test_files_in_cache_are_the_pinned_ones(mnist_dir):
  for spec in data.MNIST.files:
    assert data.cache.sha256_file(mnist_dir / spec.name) == spec.sha256


def test_paper_protocol_validates_on_the_undistorted_training_digits(mnist_splits):
  assert mnist_splits["validation"][0] is mnist_splits["train"][0]
  assert mnist_splits["validation"][1] is mnist_splits["train"][1]


def test_holdout_protocol_is_first_50k_then_last_10k(mnist_splits):
  holdout = data.load_splits("mnist", protocol="holdout")
  train_x, train_y = mnist_splits["train"]
  np.testing.assert_array_equal(holdout["train"][0], train_x[:50000])
  np.testing.assert_array_equal(holdout["train"][1], train_y[:50000])
  np.testing.assert_array_equal(holdout["validation"][0], train_x[50000:])
  np.testing.assert_array_equal(holdout["validation"][1], train_y[50000:])
  assert holdout["test"][1] is mnist_splits["test"][1]


def test_load_is_cached_and_read_only(mnist_splits):
  images, labels = data.load("mnist", "train")
  assert images is mnist_splits["train"][0] and labels is mnist_splits["train"][1]
  with pytest.raises(ValueError, match="read-only"):
    images[0, 0, 0] = 1
  with pytest.raises(ValueError, match="read-only"):
    mnist_splits["validation"][1][:5] = 0


@pytest.mark.parametrize("call, message", [
    (lambda: data.load("mnist", "validation"), "unknown split 'validation', expected one of train, test"),
    (lambda: data.load_splits("mnist", protocol="kfold"), "unknown protocol 'kfold', expected one of paper, holdout"),
    (lambda: data.load("cifar"), "unknown dataset 'cifar', expected one of mnist, fashion_mnist, cifar10, gtsrb"),
])
def test_bad_arguments(call, message):
  with pytest.raises(ValueError, match=f"^{message}$"):
    call()


def test_pad_to_29_and_ranges(mnist_splits):
  images = mnist_splits["test"][0][:64]
  padded = data.pad_to_29(images)
  assert padded.shape == (64, 29, 29) and padded.dtype == np.uint8
  np.testing.assert_array_equal(padded[:, :28, :28], images)
  assert not padded[:, 28, :].any() and not padded[:, :, 28].any()
  unit = data.to_unit(padded)
  assert unit.dtype == np.float32 and unit.min() == 0.0 and unit.max() == 1.0
  signed = data.to_signed(unit)
  assert signed.min() == -1.0 and signed.max() == 1.0
  assert signed[0, 28, 28] == -1.0  # padding is background in the paper's range too


def test_preprocessing_on_jax_arrays_under_jit(mnist_splits):
  images = mnist_splits["test"][0][:8]
  signed = jax.jit(lambda x: data.to_signed(data.to_unit(data.pad_to_29(x))))(jnp.asarray(images))
  assert isinstance(signed, jax.Array) and signed.shape == (8, 29, 29) and signed.dtype == jnp.float32
  np.testing.assert_allclose(signed, data.to_signed(data.to_unit(data.pad_to_29(images))), atol=1e-6)


def test_preprocessing_rejects_wrong_input():
  with pytest.raises(ValueError, match=r"pad_to_29 expects \.\.\.x28x28 images, got shape \(2, 29, 29\)"):
    data.pad_to_29(np.zeros((2, 29, 29), np.uint8))
  with pytest.raises(ValueError, match="to_unit expects uint8 pixels, got float32"):
    data.to_unit(np.zeros((2, 28, 28), np.float32))
