"""The IDX format of the MNIST files: parse (gzip or raw, fully validated) and encode."""

import gzip
import math
import pathlib
import struct
import zlib

import numpy as np

# IDX type codes (third byte of the magic number) and their big-endian numpy dtypes.
_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
  """A file is not a well-formed IDX file; the message names the file and the fault."""


def decompress(data: bytes, name: str) -> bytes:
  """Returns `data` gunzipped if it is a gzip stream, else unchanged."""
  if not data.startswith(_GZIP_MAGIC):
    return data
  try:
    return gzip.decompress(data)
  except EOFError:
    raise IdxError(f"{name}: gzip stream is truncated") from None
  except (gzip.BadGzipFile, zlib.error) as e:
    raise IdxError(f"{name}: corrupt gzip stream ({e})") from None


def parse(data: bytes, name: str) -> np.ndarray:
  """Parses IDX bytes (gzip or raw) into an array in native byte order.

  `name` only labels errors. Raises IdxError on a wrong magic number, an unknown
  type code, zero dimensions, or a body whose size disagrees with the header.
  """
  data = decompress(data, name)
  if len(data) < 4:
    raise IdxError(f"{name}: truncated: {len(data)} bytes, an IDX header needs at least 4")
  if data[0] or data[1]:
    raise IdxError(f"{name}: wrong magic number 0x{data[:4].hex()}, an IDX file starts with 0x0000")
  code, ndim = data[2], data[3]
  if code not in _DTYPES:
    raise IdxError(f"{name}: unknown IDX type code 0x{code:02x} in magic number 0x{data[:4].hex()}")
  if ndim == 0:
    raise IdxError(f"{name}: wrong dims: the header declares 0 dimensions")
  offset = 4 + 4 * ndim
  if len(data) < offset:
    raise IdxError(f"{name}: truncated: {len(data)} bytes, the header of {ndim} dims needs {offset}")
  shape = struct.unpack(f">{ndim}I", data[4:offset])
  dtype = _DTYPES[code]
  expected = offset + math.prod(shape) * dtype.itemsize
  if len(data) != expected:
    fault = "truncated" if len(data) < expected else "wrong size or dims"
    raise IdxError(
        f"{name}: {fault}: header says {dtype.name} {'x'.join(map(str, shape))} = {expected} bytes,"
        f" the file has {len(data)}")
  array = np.frombuffer(data, dtype, offset=offset).reshape(shape)
  return array.astype(dtype.newbyteorder("="), copy=False)


def read(path: str | pathlib.Path) -> np.ndarray:
  """Reads an IDX file, gzip or raw (see parse)."""
  path = pathlib.Path(path)
  return parse(path.read_bytes(), str(path))


def encode(array: np.ndarray) -> bytes:
  """The IDX bytes of `array` (uncompressed); inverse of parse."""
  array = np.asarray(array)
  code = _CODES.get(array.dtype.newbyteorder("="))
  if code is None:
    raise ValueError(f"IDX cannot store dtype {array.dtype}")
  if not 1 <= array.ndim <= 255:
    raise ValueError(f"IDX stores 1 to 255 dims, got {array.ndim}")
  header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
  return header + array.astype(_DTYPES[code], copy=False).tobytes()
