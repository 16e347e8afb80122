"""Sources of the raw files: a local mirror folder and HTTP(S) mirrors.

A source's `read(names, timeout)` yields (name, bytes) for each requested file, gzip or raw;
the caller validates and verifies them. Failures raise SourceError with a one-line reason.
"""

import http.client
import pathlib
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence


class SourceError(RuntimeError):
  """A source cannot deliver a file; the message says why."""


class MirrorSource:
  """A folder holding the files as <name> or <name>.gz."""

  def __init__(self, folder: str | pathlib.Path):
    self.folder = pathlib.Path(folder)
    self.name = f"mirror {self.folder}"

  def read(self, names: Sequence[str], timeout: float) -> Iterator[tuple[str, bytes]]:
    del timeout  # local files
    if not self.folder.is_dir():
      raise SourceError(f"{self.folder} is not a folder")
    for name in names:
      path = next((p for p in (self.folder / name, self.folder / f"{name}.gz") if p.is_file()), None)
      if path is None:
        raise SourceError(f"neither {name} nor {name}.gz is in {self.folder}")
      try:
        yield name, path.read_bytes()
      except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror}") from None


class HttpSource:
  """A base URL serving <name>.gz, as the classic MNIST mirrors do."""

  def __init__(self, base_url: str):
    self.base_url = base_url if base_url.endswith("/") else base_url + "/"
    self.name = self.base_url

  def read(self, names: Sequence[str], timeout: float) -> Iterator[tuple[str, bytes]]:
    for name in names:
      yield name, _download(f"{self.base_url}{name}.gz", timeout)


def _download(url: str, timeout: float) -> bytes:
  """The body at `url`; `timeout` bounds each wait for the server (connect and every read)."""
  try:
    with urllib.request.urlopen(url, timeout=timeout) as response:
      return response.read()
  except urllib.error.HTTPError as e:
    raise SourceError(f"{url}: HTTP {e.code} {e.reason}") from None
  except TimeoutError:
    raise SourceError(f"{url}: no response within the {timeout:g} s timeout") from None
  except urllib.error.URLError as e:
    if isinstance(e.reason, TimeoutError):
      raise SourceError(f"{url}: no connection within the {timeout:g} s timeout") from None
    raise SourceError(f"{url}: {e.reason}") from None
  except http.client.IncompleteRead as e:
    raise SourceError(f"{url}: connection closed after {len(e.partial)} bytes") from None
  except (http.client.HTTPException, OSError) as e:
    raise SourceError(f"{url}: {type(e).__name__}: {e}") from None
