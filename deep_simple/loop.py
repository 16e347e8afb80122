"""The training loop: the one place with side effects (checkpoints, metrics files, figures).

`run(cfg, workdir)` trains `cfg.committee.size` members side by side (one member is a single net; a member run,
`cfg.committee.member`, trains one member of the committee), evaluates
every epoch on the validation and test splits, checkpoints, and resumes a workdir that already holds a run.
What is trained and measured is a `Task`: CLASSIFY (the default, deep_simple/classification.py) trains the model
on the labels; the unsupervised pre-training stages (deep_simple/pretrain/unsupervised.py) are another task.
Resumed runs are bit-identical to uninterrupted ones: every random draw comes from
`fold_in(seed, member, ..., epoch)` and the checkpoint holds the complete train state. A workdir holds one run,
trained by one process at a time (deep_simple/workdir.py): `run` checks the config and loads the data before it
writes anything, then locks the workdir.
"""

from collections.abc import Callable
import dataclasses
import json
import os
import time

from absl import logging
import jax
import numpy as np

from deep_simple import checkpoint
from deep_simple import classification
from deep_simple import committee
from deep_simple import config
from deep_simple import data
from deep_simple import hosts
from deep_simple import preemption
from deep_simple import report
from deep_simple import train
from deep_simple import width
from deep_simple import workdir as workdir_lib


def load_data(cfg, lay: committee.Layout):
  """{split: (images, labels_N)}; images are uint8 NxHxW(xC), or MxNxHxW when members see different widths."""
  splits = data.load_splits(cfg.dataset, cfg.protocol, data_dir=cfg.data_dir or None, mirror=cfg.mirror or None,
                            train_limit=cfg.train_limit, eval_limit=cfg.eval_limit,
                            validation_limit=cfg.validation_limit, image_size=cfg.image_size)
  slot_widths = committee.member_values(cfg, "widths", 0, lay.padded, lay.first) if cfg.committee.widths else []
  out = {}
  for name, (images, labels) in splits.items():
    if slot_widths:
      by_width = {w: width.normalize_width(images, w) for w in set(slot_widths)}
      images = np.stack([by_width[w] for w in slot_widths])
    if cfg.pad_to_29:
      images = data.pad_to_29(images.reshape(-1, *images.shape[-2:])).reshape(*images.shape[:-2], 29, 29)
    out[name] = (images, np.asarray(labels, np.int32))
  return out


@dataclasses.dataclass(frozen=True)
class Task:
  """What `run` trains, how it measures an epoch and what it reports at the end."""

  # One member's fresh state, with train.create_state's signature.
  create: Callable
  # (cfg, layout, eval_splits, workdir) -> evaluate(state, entry, record), which adds the epoch's measurements
  # to `entry` (and may update `record`).
  make_evaluate: Callable
  # entry -> the epoch's validation error, which picks the checkpoint kept as best.
  validation_error: Callable
  # (cfg, record, workdir, splits) -> results; process 0 writes them (results.json, figures).
  summarise: Callable
  # cfg -> step(state, batch) -> (state, metrics with "loss" and "lr"); None: train.make_train_step.
  make_step: Callable | None = None


# The default: the model trained on the labels, measured by its errors (deep_simple/classification.py).
CLASSIFY = Task(create=train.create_state, make_evaluate=classification.make_evaluate,
                validation_error=classification.validation_error, summarise=classification.summarise)


def restore(workdir: str, create=train.create_state):
  """(config, state, record) of the run in `workdir` from its newest readable checkpoint, or None.

  The state holds the real members stacked on a leading axis, as numpy arrays (a single net: one member);
  `create` is the run's state constructor (its Task's). The config is the one recorded in the checkpoint.
  Reading changes nothing in the workdir.
  """
  found = {}

  def template(record):
    found["cfg"] = cfg = config.from_fields(record["config"])
    found["state"] = committee.host_template(cfg, committee.run_layout(cfg), create)
    return train.arrays(found["state"])

  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), read_only=True)
  try:
    restored = ckpts.restore_latest(template)
  finally:
    ckpts.close()
  if restored is None:
    return None
  arrays, record = restored
  return found["cfg"], train.with_arrays(found["state"], arrays), record


def check_finite(loss_MxS, mean_loss_M, epoch, lrs):
  """FloatingPointError naming the first non-finite loss of an epoch, its step, member and rate; or the member
  whose mean loss over the epoch is not finite (finite steps whose mean overflows)."""
  bad = np.argwhere(~np.isfinite(loss_MxS))
  if bad.size:
    member, step = bad[0]
    raise FloatingPointError(
        f"non-finite loss at epoch {epoch}, step {step + 1} (member {member}), "
        f"learning rate {lrs[member][step]:.3g} per example")
  overflowing = np.flatnonzero(~np.isfinite(mean_loss_M))
  if overflowing.size:
    member = overflowing[0]
    raise FloatingPointError(
        f"non-finite loss at epoch {epoch}, the mean of its {loss_MxS.shape[1]} steps (member {member}), "
        f"learning rate {lrs[member][0]:.3g} per example")


def _epoch_means(metrics: dict) -> dict:
  """Each metric's mean over the epoch's steps, per member, as the metric's dtype holds it (inf if it overflows:
  check_finite says so in one line, not numpy's warning)."""
  with np.errstate(over="ignore"):
    return {name: value.mean(-1) for name, value in metrics.items() if name != "lr"}


def _lost_best(ckpts: checkpoint.Checkpoints, target, record: dict, task: Task) -> int | None:
  """Verifies every kept checkpoint but the newest (`record`'s, read already); the epoch of the best one when it
  is damaged (moved aside), else None."""
  ckpts.verify(target, newest=record["epoch"])
  return ckpts.lost_best([task.validation_error(e) for e in record["history"]])


def _restore(ckpts: checkpoint.Checkpoints, target, fields: dict, workdir: str, task: Task):
  """(arrays, record) to resume from, or None to start afresh: the newest good checkpoint or, when the best one
  kept is damaged, the newest good one before it (the run then trains again to save the best anew)."""
  restored = ckpts.restore_latest(target)
  if restored is None:
    _check_earlier_files(fields, workdir)
    return None
  lost = _lost_best(ckpts, target, restored[1], task)
  if lost is None:
    return restored
  restored = ckpts.restore_latest(target, before=lost)
  logging.warning("the best checkpoint kept, of epoch %d, is damaged: training again from epoch %d to save it anew",
                  lost, restored[1]["epoch"] if restored else 0)
  return restored


def _check_earlier_files(fields: dict, workdir: str) -> None:
  """Without a usable checkpoint: refuses a config other than that of the run whose files the workdir holds, and
  says that the run starts from scratch."""
  earlier = workdir_lib.earlier_fields(workdir)
  if earlier is not None:
    workdir_lib.check_same_run(fields, earlier, workdir, saved_only=True)
    logging.warning("no usable checkpoint in %s: the run starts from scratch", os.path.join(workdir, "checkpoints"))


def _preempted_line(ckpts: checkpoint.Checkpoints, epoch: int) -> str:
  saved = f"epoch {epoch} is saved in {ckpts.directory}/{epoch}" if epoch else "no epoch was finished"
  return f"preempted by SIGTERM: {saved}; run the same command to resume"


def _target_refusing_other_runs(fields: dict, workdir: str, arrays):
  """Checkpoints.restore_latest's target: `arrays`, once the checkpoint's record shows a run of config fields
  `fields` trained for at most their epochs (a checkpoint of another run is refused before its arrays are read)."""
  def target(record):
    workdir_lib.check_same_run(fields, record["config"], workdir)
    workdir_lib.check_epochs(fields["epochs"], record["epoch"], workdir)
    return arrays
  return target


def run(cfg, workdir: str, on_epoch=None, init_params=None, task: Task = CLASSIFY) -> dict:
  """Trains and evaluates; returns the results dict also written to `workdir/results.json`.

  `on_epoch(entry, cfg)` is called after every epoch with that epoch's history entry (for progress output).
  `init_params`: host parameters stacked by member that a new run starts from instead of fresh ones, under
  the top-level names they hold (`committee.start_from`), e.g. what an earlier training stage left.
  """
  # Whatever can fail on bad input fails here, before the workdir is touched.
  config.validate(cfg)
  lay = committee.run_layout(cfg)
  splits = load_data(cfg, lay)
  if len(splits["train"][1]) < cfg.batch_size:
    raise ValueError(f"config.batch_size {cfg.batch_size} exceeds the {len(splits['train'][1])} training digits")
  with workdir_lib.lock(workdir):
    return _train(cfg, workdir, lay, splits, on_epoch, init_params, task)


def _train(cfg, workdir: str, lay: committee.Layout, splits: dict, on_epoch, init_params, task: Task) -> dict:
  """`run` in the locked workdir."""
  train_images, train_labels = splits["train"]
  per_member = bool(cfg.committee.widths)  # members see their own widths
  steps_per_epoch = len(train_labels) // cfg.batch_size

  images_sharding = lay.by_member if per_member else lay.replicated
  train_images = hosts.place(train_images, images_sharding)
  eval_splits = {name: (hosts.place(splits[name][0], images_sharding), splits[name][1])
                 for name in ("validation", "test")}
  epoch_fn = committee.epoch_fn(cfg, lay, per_member, task.make_step and task.make_step(cfg))
  evaluate = task.make_evaluate(cfg, lay, eval_splits, workdir)
  fresh = committee.init_members(cfg, lay, steps_per_epoch, task.create)
  if init_params is not None:
    fresh = committee.start_from(fresh, init_params, lay)

  fields = json.loads(cfg.to_json())
  fresh_host = hosts.to_host(fresh)
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  target = _target_refusing_other_runs(fields, workdir, train.arrays(committee.real_members(fresh_host, lay)))
  restored = _restore(ckpts, target, fields, workdir, task)
  if restored is None:
    state, record = fresh, {"epoch": 0, "history": [], "best": None}
  else:
    arrays, record = restored
    state = committee.pad_members(arrays, fresh_host, lay)
    logging.info("resumed %s at epoch %d", workdir, record["epoch"])
  del fresh, fresh_host
  record["config"] = fields  # what the checkpoints are a run of (with the epochs of this run)
  workdir_lib.write_config(cfg, workdir)
  writer = report.MetricsWriter(workdir, record["history"]) if jax.process_index() == 0 else None
  labels_replicated = hosts.place(train_labels, lay.replicated)
  members = committee.member_ids(lay)

  def save():
    host_state = committee.real_members(hosts.to_host(state), lay)
    ckpts.save(record["epoch"], train.arrays(host_state), record,
               [task.validation_error(e) for e in record["history"]])
    return record["epoch"]

  saved = record["epoch"]
  with preemption.sigterm_requests_stop() as stop:
    for epoch in range(record["epoch"], cfg.epochs):
      # The safe point: the last finished epoch, saved if it was not yet (a SIGTERM during a save waits for it).
      if hosts.from_process0(stop.requested):
        if saved < record["epoch"]:
          saved = save()
        raise preemption.Preempted(_preempted_line(ckpts, saved))
      start = time.perf_counter()
      state, metrics = epoch_fn(state, train_images, labels_replicated, members, epoch)
      metrics = committee.real_members(hosts.to_host(metrics), lay)
      means = _epoch_means(metrics)
      if cfg.stop_on_nonfinite:
        check_finite(metrics["loss"], means["loss"], epoch + 1, metrics["lr"])
      entry = {"epoch": epoch + 1, "lr": metrics["lr"][:, 0].tolist(),
               **{f"train_{name}": mean.tolist() for name, mean in means.items()}}
      evaluate(state, entry, record)
      entry["seconds"] = time.perf_counter() - start
      record["history"].append(entry)
      record["epoch"] = epoch + 1
      if writer:
        writer.write(entry)
      if record["epoch"] % cfg.checkpoint_every == 0 or record["epoch"] == cfg.epochs:
        saved = save()
      if on_epoch:
        on_epoch(entry, cfg)
  if _lost_best(ckpts, target, record, task):  # damaged on disk while the run went on
    ckpts.close()
    if writer:
      writer.close()
    return _train(cfg, workdir, lay, splits, on_epoch, init_params, task)
  ckpts.close()

  if not record["history"]:
    raise ValueError(f"{workdir} holds no trained epoch (config.epochs = {cfg.epochs})")
  results = task.summarise(cfg, record, workdir, splits)
  if writer:
    writer.close()
  return results
