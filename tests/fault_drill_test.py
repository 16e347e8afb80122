"""Fault drill: a real training process killed with SIGKILL, or stopped by Ctrl-C (SIGINT), at random moments
resumes bit-identically."""

import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from deep_simple import loop
from deep_simple import train

EPOCHS = 12
OVERRIDES = ["--config=experiments/configs/paper.py:tiny", f"--config.epochs={EPOCHS}",
             "--config.train_limit=12000", "--config.model.hidden=(64,)"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(workdir, stderr=subprocess.DEVNULL):
  return subprocess.Popen([sys.executable, "-m", "experiments.train", *OVERRIDES, f"--workdir={workdir}"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)


def test_sigkill_or_sigint_at_random_moments_then_resume_is_bit_identical(tmp_path):
  rng = random.Random(2010)
  killed_after = []
  for signum in (signal.SIGKILL, signal.SIGINT, signal.SIGKILL):
    err = tempfile.TemporaryFile("w+")
    proc = _start(tmp_path / "killed", err)
    # Wait for 1-2 more finished epochs, then kill somewhere inside the next epoch or its checkpoint save.
    for _ in range(rng.randint(1, 2)):
      line = proc.stdout.readline()
      assert "epoch" in line, line
    time.sleep(rng.uniform(0.0, 0.3))
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signum)
    proc.wait(timeout=120)
    killed_after.append(line.split("epoch ")[1].split()[0])
    if signum == signal.SIGINT:  # Ctrl-C: one line, and the lock released (the next start is not refused)
      err.seek(0)
      assert proc.returncode == 130
      assert err.read().splitlines() == [
          f"interrupted: run the same command to resume from the last checkpoint in {tmp_path / 'killed'}"]
  assert proc.returncode == -signal.SIGKILL
  finish = _start(tmp_path / "killed")
  out, _ = finish.communicate(timeout=600)
  assert finish.returncode == 0, out
  assert "resumed after epoch" in out

  straight = _start(tmp_path / "straight")
  out, _ = straight.communicate(timeout=600)
  assert straight.returncode == 0, out

  _, resumed, record_a = loop.restore(str(tmp_path / "killed"))
  _, uninterrupted, record_b = loop.restore(str(tmp_path / "straight"))
  assert record_a["epoch"] == record_b["epoch"] == EPOCHS
  jax.tree.map(np.testing.assert_array_equal, train.arrays(resumed), train.arrays(uninterrupted))
  assert [e["validation_error"] for e in record_a["history"]] == \
         [e["validation_error"] for e in record_b["history"]]
  print("killed after epochs", killed_after)
