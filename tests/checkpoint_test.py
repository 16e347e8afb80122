"""Checkpoints of real runs damaged on disk: corrupt files, flipped bytes, a full disk. Each damaged run must end
with a readable final checkpoint equal to an uninterrupted run's, and the damaged checkpoints kept aside."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import jax
import numpy as np
import pytest

from deep_simple import checkpoint
from deep_simple import loop
from deep_simple import train
from tests import tiny

EPOCHS = 3
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
  """(state, history) of an uninterrupted run: what every damaged run must end up equal to."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  loop.run(tiny.net(epochs=EPOCHS), workdir)
  _, state, record = loop.restore(workdir)
  return state, record["history"]


def _assert_same_run(workdir, straight):
  _, state, record = loop.restore(str(workdir))
  assert record["epoch"] == EPOCHS
  jax.tree.map(np.testing.assert_array_equal, train.arrays(state), train.arrays(straight[0]))
  without_time = lambda history: [{k: v for k, v in e.items() if k != "seconds"} for e in history]
  assert without_time(record["history"]) == without_time(straight[1])


def _overwrite(paths, content=b"not a checkpoint"):
  for path in paths:
    path.write_bytes(content)


def test_corrupt_newest_checkpoints_are_moved_aside_and_saved_again(tmp_path, straight, caplog):
  """Epochs at or below a corrupt checkpoint used to be never saved again: with both checkpoints corrupt, the
  run retrained without writing any, and kept no readable weights."""
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))
  checkpoints = tmp_path / "checkpoints"
  assert sorted(os.listdir(checkpoints)) == ["2", "3"]
  for epoch in (2, 3):
    _overwrite(p for p in (checkpoints / str(epoch) / "state").rglob("*") if p.is_file())
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))  # from scratch
  assert sorted(os.listdir(checkpoints)) == ["2", "2.unreadable", "3", "3.unreadable"]
  moved = [r.getMessage() for r in caplog.records if "moved to" in r.getMessage()]
  assert [m.split(" cannot")[0] for m in moved] == ["checkpoint 3", "checkpoint 2"]
  assert all(len(m.splitlines()) == 1 and str(checkpoints) in m for m in moved)
  _assert_same_run(tmp_path, straight)


def test_flipped_bytes_in_an_array_file_are_detected_and_the_epoch_trained_again(tmp_path, straight, caplog):
  """Orbax restored such a file without complaint: 3,798 wrong weights on this config."""
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))
  data_files = [p for p in (tmp_path / "checkpoints" / "3" / "state").rglob("*") if p.parent.name == "d"]
  biggest = max(data_files, key=lambda p: p.stat().st_size)
  content = bytearray(biggest.read_bytes())
  middle = len(content) // 2
  content[middle:middle + 4000:2] = bytes(b ^ 0xFF for b in content[middle:middle + 4000:2])
  biggest.write_bytes(bytes(content))
  _, _, record = loop.restore(str(tmp_path))  # reading only: falls back, moves nothing
  assert record["epoch"] == 2 and (tmp_path / "checkpoints" / "3").is_dir()
  assert any(r.getMessage().startswith("checkpoint 3 in ") and "ChecksumError: SHA-256 mismatch in " in
             r.getMessage() and "['params']['Dense_0']['kernel']" in r.getMessage() for r in caplog.records)
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "3", "3.checksum-mismatch"]
  _assert_same_run(tmp_path, straight)


def test_corrupt_metadata_and_metrics_files_fall_back_like_corrupt_arrays(tmp_path, straight):
  """A corrupt metrics file (Orbax's CheckpointManager wrote and read one per checkpoint) stopped every resume
  with "Expecting value: line 1 column 1 (char 0)"; the checkpoints now keep none and read none."""
  loop.run(tiny.net(epochs=2), str(tmp_path))
  newest = tmp_path / "checkpoints" / "2"
  (newest / "metrics").mkdir(exist_ok=True)
  _overwrite([newest / "metrics" / "metrics", newest / "record" / "metadata", newest / "_CHECKPOINT_METADATA"],
             b"")
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))  # from epoch 1
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "2.unreadable", "3"]
  _assert_same_run(tmp_path, straight)


def test_full_disk_stops_with_one_line_and_the_run_resumes_identically(tmpfs, straight):
  disk = tmpfs("3m")
  # A checkpoint of this net takes 0.26 MB on disk and is saved only with about 0.5 MB free; beside it the
  # workdir holds about 0.26 MB more (the best epoch's weights as a release candidate, the metrics): 0.9 MB hold
  # checkpoint 1, not 2. (Without that check, checkpoint 3 filled the disk inside Orbax: 100 lines of threads'
  # tracebacks.)
  filler = disk / "filler"
  filler.write_bytes(bytes(os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - 900_000))
  workdir = disk / "run"
  command = [sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
             f"--config.epochs={EPOCHS}", f"--workdir={workdir}"]
  full = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert full.returncode == 1
  [line] = full.stderr.splitlines()
  assert re.fullmatch(
      rf"error: {re.escape(str(workdir))}/checkpoints/2: no space left on device for checkpoint 2 \(it needs "
      r"about [\d.]+ MB, [\d.]+ MB are free\); checkpoints up to epoch 1 are intact: free some space and run "
      r"the same command to resume", line), line
  assert os.listdir(workdir / "checkpoints") == ["1"]  # nothing half-written
  filler.unlink()
  resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  assert "resumed after epoch 1" in resumed.stdout
  _assert_same_run(workdir, straight)
  with open(workdir / "metrics.jsonl") as f:
    assert [json.loads(line)["epoch"] for line in f] == [1, 2, 3]


def _ctrl_c_while_orbax_writes(folder, sent: threading.Event, stop: threading.Event) -> None:
  while not stop.is_set():
    if any(".orbax-checkpoint-tmp" in name for name in os.listdir(folder)):
      os.kill(os.getpid(), signal.SIGINT)
      sent.set()
      return
    time.sleep(0.0002)


def test_ctrl_c_during_a_save_lets_the_checkpoint_finish_then_stops(tmp_path):
  """Ctrl-C inside a save used to cut Orbax's threads short: a temporary folder left, and their tracebacks."""
  state = {"w": np.arange(10_000_000, dtype=np.float32)}  # 40 MB: Orbax writes for a while
  assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # conftest.py: as at a terminal
  # On a busy machine a save may end before the watcher sees its temporary folder: then it saves afresh.
  for attempt in range(5):
    folder = tmp_path / str(attempt)
    folder.mkdir()
    ckpts = checkpoint.Checkpoints(str(folder), keep=2)
    sent, stop = threading.Event(), threading.Event()
    watcher = threading.Thread(target=_ctrl_c_while_orbax_writes, args=(folder, sent, stop), daemon=True)
    watcher.start()
    try:
      ckpts.save(1, state, {"epoch": 1}, validation_errors=[0.5])
      stop.set()
      watcher.join()
    except KeyboardInterrupt:
      break
    finally:
      stop.set()
    assert not sent.is_set()  # a Ctrl-C sent during the save must stop it
    ckpts.close()
  assert sent.is_set()
  assert os.listdir(folder) == ["1"]
  restored, record = ckpts.restore_latest(lambda record: state)
  np.testing.assert_array_equal(restored["w"], state["w"])
  assert record == {"epoch": 1}
  ckpts.close()


def test_execution_fields_may_change_on_resume_and_fewer_epochs_than_trained_are_refused(tmp_path, straight):
  """A run out of memory must resume with a smaller eval_batch; and a 3-epoch workdir resumed with epochs=2 used
  to report 3 epochs while config.json said 2."""
  loop.run(tiny.net(epochs=2), str(tmp_path))
  loop.run(tiny.net(epochs=EPOCHS, eval_batch=300, checkpoint_every=2, keep_checkpoints=1), str(tmp_path))
  _assert_same_run(tmp_path, straight)
  written = {name: (tmp_path / name).read_bytes() for name in ("config.json", "results.json", "metrics.jsonl")}
  with pytest.raises(ValueError) as refused:
    loop.run(tiny.net(epochs=2), str(tmp_path))
  assert str(refused.value) == (f"workdir {tmp_path} holds a run trained for 3 epochs; config.epochs = 2 is fewer: "
                                "ask for 3 or more, or use a new --workdir")
  assert {name: (tmp_path / name).read_bytes() for name in written} == written


def _checkpoint(workdir, epoch):
  """(state arrays, record) of checkpoint `epoch` in `workdir`, read without changing anything."""
  ckpts = checkpoint.Checkpoints(str(workdir / "checkpoints"), read_only=True)
  _, state, _ = loop.restore(str(workdir))
  restored = ckpts.restore_latest(lambda record: train.arrays(state), before=epoch + 1)
  ckpts.close()
  return restored


def test_a_damaged_best_checkpoint_is_rebuilt_when_the_run_resumes(tmp_path, caplog):
  """Only the newest checkpoint used to be read back: a corrupt best one stayed, with no warning, for a user to
  load bad weights from."""
  cfg = tiny.net(epochs=4, keep_checkpoints=1, lr0=0.05, lr_decay=1.0)  # validation error best at epoch 2
  loop.run(cfg, str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "4"]
  best_state, best_record = _checkpoint(tmp_path, 2)
  _overwrite(p for p in (tmp_path / "checkpoints" / "2" / "state").rglob("*") if p.is_file())
  loop.run(cfg, str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["2", "2.unreadable", "4"]
  assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("the best")] == [
      "the best checkpoint kept, of epoch 2, is damaged: training again from epoch 0 to save it anew"]
  rebuilt_state, rebuilt_record = _checkpoint(tmp_path, 2)
  jax.tree.map(np.testing.assert_array_equal, rebuilt_state, best_state)
  without_time = lambda record: {**record, "history": [{k: v for k, v in e.items() if k != "seconds"}
                                                       for e in record["history"]]}
  assert without_time(rebuilt_record) == without_time(best_record)
  with open(tmp_path / "results.json") as f:
    assert json.load(f)["selected"]["best_validation_epoch"] == rebuilt_record["epoch"] == 2


def test_truncated_array_files_give_one_line_per_bad_checkpoint(tmp_path, straight):
  """Each used to come with 18 lines of "RuntimeError: Event loop is closed" tracebacks (reads still in flight
  reporting to Orbax's closed asyncio loop)."""
  loop.run(tiny.net(epochs=EPOCHS), str(tmp_path))
  for path in (tmp_path / "checkpoints").rglob("*"):
    if path.is_file() and path.parent.name == "d":
      os.truncate(path, path.stat().st_size // 2)
  command = [sys.executable, "-m", "experiments.train", "--config=experiments/configs/paper.py:tiny",
             f"--config.epochs={EPOCHS}", f"--workdir={tmp_path}"]
  resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  lines = resumed.stderr.splitlines()
  assert [re.search(r"checkpoint \d|no usable checkpoint", line).group() for line in lines] == [
      "checkpoint 3", "checkpoint 2", "no usable checkpoint"], lines
  _assert_same_run(tmp_path, straight)
