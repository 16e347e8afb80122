"""Orbax checkpoints of a run: the members' train state plus a JSON record (epoch, history, best so far).

Saves are synchronous and atomic (Orbax writes to a temporary folder, then renames), so a run killed at any
moment leaves only complete checkpoints. The newest `keep` checkpoints are kept, plus the best by
validation error (of tied epochs the earliest, the one the run's record reports). A newest checkpoint that
cannot be read is skipped with a warning in favour of the next.
"""

import errno
import os

from absl import logging
import orbax.checkpoint as ocp

_policy = ocp.checkpoint_managers.preservation_policy


def _validation_error(metrics: dict) -> float:
  return metrics["val_error"]


def _rank(metrics: dict) -> tuple:
  """Best is lowest validation error, and on ties the earliest epoch: the epoch the run's record reports."""
  return metrics["val_error"], metrics["epoch"]


class Checkpoints:

  def __init__(self, directory: str, keep: int):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(
        enable_async_checkpointing=False,
        # best_fn makes Orbax read the metrics of earlier runs' checkpoints back, so the best one survives
        # a resume; the preservation policy below decides what is kept.
        best_fn=_validation_error,
        best_mode="min",
        preservation_policy=_policy.AnyPreservationPolicy([
            _policy.LatestN(n=keep),
            _policy.BestN(get_metric_fn=_rank, reverse=True, n=1,
                          keep_checkpoints_without_metrics=False),
        ]),
    )
    self._manager = ocp.CheckpointManager(self.directory, options=options)

  def save(self, epoch: int, state, record: dict, val_error: float) -> None:
    """Saves host (numpy) `state` and `record` as checkpoint `epoch`; a full disk is a one-line error."""
    try:
      self._manager.save(
          epoch,
          args=ocp.args.Composite(state=ocp.args.StandardSave(state), record=ocp.args.JsonSave(record)),
          metrics={"val_error": float(val_error), "epoch": epoch},
      )
      self._manager.wait_until_finished()
    except OSError as e:
      if e.errno == errno.ENOSPC:
        raise OSError(e.errno, f"no space left to save checkpoint {epoch} in {self.directory}; "
                      "the earlier checkpoints are intact") from None
      raise

  def restore_latest(self, target_state):
    """(state, record) of the newest readable checkpoint, or None when there is none.

    `target_state` is a numpy pytree with the expected structure, shapes and dtypes.
    """
    self._manager.reload()
    for epoch in sorted(self._manager.all_steps(), reverse=True):
      try:
        restored = self._manager.restore(
            epoch,
            args=ocp.args.Composite(state=ocp.args.StandardRestore(target_state),
                                    record=ocp.args.JsonRestore()))
        return restored["state"], restored["record"]
      except Exception as e:  # pylint: disable=broad-except  # any unreadable checkpoint falls back
        logging.warning("checkpoint %d in %s is unreadable (%s: %s); falling back to an earlier one",
                        epoch, self.directory, type(e).__name__, str(e).splitlines()[0][:200])
    return None

  def close(self) -> None:
    self._manager.close()
