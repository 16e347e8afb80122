"""A workdir holds one run, trained by one process at a time: the lock, failed starts, the run's identity."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys

import pytest

from deep_simple import loop
from deep_simple import workdir
from tests import tiny

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_HOLD = ("import sys, time; from deep_simple import workdir\n"
         "with workdir.lock(sys.argv[1]):\n  print(flush=True)\n  time.sleep(600)")


def test_lock_names_its_holder_and_is_free_once_the_holder_is_killed(tmp_path):
  holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE)
  try:
    holder.stdout.readline()  # it holds the lock
    with pytest.raises(workdir.InUseError) as refused:
      with workdir.lock(str(tmp_path)):
        pass
    assert str(refused.value) == (f"workdir {tmp_path} is in use by pid {holder.pid} on host {socket.gethostname()} "
                                  f"(lock file {tmp_path}/lock); wait for that run or use another --workdir")
  finally:
    holder.send_signal(signal.SIGKILL)
    holder.wait()
  # The kernel released the dead holder's lock; its file, still naming it, is no obstacle.
  assert f"pid {holder.pid}" in (tmp_path / "lock").read_text()
  with workdir.lock(str(tmp_path)):
    assert (tmp_path / "lock").read_text() == f"pid {os.getpid()} on host {socket.gethostname()}\n"
  assert (tmp_path / "lock").read_text() == ""


def test_second_training_process_in_a_workdir_is_refused_in_one_line(tmp_path):
  """Two processes in one workdir used to collide on Orbax's temporary folders and interleave metrics.jsonl."""
  with workdir.lock(str(tmp_path)):  # as a running training holds it
    second = subprocess.run([sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
                             f"--workdir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=600)
  assert second.returncode == 1
  assert second.stderr.splitlines() == [
      f"error: workdir {tmp_path} is in use by pid {os.getpid()} on host {socket.gethostname()} "
      f"(lock file {tmp_path}/lock); wait for that run or use another --workdir"]
  assert os.listdir(tmp_path) == ["lock"]


def test_a_failed_start_leaves_the_workdir_to_the_corrected_command(tmp_path):
  """config.json used to be written before the batch size was checked against the data: the corrected
  command was then refused as a run with a different config."""
  with pytest.raises(ValueError, match="config.batch_size 5000 exceeds the 2000 training digits"):
    loop.run(tiny.net(batch_size=5000), str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
  loop.run(tiny.net(batch_size=500, epochs=1), str(tmp_path / "run"))


def test_without_config_json_the_checkpoint_says_what_the_run_is(tmp_path):
  """With config.json deleted, a changed lr0 used to be recorded while the checkpoint's schedule went on."""
  loop.run(tiny.net(epochs=1), str(tmp_path))
  (tmp_path / "config.json").unlink()
  with pytest.raises(ValueError, match=r"holds a run with a different config \(fields: lr0\)"):
    loop.run(tiny.net(epochs=2, lr0=5e-3), str(tmp_path))
  cfg, _, _ = loop.restore(str(tmp_path))
  assert cfg.lr0 == tiny.net().lr0 and cfg.model.hidden == [64]
  loop.run(tiny.net(epochs=2), str(tmp_path))  # resumes, and writes config.json again
  with open(tmp_path / "config.json") as f:
    assert json.load(f) == json.loads(tiny.net(epochs=2).to_json())


def test_run_identity_ignores_epochs_and_data_location_and_names_nested_fields():
  fields = json.loads(tiny.net().to_json())
  elsewhere = {**fields, "epochs": 9, "mirror": "/elsewhere", "data_dir": "/cache"}
  workdir.check_same_run(fields, elsewhere, "w")
  wider = json.loads(tiny.net().to_json())
  wider["model"]["hidden"] = [128]
  wider["distort"]["sigma_range"] = [4.0, 6.0]
  with pytest.raises(ValueError, match=r"^workdir w holds a run with a different config "
                                       r"\(fields: distort.sigma_range, model.hidden\); use a new --workdir$"):
    workdir.check_same_run(fields, wider, "w")


def test_without_checkpoints_the_run_files_say_what_the_run_is_and_a_fresh_start_is_announced(tmp_path):
  """With checkpoints/ deleted, another config used to overwrite the finished run's results.json and
  config.json, and the same one started from scratch without a word."""
  loop.run(tiny.net(epochs=1), str(tmp_path))
  shutil.rmtree(tmp_path / "checkpoints")
  finished = {name: (tmp_path / name).read_bytes() for name in ("config.json", "results.json")}
  command = [sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
             "--config.epochs=1", f"--workdir={tmp_path}"]
  other = subprocess.run(command + ["--config.lr0=5e-3"], cwd=REPO, capture_output=True, text=True, timeout=600)
  assert other.returncode == 1
  assert other.stderr.splitlines() == [
      f"error: workdir {tmp_path} holds a run with a different config (fields: lr0); use a new --workdir"]
  assert {name: (tmp_path / name).read_bytes() for name in finished} == finished
  (tmp_path / "config.json").unlink()  # results.json still names the model
  narrower = tiny.net(epochs=1)
  narrower.model.hidden = (32,)
  with pytest.raises(ValueError, match=r"different config \(fields: model.hidden\)"):
    loop.run(narrower, str(tmp_path))
  same = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert same.returncode == 0, same.stderr
  [line] = same.stderr.splitlines()
  assert line.endswith(f"no usable checkpoint in {tmp_path}/checkpoints: the run starts from scratch"), line


def test_a_run_begun_before_a_field_existed_resumes_with_that_field_at_its_default():
  fields = json.loads(tiny.net().to_json())
  older = json.loads(tiny.net().to_json())
  del older["committee"]["member"]
  workdir.check_same_run(fields, older, "w")
  member_run = json.loads(tiny.committee(3).to_json())
  member_run["committee"]["member"] = 1
  older_committee = json.loads(tiny.committee(3).to_json())
  del older_committee["committee"]["member"]
  with pytest.raises(ValueError, match=r"fields: committee.member\)"):
    workdir.check_same_run(member_run, older_committee, "w")
