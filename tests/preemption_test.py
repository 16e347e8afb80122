"""SIGTERM, what schedulers send before they kill a job, as a preemption: real training processes stopped
mid-epoch and mid-save save a checkpoint, say so in one line, exit with 143, and the same command resumes
bit-identically."""

import os
import re
import signal
import subprocess
import sys
import time

import jax
import numpy as np

from deep_simple import loop
from deep_simple import preemption
from deep_simple import train

EPOCHS = 7
# checkpoint_every=3: a preempted run saves an epoch that was not due.
OVERRIDES = ["--config=experiments/configs/paper.py:tiny", f"--config.epochs={EPOCHS}",
             "--config.checkpoint_every=3"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(workdir):
  return subprocess.Popen([sys.executable, "-m", "experiments.train", *OVERRIDES, f"--workdir={workdir}"],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _await_epoch_line(proc) -> int:
  line = proc.stdout.readline()
  assert "epoch" in line, line
  return int(line.split("epoch ")[1].split("/")[0])


def _await_save(checkpoints, timeout_s=120):
  """Returns once Orbax writes a checkpoint's temporary folder in `checkpoints`."""
  deadline = time.monotonic() + timeout_s
  while time.monotonic() < deadline:
    if os.path.isdir(checkpoints) and any(".orbax-checkpoint-tmp" in n for n in os.listdir(checkpoints)):
      return
    time.sleep(0.0002)
  raise AssertionError("no checkpoint was saved")


def _assert_preempted(proc, workdir, after_epoch: int) -> int:
  """The epoch the preempted run saved: the one in progress when the signal came, or the next."""
  _, err = proc.communicate(timeout=300)
  assert proc.returncode == preemption.EXIT_STATUS == 143, err
  [line] = err.splitlines()
  match = re.fullmatch(rf"preempted by SIGTERM: epoch (\d+) is saved in {re.escape(str(workdir))}/checkpoints/\1; "
                       r"run the same command to resume", line)
  assert match, line
  saved = int(match.group(1))
  assert after_epoch <= saved <= after_epoch + 2
  assert str(saved) in os.listdir(workdir / "checkpoints")
  assert not [n for n in os.listdir(workdir / "checkpoints") if "tmp" in n]
  return saved


def test_sigterm_mid_epoch_and_mid_save_saves_then_the_same_command_resumes_bit_identically(tmp_path):
  workdir = tmp_path / "preempted"
  mid_epoch = _start(workdir)
  after = _await_epoch_line(mid_epoch)
  time.sleep(0.05)  # inside the next epoch
  mid_epoch.send_signal(signal.SIGTERM)
  first = _assert_preempted(mid_epoch, workdir, after)

  mid_save = _start(workdir)
  _await_save(workdir / "checkpoints")
  mid_save.send_signal(signal.SIGTERM)
  second = _assert_preempted(mid_save, workdir, first + 1)
  assert second < EPOCHS

  finish = _start(workdir)
  out, err = finish.communicate(timeout=300)
  assert finish.returncode == 0, err
  assert f"resumed after epoch {second}" in out
  straight = _start(tmp_path / "straight")
  _, err = straight.communicate(timeout=300)
  assert straight.returncode == 0, err

  _, resumed, record_a = loop.restore(str(workdir))
  _, uninterrupted, record_b = loop.restore(str(tmp_path / "straight"))
  assert record_a["epoch"] == record_b["epoch"] == EPOCHS
  jax.tree.map(np.testing.assert_array_equal, train.arrays(resumed), train.arrays(uninterrupted))
  without_time = lambda history: [{k: v for k, v in e.items() if k != "seconds"} for e in history]
  assert without_time(record_a["history"]) == without_time(record_b["history"])
