"""Campaigns: members trained as separate processes, skipped when finished, resumed after a kill, never
trained by two campaigns at once."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deep_simple import release

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMBERS = ("member00", "member01", "member02")


def _campaign(folder, *flags, background=False):
  env = dict(os.environ, GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="test",
             GIT_COMMITTER_EMAIL="test@example.com")
  command = [sys.executable, "-m", "experiments.campaign", "--preset=experiments/configs/mcdnn.py:tiny3",
             f"--out={folder}/out", f"--workdir_root={folder}/runs", "--budget_minutes=10", *flags]
  if background:  # as a shell's background job (`&`, nohup): SIGINT ignored, for its children too
    command = ["sh", "-c", "trap '' INT; exec \"$0\" \"$@\"", *command]
  return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(process):
  out, err = process.communicate(timeout=900)
  assert process.returncode == 0, err[-3000:]
  return out


def _attempts(folder, member):
  with open(os.path.join(folder, "runs", member, "attempts.jsonl")) as f:
    return [json.loads(line) for line in f]


def _history(folder, member):
  with open(os.path.join(folder, "out", member, "metrics.jsonl")) as f:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in f]


@pytest.fixture(scope="module")
def together(tmp_path_factory, mnist_dir):
  """Two campaigns started at once on one folder."""
  del mnist_dir  # fetched once here, not by the subprocesses
  folder = tmp_path_factory.mktemp("together")
  outputs = [_finished(p) for p in [_campaign(folder), _campaign(folder)]]
  return folder, outputs


def test_two_campaigns_on_one_folder_never_train_the_same_member(together):
  folder, outputs = together
  for member in MEMBERS:
    assert len(_attempts(folder, member)) == 1, member  # one process trained it, once
    kept = sorted(os.listdir(folder / "out" / member))
    assert kept == sorted(["attempts.jsonl", "config.json", "learning_curve.png", "metrics.jsonl",
                           "misclassified.png", "model.npz", "results.json"])  # no checkpoints
    model = release.load(str(folder / "out" / member / "model.npz"))
    assert model.meta["members"] == [int(member[-2:])]
  assert sum("another campaign trains it" in out for out in outputs) >= 1
  for member in MEMBERS:
    assert sum(out.count(f"{member} (width") for out in outputs) == 1, member  # started once in all


def _await_checkpoint(process, folder, member):
  checkpoints = folder / "runs" / member / "checkpoints"
  while not (checkpoints.is_dir() and any(name.isdigit() for name in os.listdir(checkpoints))):
    assert process.poll() is None, process.communicate()[1][-3000:]
    time.sleep(0.02)


def test_a_campaign_in_the_background_stops_its_members_on_sigterm(tmp_path, mnist_dir):
  """Members used to get Ctrl-C, which a background job's children ignore: they trained on after the campaign
  was told to stop."""
  del mnist_dir
  campaign = _campaign(tmp_path, background=True)
  _await_checkpoint(campaign, tmp_path, "member00")
  campaign.send_signal(signal.SIGTERM)
  _, err = campaign.communicate(timeout=120)
  assert campaign.returncode == 1 and err.strip().endswith("interrupted: run the same command to continue"), err
  [attempt] = _attempts(tmp_path, "member00")
  assert attempt["exit"] == 143  # preempted: it saved the last epoch it finished
  assert not (tmp_path / "out" / "member00").exists()


def test_a_killed_campaign_resumes_skipping_finished_members(together, tmp_path):
  killed = _campaign(tmp_path)
  _await_checkpoint(killed, tmp_path, "member01")
  killed.send_signal(signal.SIGKILL)
  killed.communicate()
  finished_before = os.stat(tmp_path / "out" / "member00" / "model.npz").st_mtime_ns
  assert not (tmp_path / "out" / "member01").exists()

  subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
  resumed = _finished(_campaign(tmp_path, "--commit"))
  assert "1 of 3 members finished; 2 to train" in resumed and "member00 (" not in resumed
  assert os.stat(tmp_path / "out" / "member00" / "model.npz").st_mtime_ns == finished_before
  with open(tmp_path / "runs" / "member01" / "train.log") as f:
    assert "resumed after epoch" in f.read()
  assert len(_attempts(tmp_path, "member01")) == 1  # the killed process never ended; the resumed one did
  log = subprocess.run(["git", "log", "--format=%s", "--name-only"], cwd=tmp_path, capture_output=True, text=True,
                       check=True).stdout
  for member in ("member01", "member02"):  # committed as they finished
    assert f"out: {member} (width" in log and f"out/{member}/model.npz" in log
  # Resumed bit for bit: the same weights and history as the member trained without a break.
  straight = together[0]
  for member in MEMBERS:
    metas = [release.read_meta(str(f / "out" / member / "model.npz")) for f in (straight, tmp_path)]
    assert metas[0]["sha256"] == metas[1]["sha256"], member
    assert _history(straight, member) == _history(tmp_path, member), member
