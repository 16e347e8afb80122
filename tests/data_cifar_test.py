"""CIFAR-10's binary version: files the test writes in the published format, from the folder or the archive."""

import dataclasses
import hashlib

import numpy as np
import pytest

from deep_simple import data
from deep_simple.data import cifar
from tests import colour_data


def test_parse_inverts_encode_planes_to_hwc():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
  raw = cifar.encode(images, np.array([0, 9, 4]))
  # A record is the label, then the red, green and blue planes row by row.
  assert len(raw) == 3 * 3073 and raw[0] == 0 and raw[3073] == 9
  assert raw[1:1025] == images[0, :, :, 0].tobytes() and raw[2049:3073] == images[0, :, :, 2].tobytes()
  parsed, labels = cifar.parse(raw, "x.bin")
  np.testing.assert_array_equal(parsed, images)
  np.testing.assert_array_equal(labels, [0, 9, 4])


def test_load_reads_the_batch_folder_train_from_five_files_test_from_one(tmp_path):
  batches = colour_data.write_cifar_folder(tmp_path, per_batch=7)
  images, labels = data.load("cifar10", "train", mirror=tmp_path)
  assert images.shape == (35, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int32
  first, first_labels = cifar.parse(batches["data_batch_1.bin"], "")
  np.testing.assert_array_equal(images[:7], first)
  np.testing.assert_array_equal(labels[:7], first_labels)
  assert data.load("cifar10", "test", mirror=tmp_path)[0].shape == (7, 32, 32, 3)


def test_the_archive_is_verified_then_read(tmp_path):
  batches = colour_data.write_cifar_archive(tmp_path, per_batch=5, seed=1)
  # The published MD5 is that of the real archive: this one is refused, in one line naming it.
  with pytest.raises(ValueError, match=r"^\S*cifar-10-binary.tar.gz: MD5 mismatch: expected c32a1d4a") as e:
    data.load("cifar10", "train", mirror=tmp_path)
  assert "\n" not in str(e.value)
  md5 = hashlib.md5((tmp_path / cifar.ARCHIVE).read_bytes()).hexdigest()
  ours = dataclasses.replace(data.CIFAR10, published_md5=((cifar.ARCHIVE, md5),))
  images, labels = data.load(ours, "test", mirror=tmp_path)
  np.testing.assert_array_equal(images, cifar.parse(batches["test_batch.bin"], "")[0])


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-100], r"test_batch.bin: truncated or corrupt: 15265 bytes is not a whole number of 3073-byte"),
    (lambda raw: bytes([200]) + raw[1:], r"test_batch.bin: corrupt: record 0 has label 200, CIFAR-10's are 0-9$"),
])
def test_a_corrupt_or_truncated_batch_file_is_one_line_naming_it(tmp_path, damage, message):
  colour_data.write_cifar_folder(tmp_path, per_batch=5)
  path = tmp_path / cifar.FOLDER / "test_batch.bin"
  path.write_bytes(damage(path.read_bytes()))
  with pytest.raises(ValueError, match=message) as e:
    data.load("cifar10", "test", mirror=tmp_path)
  assert "\n" not in str(e.value)


def test_a_truncated_archive_is_one_line(tmp_path):
  colour_data.write_cifar_archive(tmp_path, per_batch=5)
  archive = tmp_path / cifar.ARCHIVE
  archive.write_bytes(archive.read_bytes()[:-2000])
  unverified = dataclasses.replace(data.CIFAR10, published_md5=())
  with pytest.raises(ValueError, match=r"cifar-10-binary.tar.gz: corrupt or truncated archive") as e:
    data.load(unverified, "test", mirror=tmp_path)
  assert "\n" not in str(e.value)


def test_without_a_folder_the_error_names_the_flag_and_the_variable(tmp_path, monkeypatch):
  monkeypatch.delenv("DEEP_SIMPLE_CIFAR10_DIR", raising=False)
  with pytest.raises(ValueError, match=r"^cifar10 cannot be downloaded here: set --config.mirror \(config.mirror\) "
                                       r"or \$DEEP_SIMPLE_CIFAR10_DIR to a local folder holding cifar-10-binary"):
    data.load("cifar10", "train")
  monkeypatch.setenv("DEEP_SIMPLE_CIFAR10_DIR", str(tmp_path))
  with pytest.raises(ValueError, match=r"holds neither cifar-10-binary.tar.gz nor cifar-10-batches-bin/ nor the "
                                       r"batch files \(data_batch_1.bin"):
    data.load("cifar10", "train")
