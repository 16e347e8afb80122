"""Fault drill: a real training process killed with SIGKILL at random moments resumes bit-identically."""

import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np

from deep_simple import loop
from deep_simple import train

EPOCHS = 12
OVERRIDES = ["--config=experiments/configs/paper.py:tiny", f"--config.epochs={EPOCHS}",
             "--config.train_limit=12000", "--config.model.hidden=(64,)"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(workdir):
  return subprocess.Popen([sys.executable, "-m", "experiments.train", *OVERRIDES, f"--workdir={workdir}"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
  rng = random.Random(2010)
  killed_after = []
  for _ in range(3):
    proc = _start(tmp_path / "killed")
    # Wait for 1-2 more finished epochs, then kill somewhere inside the next epoch or its checkpoint save.
    for _ in range(rng.randint(1, 2)):
      line = proc.stdout.readline()
      assert "epoch" in line, line
    time.sleep(rng.uniform(0.0, 0.3))
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_after.append(line.split("epoch ")[1].split()[0])
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
