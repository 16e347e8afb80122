"""The README's library example, run as it stands in a fresh process with only deep_simple imported."""

import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _library_example() -> str:
  with open(os.path.join(REPO, "README.md")) as f:
    section = f.read().split("## Using the pieces in your own JAX code", 1)[1]
  return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_library_example_runs_verbatim_without_experiments(tmp_path, mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocess
  check = "\nimport sys\nassert not [m for m in sys.modules if m.split('.')[0] in ('experiments', 'tests')]\n"
  # From an empty folder: nothing comes from the working directory.
  done = subprocess.run([sys.executable, "-c", _library_example() + check], cwd=tmp_path, capture_output=True,
                        text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  assert re.fullmatch(r"loss \d\.\d{3}, rate 1e-03 per example, probs \(1000, 10\)\n", done.stdout), done.stdout


def test_pretraining_example_runs_verbatim_and_learns(tmp_path, mnist_dir):
  del mnist_dir
  with open(os.path.join(REPO, "README.md")) as f:
    section = f.read().split("## End-to-end vs pre-training", 1)[1]
  example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
  done = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  error = float(re.fullmatch(r"reconstruction error (\d\.\d{4}) per pixel\n", done.stdout).group(1))
  assert error < 0.1  # the untrained RBM reconstructs every pixel as about 1/2, black and white digits alike
