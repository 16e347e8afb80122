"""The IDX reader on hand-made files, good and bad, gzip and raw."""

import gzip
import struct

import numpy as np
import pytest

from deep_simple.data import idx

COMPRESSIONS = {"raw": lambda b: b, "gzip": gzip.compress}


def _write(tmp_path, name, body, compression):
  path = tmp_path / name
  path.write_bytes(COMPRESSIONS[compression](body))
  return path


def _images():
  return np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("array", [
    _images(),
    np.arange(7, dtype=np.uint8),
    np.arange(-6, 6, dtype=np.int16).reshape(3, 4),
    np.linspace(-1, 1, 10, dtype=np.float32).reshape(2, 5),
], ids=["uint8_3d", "uint8_1d", "int16", "float32"])
def test_round_trip(tmp_path, compression, array):
  path = _write(tmp_path, "ok-idx", idx.encode(array), compression)
  read = idx.read(path)
  assert read.dtype == array.dtype and read.shape == array.shape
  np.testing.assert_array_equal(read, array)


def test_encode_layout_is_the_mnist_header():
  body = idx.encode(_images())
  assert body[:16] == struct.pack(">4B3I", 0, 0, 0x08, 3, 3, 28, 28)
  assert len(body) == 16 + 3 * 28 * 28


def _bad_files():
  good = idx.encode(_images())
  return {
      "wrong magic": (b"\x12\x34" + good[2:], "wrong magic number 0x12340803, an IDX file starts with 0x0000"),
      "unknown type code": (good[:2] + b"\x07" + good[3:], "unknown IDX type code 0x07 in magic number 0x00000703"),
      "zero dims": (struct.pack(">4B", 0, 0, 0x08, 0), "wrong dims: the header declares 0 dimensions"),
      "short header": (good[:10], "truncated: 10 bytes, the header of 3 dims needs 16"),
      "short body": (good[:-5],
                     f"truncated: header says uint8 3x28x28 = {len(good)} bytes, the file has {len(good) - 5}"),
      "dims too small": (struct.pack(">4B3I", 0, 0, 0x08, 3, 2, 28, 28) + good[16:],
                         f"wrong size or dims: header says uint8 2x28x28 = {16 + 2 * 784} bytes, "
                         f"the file has {len(good)}"),
      "tiny": (b"\x00\x00", "truncated: 2 bytes, an IDX header needs at least 4"),
  }


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fault", _bad_files())
def test_bad_file_is_rejected_with_one_line_naming_file_and_fault(tmp_path, compression, fault):
  body, message = _bad_files()[fault]
  path = _write(tmp_path, "bad-idx", body, compression)
  with pytest.raises(idx.IdxError) as e:
    idx.read(path)
  assert str(e.value) == f"{path}: {message}"


def test_truncated_gzip_stream(tmp_path):
  path = tmp_path / "cut.gz"
  path.write_bytes(gzip.compress(idx.encode(_images()))[:-100])
  with pytest.raises(idx.IdxError, match=f"^{path}: gzip stream is truncated$"):
    idx.read(path)


def test_corrupt_gzip_stream(tmp_path):
  data = bytearray(gzip.compress(idx.encode(_images())))
  data[20:40] = bytes(20)
  path = tmp_path / "corrupt.gz"
  path.write_bytes(bytes(data))
  with pytest.raises(idx.IdxError, match=f"^{path}: corrupt gzip stream"):
    idx.read(path)


def test_encode_rejects_unsupported_dtype():
  with pytest.raises(ValueError, match="IDX cannot store dtype uint16"):
    idx.encode(np.zeros(3, np.uint16))
