"""Checkpoints of a run: the members' train state (Orbax) and a JSON record, both verified when read back.

A checkpoint is a folder named by its epoch. Saves are synchronous and atomic (Orbax writes a temporary
folder, then renames it), so a run killed at any moment leaves only complete checkpoints; the free space is
checked first, so a full disk stops the run before Orbax writes anything. Each checkpoint holds SHA-256 sums
of its arrays and of its record. Restoring takes the newest checkpoint that reads back and matches its sums;
each newer one is moved aside (renamed `<epoch>.unreadable` or `<epoch>.checksum-mismatch`, never deleted)
with a one-line warning, so that its epoch is trained and saved again. The newest `keep` checkpoints are
kept, plus the best by validation error (of tied epochs the earliest, the one the run's record reports).

This is the one module that knows Orbax.
"""

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading

from absl import logging
import jax
import numpy as np
import orbax.checkpoint as ocp

from deep_simple import files
from deep_simple import hosts

# A checkpoint is saved only with room for its arrays and record + 10 % + this much more: Orbax's metadata and
# the file system's blocks.
_SPACE_MARGIN_BYTES = 1 << 18
_ORBAX_TMP = ".orbax-checkpoint-tmp"
_SET_ASIDE = re.compile(r"(\d+)\.(unreadable|checksum-mismatch)(\.\d+)?")


class ChecksumError(ValueError):
  """A checkpoint's contents differ from the SHA-256 sums saved with them."""


def _record_sum(record: dict) -> str:
  """SHA-256 of the record's JSON."""
  return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def _array_sums(state) -> dict:
  """SHA-256 of every array of `state` with its dtype and shape, by tree path."""
  sums = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
    array = np.ascontiguousarray(leaf)
    digest = hashlib.sha256(f"{array.dtype}{array.shape}".encode())
    digest.update(array.reshape(-1).view(np.uint8))
    sums[jax.tree_util.keystr(path)] = digest.hexdigest()
  return sums


@contextlib.contextmanager
def _ctrl_c_deferred():
  """Ctrl-C (SIGINT) raises KeyboardInterrupt once the block is done, not inside it: Orbax's threads, cut short,
  leave a temporary folder and print tracebacks. Only where Python's own handler is installed."""
  if (threading.current_thread() is not threading.main_thread()
      or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
    yield
    return
  received = []
  signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
  try:
    yield
  finally:
    signal.signal(signal.SIGINT, signal.default_int_handler)
  if received:
    raise KeyboardInterrupt


def _drop_closed_loop_reports() -> None:
  """A restore that fails leaves TensorStore reads in flight; each then reports to the asyncio loop Orbax has
  closed, and Python prints "RuntimeError: Event loop is closed" with its traceback (18 lines per bad
  checkpoint) around the one-line warning, some of them after the restore has returned. From the first restore
  on, those reports, and only they, are dropped for the rest of the process."""
  if getattr(sys.unraisablehook, "drops_closed_loop_reports", False):
    return
  previous = sys.unraisablehook

  def hook(unraisable):
    if not (isinstance(unraisable.exc_value, RuntimeError) and str(unraisable.exc_value) == "Event loop is closed"):
      previous(unraisable)

  hook.drops_closed_loop_reports = True
  sys.unraisablehook = hook


def _out_of_space(error: Exception) -> bool:
  # TensorStore reports a full disk as ValueError("RESOURCE_EXHAUSTED: ... No space left on device ...").
  return getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error)


class Checkpoints:
  """The checkpoints in `directory`. `read_only` ones are never saved, deleted or moved aside."""

  def __init__(self, directory: str, keep: int = 1, read_only: bool = False):
    self.directory = os.path.abspath(directory)
    self._keep = keep
    self._read_only = read_only
    self._checkpointer = ocp.Checkpointer(ocp.CompositeCheckpointHandler())
    self._writes = not read_only and jax.process_index() == 0  # one process changes the folder
    if self._writes:
      os.makedirs(self.directory, exist_ok=True)
      self._remove_temporary()  # left by a save that was killed or ran out of space

  def steps(self) -> list[int]:
    """Epochs of the checkpoints in the folder, oldest first."""
    if not os.path.isdir(self.directory):
      return []
    return sorted(int(name) for name in os.listdir(self.directory) if name.isdigit())

  def _path(self, epoch: int) -> str:
    return os.path.join(self.directory, str(epoch))

  def save(self, epoch: int, state, record: dict, validation_errors) -> None:
    """Saves host (numpy) `state` and `record` as checkpoint `epoch`, then drops those no longer kept.

    `validation_errors[e - 1]` is epoch e's validation error: it picks the best checkpoint kept.
    A full disk is a one-line OSError naming the checkpoint; the earlier checkpoints are intact.
    """
    if os.path.isdir(self._path(epoch)):  # a run rebuilding its best checkpoint trains this epoch again, exactly
      self._drop_old(validation_errors)
      return
    record = json.loads(files.to_json(record))  # valid JSON: a diverged member's NaN loss is saved as null
    saved = {"record": record, "sha256": {"record": _record_sum(record), "state": _array_sums(state)}}
    with _ctrl_c_deferred():
      self._check_space(epoch, state, saved)
      try:
        self._checkpointer.save(self._path(epoch), args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(saved)))
      except Exception as e:  # pylint: disable=broad-except  # only a full disk is translated
        if not _out_of_space(e):
          raise
        if self._writes:
          self._remove_temporary()
        raise self._no_space(epoch, "the disk filled up while saving") from None
      self._drop_old(validation_errors)

  def _check_space(self, epoch: int, state, saved: dict) -> None:
    size = sum(np.asarray(leaf).nbytes for leaf in jax.tree.leaves(state)) + len(json.dumps(saved))
    needed = int(1.1 * size) + _SPACE_MARGIN_BYTES
    free = shutil.disk_usage(self.directory).free
    # Process 0 decides for all: a process that stopped alone would leave the others waiting in Orbax.
    if not hosts.from_process0(free >= needed):
      raise self._no_space(epoch, f"it needs about {needed / 1e6:.2f} MB, {free / 1e6:.2f} MB are free")

  def _no_space(self, epoch: int, detail: str) -> OSError:
    earlier = [step for step in self.steps() if step < epoch]
    intact = f"checkpoints up to epoch {earlier[-1]} are intact" if earlier else "no earlier checkpoint exists"
    return OSError(errno.ENOSPC, f"no space left on device for checkpoint {epoch} ({detail}); {intact}: free "
                   "some space and run the same command to resume", self._path(epoch))

  def _drop_old(self, validation_errors) -> None:
    steps = [step for step in self.steps() if step <= len(validation_errors)]  # newer: a best being rebuilt
    best = min(steps, key=lambda step: (validation_errors[step - 1], step))
    if self._writes:
      for step in set(steps[:-self._keep]) - {best}:
        shutil.rmtree(self._path(step))

  def restore_latest(self, target_for, before: int | None = None):
    """(state, record) of the newest checkpoint (older than epoch `before`, if given) that reads back and matches
    its sums, or None. Each newer one that does not is moved aside.

    `target_for(record)` returns the numpy pytree (structure, shapes, dtypes) to restore the state into. An
    error it raises refuses the checkpoint and propagates: such a checkpoint is not corrupt, it belongs to
    another run. Other processes of a multi-host run meet the same checkpoints and fall back alike; only
    process 0 moves them aside.
    """
    for epoch in reversed([step for step in self.steps() if before is None or step < before]):
      restored = self._read_or_set_aside(epoch, target_for)
      if restored is not None:
        return restored
    return None

  def verify(self, target_for, newest: int) -> None:
    """Reads back every checkpoint but `newest` (read already) and moves aside each that does not match its
    sums, as `restore_latest` does."""
    for epoch in self.steps():
      if epoch != newest:
        self._read_or_set_aside(epoch, target_for)

  def lost_best(self, validation_errors) -> int | None:
    """The epoch of the best checkpoint kept when it was moved aside and not saved again, or None.

    `validation_errors[e - 1]` is epoch e's validation error. The best one saved is never dropped, so the best
    of the checkpoints kept and those moved aside is the one the run must hold.
    """
    aside = {int(m.group(1)) for m in map(_SET_ASIDE.fullmatch, os.listdir(self.directory)) if m}
    saved = [epoch for epoch in aside | set(self.steps()) if epoch <= len(validation_errors)]
    if not saved:
      return None
    best = min(saved, key=lambda epoch: (validation_errors[epoch - 1], epoch))
    return None if best in self.steps() else best

  def _read_or_set_aside(self, epoch: int, target_for):
    """(state, record) of checkpoint `epoch`, or None when it cannot be read or fails its sums (moved aside)."""
    _drop_closed_loop_reports()
    path = self._path(epoch)
    try:
      saved = self._checkpointer.restore(path, args=ocp.args.Composite(record=ocp.args.JsonRestore()))["record"]
      record, sums = saved["record"], saved["sha256"]
      if _record_sum(record) != sums["record"]:
        raise ChecksumError("SHA-256 mismatch in the record")
    except Exception as e:  # pylint: disable=broad-except  # any unreadable checkpoint falls back
      self._set_aside(epoch, e)
      return None
    target = target_for(record)
    try:
      state = self._checkpointer.restore(
          path, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
      mismatched = [name for name, digest in _array_sums(state).items() if sums["state"].get(name) != digest]
      if mismatched:
        raise ChecksumError(f"SHA-256 mismatch in {', '.join(mismatched)}")
    except Exception as e:  # pylint: disable=broad-except
      self._set_aside(epoch, e)
      return None
    return state, record

  def _set_aside(self, epoch: int, error: Exception) -> None:
    detail = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0][:200]}"
    if self._read_only:
      logging.warning("checkpoint %d in %s cannot be used (%s); trying an earlier one", epoch, self.directory,
                      detail)
      return
    reason = "checksum-mismatch" if isinstance(error, ChecksumError) else "unreadable"
    aside, n = f"{self._path(epoch)}.{reason}", 1
    while os.path.exists(aside):
      n += 1
      aside = f"{self._path(epoch)}.{reason}.{n}"
    if self._writes:
      os.rename(self._path(epoch), aside)
    logging.warning("checkpoint %d cannot be used (%s): moved to %s; falling back to an earlier one", epoch,
                    detail, aside)

  def _remove_temporary(self) -> None:
    for name in os.listdir(self.directory):
      if _ORBAX_TMP in name:
        shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)

  def close(self) -> None:
    self._checkpointer.close()
