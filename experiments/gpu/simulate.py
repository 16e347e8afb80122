r"""`make gpu` on a simulation of the GPU machine, before a lent GPU's one try depends on it.

    make gpu-sim      # python3 -m experiments.gpu.simulate [--log=results/gpu/simulation.log]

The GPU machine has Python 3.12, its own packages (experiments/gpu/device_packages.txt: JAX, Flax, Optax,
Orbax, absl-py, chex, NumPy, SciPy, matplotlib, ...) and no network; it receives a copy of the working tree
with `.gpu/` carried. This builds the same here: a Python 3.12 virtual environment holding only the machine's
packages that the project touches (experiments/gpu/simulation_requirements.txt, CPU builds), a copy of the
tracked and untracked-but-not-ignored files plus `.gpu/`, and then runs `make gpu` in that copy with that
Python, in a network namespace of its own (no network; needs root or user namespaces), with `--dry`: the plan's
CPU form, since the simulation has no GPU. Everything `make gpu` would import before its install step, and
every step after it, runs as it would there. The log (`--log`) holds every command and its output.

Standard library only: it runs with any Python 3.
"""

import argparse
import datetime
import glob
import os
import shutil
import subprocess
import sys
import tempfile

from experiments.gpu import paths

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(REPO, "experiments", "gpu", "simulation_requirements.txt")
PYTHON = "3.12"


def find_python() -> str:
  """A Python 3.12 interpreter: on the PATH, or one that pyenv installed."""
  candidates = [shutil.which(f"python{PYTHON}")] + sorted(
      glob.glob(os.path.expanduser(f"~/.pyenv/versions/{PYTHON}.*/bin/python{PYTHON}")))
  for python in filter(None, candidates):
    if subprocess.run([python, "--version"], capture_output=True, check=False).returncode == 0:
      return python
  raise RuntimeError(f"no Python {PYTHON} found (install one, e.g. `pyenv install {PYTHON}`)")


def environment(folder: str, log) -> str:
  """The simulation's interpreter in `folder`, its packages installed once (again when the list changes)."""
  python, stamp = os.path.join(folder, "bin", "python"), os.path.join(folder, "requirements.txt")
  with open(REQUIREMENTS) as f:
    wanted = f.read()
  if os.path.exists(stamp) and open(stamp).read() == wanted:
    return python
  shutil.rmtree(folder, ignore_errors=True)
  run(log, [find_python(), "-m", "venv", folder])
  run(log, [python, "-m", "pip", "install", "--quiet", "--quiet", "-r", REQUIREMENTS])
  shutil.copyfile(REQUIREMENTS, stamp)
  return python


def device_copy(target: str) -> None:
  """What the device machine receives: tracked and untracked-not-ignored files, and `.gpu/`."""
  listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                          capture_output=True, check=True).stdout.decode().split("\0")
  for path in filter(None, listed):
    source = os.path.join(REPO, path)
    if os.path.isfile(source):
      os.makedirs(os.path.dirname(os.path.join(target, path)), exist_ok=True)
      shutil.copy2(source, os.path.join(target, path))
  shutil.copytree(os.path.join(REPO, ".gpu"), os.path.join(target, ".gpu"))


def run(log, argv, required: bool = True, cwd=None) -> int:
  """argv's exit status, its output into `log`; a `required` command that fails is a RuntimeError."""
  log.write(f"$ {' '.join(argv)}\n")
  log.flush()
  done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False, cwd=cwd)
  log.write(f"(exit status {done.returncode})\n")
  log.flush()
  if done.returncode and required:
    raise RuntimeError(f"{' '.join(argv)} failed with exit status {done.returncode}")
  return done.returncode


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--log", default=os.path.join(REPO, "results", "gpu", "simulation.log"))
  parser.add_argument("--venv", default=os.path.join(REPO, ".cache", "gpu-sim"),
                      help="where the Python 3.12 environment is kept between runs")
  args = parser.parse_args()
  if not os.path.isdir(os.path.join(REPO, ".gpu", "wheels")):
    sys.exit("error: .gpu/ is missing: run `make gpu-prep` first")
  os.makedirs(os.path.dirname(os.path.abspath(args.log)), exist_ok=True)
  with tempfile.TemporaryDirectory(prefix="deep_simple_gpu_sim_") as tmp:
    try:
      with open(os.path.join(tmp, "log"), "w") as log:
        status = simulate(log, tmp, args.venv)
    finally:
      with open(os.path.join(tmp, "log")) as f, open(args.log, "w") as out:
        out.write(paths.portable(f.read(), {tmp: "<tmp>", args.venv: "<venv>", REPO: "<repo>",
                                            find_python(): f"python{PYTHON}"}))
  print(f"make gpu on the simulated machine: exit status {status}; log in {os.path.relpath(args.log)}")
  return status


def simulate(log, tmp: str, venv: str) -> int:
  """The simulation's commands, their output into `log`; the exit status of `make gpu`."""
  log.write(f"# `make gpu` on a simulated GPU machine, {datetime.date.today()}: Python {PYTHON}, only the "
            "machine's packages, no network, a copy of the working tree with .gpu/\n")
  try:
    python = environment(venv, log)
    run(log, [python, "-m", "pip", "list", "--format=freeze"])
    copy, out = os.path.join(tmp, "repo"), os.path.join(tmp, "out")
    device_copy(copy)
    offline = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--net", "--map-root-user"]
    # Nor does the machine have this one's pip configuration (local wheel folders and indexes).
    machine_env = ["env", "-u", "PIP_FIND_LINKS", f"PIP_CONFIG_FILE={os.devnull}", f"OUT={out}"]
    return run(log, [*offline, *machine_env, "make", "--no-print-directory", "gpu",
                     f"PYTHON={python}", "GPU_FLAGS=--dry"], required=False, cwd=copy)
  except (RuntimeError, OSError, subprocess.CalledProcessError) as e:
    sys.exit(f"error: {e}; see the log")

if __name__ == "__main__":
  sys.exit(main())
