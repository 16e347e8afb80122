"""Shared fixtures: real MNIST through the data layer, and small file systems to fill up.

Data sources and cache come from the environment: DEEP_SIMPLE_MNIST_MIRROR (local mirror folder) and
DEEP_SIMPLE_DATA_DIR (cache root); see deep_simple.data.fetch.
"""

import os
import pathlib
import signal
import subprocess

# Set before JAX starts: the suite compiles the same small programs in many processes (runs killed and resumed,
# command lines), so they share XLA's compilations through JAX's persistent cache. Its key holds the program, the
# XLA flags and the versions, so a test computes what it would without the cache.
_REPO = pathlib.Path(__file__).resolve().parents[1]
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(_REPO / ".cache" / "jax-compilation"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # pylint: disable=wrong-import-position

# A suite started in the background (`&`, nohup) inherits SIGINT ignored, and so would every process it starts;
# the tests send Ctrl-C as a user at a terminal does, so SIGINT gets Python's handler (theirs after exec).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
  signal.signal(signal.SIGINT, signal.default_int_handler)

from deep_simple import data  # pylint: disable=wrong-import-position


@pytest.fixture(scope="session")
def mnist_dir():
  """The cache folder holding the four verified, uncompressed MNIST files."""
  return data.fetch("mnist")


@pytest.fixture(scope="session")
def mnist_splits():
  """Paper protocol: {"train", "validation", "test"} -> (images_Nx28x28 uint8, labels_N int32), read-only."""
  return data.load_splits("mnist", protocol="paper")


@pytest.fixture
def tmpfs(tmp_path):
  """mount(size) -> a fresh tmpfs folder of `size` ("3m"), to fill up; unmounted after the test (needs root)."""
  if os.geteuid() != 0:
    pytest.skip("mounting a small tmpfs to fill up needs root")
  mounted = []

  def mount(size: str) -> pathlib.Path:
    folder = tmp_path / f"tmpfs{len(mounted)}"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode:
      pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    mounted.append(folder)
    return folder

  yield mount
  for folder in mounted:
    subprocess.run(["umount", str(folder)], check=True)
