"""Writing files so that a failure loses nothing and says which file: whole or not at all, errors with a path.

A write on a full disk fails with "No space left on device" and no file name; `naming(path)` adds it.
"""

import contextlib
import json
import math
import os


@contextlib.contextmanager
def naming(path):
  """Re-raises an OSError without a file name as one that names `path`."""
  try:
    yield
  except OSError as e:
    if e.filename is not None or e.errno is None:
      raise
    raise OSError(e.errno, e.strerror, str(path)) from e


@contextlib.contextmanager
def replacing(path: str):
  """Yields a temporary path beside `path` (same suffix, so writers that go by it still work); when the block
  succeeds the file replaces `path` in one rename, so a crash, a kill or Ctrl-C never leaves half a file."""
  root, suffix = os.path.splitext(path)
  tmp = f"{root}.tmp{suffix}"
  try:
    with naming(path):
      yield tmp
      os.replace(tmp, path)
  finally:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)


def write_atomic(path: str, text: str) -> None:
  with replacing(path) as tmp, open(tmp, "w") as f:
    f.write(text)


def _json_values(value):
  """`value` with every non-finite float as None: JSON has no NaN or infinity (a diverged member's loss)."""
  if isinstance(value, float) and not math.isfinite(value):
    return None
  if isinstance(value, dict):
    return {key: _json_values(v) for key, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_json_values(v) for v in value]
  return value


def to_json(value, **kwargs) -> str:
  """json.dumps that writes only valid JSON: non-finite floats become null."""
  return json.dumps(_json_values(value), allow_nan=False, **kwargs)
