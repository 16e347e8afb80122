r"""Fills the folder that `make gpu` reads on an offline GPU machine: the wheels it lacks and MNIST.

    python -m experiments.gpu.prep [--folder=.gpu]          (`make gpu-prep`, where PyPI is reachable)

Wheels: setup.cfg's install_requires less the packages the GPU machine is known to have
(experiments/gpu/device_packages.txt), with their dependencies, resolved by pip for that machine (CPython
3.12, manylinux x86_64), less the known packages again. MNIST: the four files, verified into the cache by
`python -m deep_simple.data.fetch` (from DEEP_SIMPLE_MNIST_MIRROR when set), then gzipped.

Writes <folder>/wheels/*.whl, <folder>/wheels.txt (what was resolved, from what) and
<folder>/mnist/*-ubyte.gz. A second call with the same requirements and device list downloads nothing.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

from absl import app
from absl import flags

from experiments import cli
from experiments.gpu import packages

FOLDER = flags.DEFINE_string("folder", ".gpu", "The folder to fill; `make gpu` carries it to the GPU machine.")

PYTHON_VERSION = "3.12"  # The GPU machine's Python.
# jaxlib's own wheels need glibc 2.27, so a machine that runs JAX takes manylinux_2_27 wheels too.
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_27_x86_64")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


def _pip(*args) -> None:
  """pip for the GPU machine's interpreter and platform, binary wheels only."""
  target = [f"--python-version={PYTHON_VERSION}", *(f"--platform={p}" for p in PLATFORMS)]
  done = subprocess.run([sys.executable, "-m", "pip", *args, "--quiet", "--only-binary=:all:", *target],
                        capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError(f"pip {args[0]}: {cli.one_line(RuntimeError(done.stderr or done.stdout))}")


def resolve(requirements: list) -> list:
  """['name==version wheel-file']: `requirements` and their dependencies, less what the machine has."""
  with tempfile.TemporaryDirectory() as tmp:
    report = os.path.join(tmp, "report.json")
    # --target resolves from scratch, ignoring what is installed here.
    _pip("install", "--dry-run", f"--report={report}", f"--target={os.path.join(tmp, 'target')}", *requirements)
    with open(report) as f:
      installs = json.load(f)["install"]
  known = packages.read_names()
  return sorted(
      f"{i['metadata']['name']}=={i['metadata']['version']} "
      f"{urllib.parse.unquote(os.path.basename(urllib.parse.urlparse(i['download_info']['url']).path))}"
      for i in installs if packages.canonical(i["metadata"]["name"]) not in known)


def _inputs_line(requirements: list) -> str:
  """What the wheel list follows from: a change of any of it resolves again."""
  known = hashlib.sha256(" ".join(sorted(packages.read_names())).encode()).hexdigest()[:12]
  return (f"# CPython {PYTHON_VERSION} on {', '.join(PLATFORMS)}: {' '.join(requirements)}; "
          f"less device_packages.txt {known}")


def prepare_wheels(folder: str) -> list:
  """The wheel files in <folder>/wheels, downloaded unless wheels.txt says they are there already."""
  requirements = packages.missing_requirements(packages.read_names())
  listing, wheels = os.path.join(folder, "wheels.txt"), os.path.join(folder, "wheels")
  inputs = _inputs_line(requirements)
  if os.path.exists(listing):
    with open(listing) as f:
      lines = f.read().splitlines()
    files = [line.split()[1] for line in lines[1:]]
    if lines[:1] == [inputs] and all(os.path.exists(os.path.join(wheels, w)) for w in files):
      return files
  pinned = resolve(requirements) if requirements else []
  files = [line.split()[1] for line in pinned]
  os.makedirs(wheels, exist_ok=True)
  for stale in set(os.listdir(wheels)) - set(files):
    os.remove(os.path.join(wheels, stale))
  if pinned:
    _pip("download", "--no-deps", f"--dest={wheels}", *(line.split()[0] for line in pinned))
  absent = [w for w in files if not os.path.exists(os.path.join(wheels, w))]
  if absent:
    raise RuntimeError(f"pip download left out {', '.join(absent)}")
  cli.write_atomic(listing, "\n".join([inputs, *pinned]) + "\n")
  return files


def prepare_mnist(folder: str) -> list:
  """<folder>/mnist/<file>.gz for the four MNIST files, gzipped from the verified cache."""
  mnist = os.path.join(folder, "mnist")
  missing = [n for n in MNIST_FILES if not os.path.exists(os.path.join(mnist, n + ".gz"))]
  if missing:
    fetched = subprocess.run([sys.executable, "-m", "deep_simple.data.fetch", "--dataset=mnist"],
                             capture_output=True, text=True, check=False)
    if fetched.returncode:
      raise RuntimeError(cli.one_line(RuntimeError(fetched.stderr)))
    cache = fetched.stdout.splitlines()[0].partition(": ")[2]  # Its first line: "mnist: <folder>".
    os.makedirs(mnist, exist_ok=True)
    for name in missing:
      path = os.path.join(mnist, name + ".gz")
      with open(os.path.join(cache, name), "rb") as raw, open(path + ".tmp", "wb") as out:
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as compressed:  # mtime 0: the same bytes every time
          shutil.copyfileobj(raw, compressed)
      os.replace(path + ".tmp", path)
  return [os.path.join(mnist, n + ".gz") for n in MNIST_FILES]


def _mib(paths) -> str:
  return f"{sum(os.path.getsize(p) for p in paths) / 2**20:.1f} MiB"


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])}")
  folder = FOLDER.value
  try:
    wheels = [os.path.join(folder, "wheels", w) for w in prepare_wheels(folder)]
    mnist = prepare_mnist(folder)
  except (RuntimeError, OSError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  print(f"{folder}/wheels: {len(wheels)} wheels the GPU machine lacks, {_mib(wheels)}: "
        f"{' '.join(os.path.basename(w).split('-')[0] for w in wheels)}")
  print(f"{folder}/mnist: {len(mnist)} files, {_mib(mnist)}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
