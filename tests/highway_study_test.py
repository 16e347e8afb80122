"""experiments.highway as a real process on real MNIST: the tiny study's files, an exact resume, bad flags."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from deep_simple import loop
from deep_simple import train
from experiments import highway_figures
from experiments.configs import highway as study

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Depths 2 and 3, one (ReLU) run per kind and depth, nets of 8 / 11 units, 3 epochs of 500 digits: four
# runs of a probe (2 epochs) and a resume (the third).
TINY = ("--depths=2,3", "--runs=1", "--epochs=3", "--train_limit=500", "--eval_limit=200", "--batch_size=50",
        "--highway_width=8", "--plain_width=11")
CELLS = [f"{kind}_{depth}" for depth in (2, 3) for kind in ("plain", "highway")]


def _start(tmp_path, *args):
  return subprocess.Popen([sys.executable, "-m", "experiments.highway", f"--out={tmp_path / 'out'}",
                           f"--workdir_root={tmp_path / 'runs'}", *args],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(process):
  out, err = process.communicate(timeout=600)
  assert process.returncode == 0, err[-3000:]
  return out


def _cells(tmp_path):
  return {name: json.loads((tmp_path / "out" / f"{name}.json").read_text()) for name in CELLS}


@pytest.fixture(scope="module")
def straight(tmp_path_factory, mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocess
  tmp_path = tmp_path_factory.mktemp("study")
  return tmp_path, _finished(_start(tmp_path, *TINY))


def test_the_tiny_study_writes_every_file(straight):
  tmp_path, out = straight
  assert sorted(os.listdir(tmp_path / "out")) == sorted(
      ["study.json", "table.md", "training_loss.png", "gates.png"] + [f"{name}.json" for name in CELLS])
  for figure in ("training_loss.png", "gates.png"):
    assert (tmp_path / "out" / figure).stat().st_size > 10_000
  table = (tmp_path / "out" / "table.md").read_text()
  assert table in out
  rows = [line for line in table.splitlines() if line.startswith("| 2 |") or line.startswith("| 3 |")]
  assert len(rows) == 4 + 2  # a row per kind and depth, then the plain / highway ratios per depth
  cells = _cells(tmp_path)
  for depth, row in zip((2, 3), rows[4:]):
    plain, gated = ([r["final_train_loss"] for r in cells[f"{kind}_{depth}"]["runs"]] for kind in ("plain", "highway"))
    # One run per cell: its best, the mean of its best 5 and its median are the run itself.
    assert row == f"| {depth} | " + " | ".join([f"{plain[0] / gated[0]:.3g}"] * 3) + " |"
  saved = json.loads((tmp_path / "out" / "study.json").read_text())
  assert saved["settings"]["depths"] == [2, 3] and saved["command"].startswith("python -m experiments.highway ")


def test_cell_records_hold_every_run_s_settings_and_curves(straight):
  tmp_path, _ = straight
  for name, cell in _cells(tmp_path).items():
    kind, depth = name.split("_")
    assert (cell["kind"], cell["depth"]) == (kind, int(depth))
    width = 8 if kind == "highway" else 11
    assert cell["width"] == width and cell["weights_per_net"] == \
        784 * width + width + (int(depth) - 1) * (width + 1) * width * (2 if kind == "highway" else 1) + width * 10 + 10
    assert [run["activation"] for run in cell["runs"]] == ["relu"]
    assert cell["timings"]["relu"]["architecture"] == f"{kind} {depth}x{width} relu-10"
    for run in cell["runs"]:
      assert len(run["train_loss"]) == len(run["test_error"]) == 3 and run["final_train_loss"] == run["train_loss"][-1]
      assert study.LR0_RANGE[0] <= run["lr0"] <= study.LR0_RANGE[1]
      assert study.MOMENTUM_RANGE[0] <= run["momentum"] <= study.MOMENTUM_RANGE[1]
      assert study.FINAL_RATE_RANGE[0] <= run["lr_decay"] ** 3 <= 1
      assert ("gate_bias" in run) == (kind == "highway")
      if kind == "highway":
        assert study.GATE_BIAS_RANGE[0] <= run["gate_bias"] <= study.GATE_BIAS_RANGE[1]
    assert set(cell["timings"]) == {"relu"} and cell["timings"]["relu"]["epochs"] == 3
    assert not os.path.isabs(cell["timings"]["relu"]["workdir"])


def _runs_past_their_probe(root):
  names = os.listdir(root) if root.is_dir() else []
  return sum(os.path.exists(root / name / "budget.json") for name in names)


def test_a_study_killed_mid_way_resumes_bit_identically(straight, tmp_path):
  straight_path, _ = straight
  killed = _start(tmp_path, *TINY)
  while _runs_past_their_probe(tmp_path / "runs") < 2:  # the second run is past its probe
    assert killed.poll() is None, killed.communicate()[1][-3000:]
    time.sleep(0.02)
  killed.send_signal(signal.SIGKILL)
  killed.communicate()
  assert killed.returncode == -signal.SIGKILL
  assert not all((tmp_path / "out" / f"{name}.json").exists() for name in CELLS)  # killed before the end
  _finished(_start(tmp_path, *TINY))
  _assert_same_study(straight_path, tmp_path)


def test_a_study_preempted_by_sigterm_says_so_and_resumes_bit_identically(straight, tmp_path):
  straight_path, _ = straight
  preempted = _start(tmp_path, *TINY)
  while _runs_past_their_probe(tmp_path / "runs") < 2:
    assert preempted.poll() is None, preempted.communicate()[1][-3000:]
    time.sleep(0.02)
  preempted.send_signal(signal.SIGTERM)
  _, err = preempted.communicate(timeout=600)
  assert preempted.returncode == 143, err[-3000:]
  [line] = err.splitlines()
  # The second run's last epoch finishes it; the next run stops before its first epoch.
  saved = rf"epoch (?P<e>\d) is saved in {re.escape(str(tmp_path / 'runs'))}/\w+/checkpoints/(?P=e)"
  assert re.fullmatch(rf"preempted by SIGTERM: ({saved}|no epoch was finished); run the same command to resume",
                      line), line
  _finished(_start(tmp_path, *TINY))
  _assert_same_study(straight_path, tmp_path)


def _assert_same_study(straight_path, tmp_path):
  timing_free = lambda cell: {k: v for k, v in cell.items() if k != "timings"}
  for name, cell in _cells(straight_path).items():
    assert timing_free(_cells(tmp_path)[name]) == timing_free(cell)
  for run in os.listdir(straight_path / "runs"):
    if run == "jax_cache":
      continue
    _, a, record_a = loop.restore(str(straight_path / "runs" / run))
    _, b, record_b = loop.restore(str(tmp_path / "runs" / run))
    assert record_a["epoch"] == record_b["epoch"] == 3
    jax.tree.map(np.testing.assert_array_equal, train.arrays(a), train.arrays(b))


@pytest.mark.parametrize("args, message", [
    (("--depths=0",), "error: --depths must be distinct positive integers; got 0"),
    (("--depths=10,ten",), "error: --depths must be distinct positive integers; got 10,ten"),
    (("--runs=0",), "error: --runs must be at least 1; got 0"),
    (("--epochs=0",), "error: --epochs must be at least 1; got 0"),
    (("--train_limit=-5",), "error: config.train_limit must be >= 0 (0 means all digits); got -5"),
    (("--budget_minutes=-1",), "error: --budget_minutes and --min_epochs must be >= 0; got -1.0 and 0"),
])
def test_bad_flags_end_in_one_line_before_anything_is_written(tmp_path, args, message):
  done = subprocess.run([sys.executable, "-m", "experiments.highway", f"--out={tmp_path / 'out'}",
                         f"--workdir_root={tmp_path / 'runs'}", *args], cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 1 and done.stderr == message + "\n"
  assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_min_epochs_trains_every_run_that_long_past_its_budget(tmp_path, mnist_dir):
  del mnist_dir
  _finished(_start(tmp_path, *TINY[1:], "--depths=2", "--budget_minutes=0.001", "--min_epochs=3"))
  for kind in ("plain", "highway"):
    cell = json.loads((tmp_path / "out" / f"{kind}_2.json").read_text())
    assert cell["timings"]["relu"]["planned_epochs"] == 3 == len(cell["runs"][0]["train_loss"])


def test_an_out_folder_of_another_study_is_refused(straight):
  tmp_path, _ = straight
  done = subprocess.run([sys.executable, "-m", "experiments.highway", f"--out={tmp_path / 'out'}",
                         f"--workdir_root={tmp_path / 'runs'}", *TINY, "--seed=1"],
                        cwd=REPO, capture_output=True, text=True)
  assert done.returncode == 1
  assert done.stderr == f"error: {tmp_path / 'out'} holds a study with other settings (seed); use another --out\n"


def test_loss_figure_takes_runs_that_trained_different_numbers_of_epochs(tmp_path):
  """A budget gives a cell's runs different epoch counts (33 and 30 in the CPU study); diverged runs are left out."""
  runs = [{"train_loss": [2.0, 1.0, 0.5], "diverged": False}, {"train_loss": [2.1, 1.2], "diverged": False},
          {"train_loss": [float("nan")], "diverged": True}]
  path = tmp_path / "training_loss.png"
  highway_figures.training_loss({("highway", 10): {"runs": runs}, ("plain", 10): {"runs": runs[2:]}}, [10], 10,
                                str(path))
  assert path.stat().st_size > 1000
