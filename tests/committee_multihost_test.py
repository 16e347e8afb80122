"""Several hosts, simulated by two processes on 127.0.0.1 with 2 CPU devices each (jax.distributed, whose
CPU collectives are gloo by default), train the same committee as one process does, and resume it."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
import pytest

from deep_simple import loop
from deep_simple import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EPOCHS = 2


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _train(workdir, members: int, processes: int, epochs: int = EPOCHS) -> list:
  """Runs the entry point in one process with one CPU device, or in `processes` processes with 2 CPU devices
  each; returns their stdouts."""
  command = [sys.executable, "-m", "experiments.train", "--config=experiments/configs/committee.py:tiny4",
             f"--workdir={workdir}", "--config.train_limit=1000", "--config.eval_limit=500",
             f"--config.epochs={epochs}", f"--config.committee.size={members}"]
  if processes > 1:
    command += ["--distributed", f"--coordinator_address=127.0.0.1:{_free_port()}",
                f"--num_processes={processes}"]
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={2 if processes > 1 else 1}")
  ids = [[f"--process_id={i}"] if processes > 1 else [] for i in range(processes)]
  # Output goes to files, not pipes: a process blocked on a full pipe would stall the others too.
  logs = [(tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")) for _ in ids]
  running = [subprocess.Popen(command + extra, cwd=REPO, env=env, stdout=out, stderr=err, text=True)
             for extra, (out, err) in zip(ids, logs)]
  deadline = time.monotonic() + 600
  # A process that fails leaves the others waiting in a collective: stop them all at the first failure.
  while (any(p.poll() is None for p in running) and all(p.poll() in (None, 0) for p in running)
         and time.monotonic() < deadline):
    time.sleep(0.1)
  for p in running:
    if p.poll() is None:
      p.kill()
    p.wait()
  for f in (f for pair in logs for f in pair):
    f.seek(0)
  for i, (p, (_, err)) in enumerate(zip(running, logs)):
    # -9: stopped because another process failed, or after 10 minutes.
    assert p.returncode == 0, f"process {i} exited with {p.returncode}: {err.read()[-3000:]}"
  return [out.read() for out, _ in logs]


def _history(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, mnist_dir):
  """Four members in one process on one device: the reference."""
  del mnist_dir  # fetched once here, not by the subprocesses
  workdir = tmp_path_factory.mktemp("one_process")
  _train(workdir, members=4, processes=1)
  return workdir


def _assert_same_members(workdir, reference, members: int):
  """The first `members` members of both runs: errors, results and final params (vmapped vs sharded
  products may round differently, measured 1e-7)."""
  for entry, ref in zip(_history(workdir), _history(reference), strict=True):
    for key in ("validation_error", "test_error", "lr"):
      np.testing.assert_allclose(entry[key], ref[key][:members], rtol=0, atol=1 / 500, err_msg=key)
    np.testing.assert_allclose(entry["train_loss"], ref["train_loss"][:members], rtol=1e-5)
  _, state, record = loop.restore(str(workdir))
  _, ref_state, _ = loop.restore(str(reference))
  assert record["epoch"] == EPOCHS
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[:members], rtol=0, atol=1e-6),
               train.arrays(state), train.arrays(ref_state))


def test_two_processes_train_and_resume_the_committee_of_one(tmp_path, one_process):
  workdir = tmp_path / "two"
  first = _train(workdir, members=4, processes=2, epochs=1)
  # Both processes restore epoch 1 from the shared workdir: members 2 and 3 live on process 1's devices,
  # and a process starting afresh would train them from scratch (or wait forever in a collective).
  second = _train(workdir, members=4, processes=2)
  assert "resumed after epoch 1" in second[0] and "epoch 2/2" in second[0]
  assert "epoch" not in first[1] + second[1]  # only process 0 reports (process 1 prints gloo's lines)
  results, reference = (json.loads((w / "results.json").read_text()) for w in (workdir, one_process))
  assert results["device_count"] == 4 and reference["device_count"] == 1
  for key in ("members", "epochs", "selected", "per_member", "misclassified_at_best_validation"):
    assert results[key] == reference[key], key
  history = _history(workdir)
  assert [e["epoch"] for e in history] == [1, 2]
  assert history[-1]["test_selected_error"] == _history(one_process)[-1]["test_selected_error"]
  _assert_same_members(workdir, one_process, members=4)
  assert sorted(os.listdir(workdir / "checkpoints")) == ["1", "2"]
  assert not (workdir / "config.tmp.json").exists()


def test_fewer_members_than_processes(tmp_path, one_process):
  # One member cannot be split: process 1 holds only padding slots, trained and discarded.
  _train(tmp_path, members=1, processes=2)
  results, reference = (json.loads((w / "results.json").read_text()) for w in (tmp_path, one_process))
  assert results["per_member"] == reference["per_member"][:1]
  _assert_same_members(tmp_path, one_process, members=1)


def test_process_whose_coordinator_never_answers_stops_after_init_timeout(tmp_path):
  """It used to print nothing for 300 s, then abort with a C++ stack trace."""
  address = f"127.0.0.1:{_free_port()}"
  done = subprocess.run([sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
                         f"--workdir={tmp_path / 'run'}", "--distributed", f"--coordinator_address={address}",
                         "--num_processes=2", "--process_id=1", "--init_timeout=3"],
                        cwd=REPO, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
                        timeout=120)
  assert done.returncode == 1
  assert done.stdout.splitlines() == [
      f"waiting up to 3 s for all processes to connect to the coordinator at {address} (this is process 1 of 2)"]
  assert done.stderr.splitlines() == [
      f"error: --distributed: not all processes connected to the coordinator at {address} within "
      "--init_timeout=3 s; start every process (process 0 on the coordinator's host) or raise --init_timeout"]
  assert not (tmp_path / "run").exists()
