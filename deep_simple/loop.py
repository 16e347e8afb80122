"""The training loop: the one place with side effects (checkpoints, metrics files, figures).

`run(cfg, workdir)` trains `cfg.committee.size` members side by side (one member is a single net), evaluates
every epoch on the validation and test splits, checkpoints, and resumes a workdir that already holds a run.
Resumed runs are bit-identical to uninterrupted ones: every random draw comes from
`fold_in(seed, member, ..., epoch)` and the checkpoint holds the complete train state.
"""

import json
import os
import time

from absl import logging
import jax
import ml_collections
import numpy as np

from deep_simple import checkpoint
from deep_simple import committee
from deep_simple import config
from deep_simple import data
from deep_simple import report
from deep_simple import train
from deep_simple import width


def load_data(cfg, lay: committee.Layout):
  """{split: (images, labels_N)}; images are uint8 NxSxS, or MxNxSxS when members see different widths."""
  splits = data.load_splits(cfg.dataset, cfg.protocol, data_dir=cfg.data_dir or None, mirror=cfg.mirror or None,
                            train_limit=cfg.train_limit, eval_limit=cfg.eval_limit)
  widths = tuple(cfg.committee.widths)
  out = {}
  for name, (images, labels) in splits.items():
    if widths:
      per_member = [width.normalize_width(images, w) for w in widths]
      images = np.stack([per_member[m % len(widths)] for m in range(lay.padded)])
    if cfg.pad_to_29:
      images = data.pad_to_29(images.reshape(-1, *images.shape[-2:])).reshape(*images.shape[:-2], 29, 29)
    out[name] = (images, np.asarray(labels, np.int32))
  return out


def _identity(fields: dict) -> dict:
  """What a run folder is a run of: the config's fields without `epochs` (a run may be extended) and those
  that only say where the data is read from."""
  return {k: v for k, v in fields.items() if k not in ("epochs", *config.LOCATION_FIELDS)}


def _check_config(cfg, workdir: str) -> None:
  """A workdir belongs to one run: refuses another config; writes config.json (new, or extended run)."""
  path = os.path.join(workdir, "config.json")
  current = _identity(json.loads(cfg.to_json()))
  if os.path.exists(path):
    with open(path) as f:
      saved = _identity(json.load(f))
    changed = sorted(k for k in set(saved) | set(current) if saved.get(k) != current.get(k))
    if changed:
      raise ValueError(f"workdir {workdir} holds a run with a different config (fields: {', '.join(changed)}); "
                       "use a new --workdir")
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    # Written aside, then renamed: another process checking at the same moment never reads half a file.
    with open(path + ".tmp", "w") as f:
      f.write(cfg.to_json(indent=2))
    os.replace(path + ".tmp", path)


def load_config(workdir: str) -> ml_collections.ConfigDict:
  """The config of the run in `workdir`, from its config.json."""
  with open(os.path.join(workdir, "config.json")) as f:
    return ml_collections.ConfigDict(json.load(f))


def restore(workdir: str):
  """(config, state, record) of the run in `workdir` from its newest readable checkpoint, or None.

  The state holds the real members stacked on a leading axis, as numpy arrays (a single net: one member).
  """
  cfg = load_config(workdir)
  lay = committee.layout(cfg.committee.size)
  template = committee.real_members(committee.to_host(committee.init_members(cfg, lay, 1)), lay)
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  try:
    restored = ckpts.restore_latest(train.arrays(template))
  finally:
    ckpts.close()
  if restored is None:
    return None
  arrays, record = restored
  return cfg, train.with_arrays(template, arrays), record


def _error_rates(probs_MxNxK, labels_N):
  return (probs_MxNxK.argmax(-1) != labels_N).mean(axis=-1)


def _evaluate(params_M, predict, splits, lay, rule):
  """Per-member and committee error rates, and the test scores used for the best-epoch record."""
  entry, scores = {}, None
  for name in ("validation", "test"):
    images, labels = splits[name]
    probs_MxNxK = committee.real_members(committee.to_host(predict(params_M, images)), lay)
    entry[f"{name}_error"] = _error_rates(probs_MxNxK, labels).tolist()
    scores_NxK = committee.committee_scores(probs_MxNxK, rule) if lay.members > 1 else probs_MxNxK[0]
    entry[f"{name}_selected_error"] = float((scores_NxK.argmax(-1) != labels).mean())
    scores = scores_NxK
  return entry, scores


def _first_nonfinite(loss_MxS, epoch, lrs):
  bad = np.argwhere(~np.isfinite(loss_MxS))
  if bad.size:
    member, step = bad[0]
    raise FloatingPointError(
        f"non-finite loss at epoch {epoch}, step {step + 1} (member {member}), "
        f"learning rate {lrs[member][step]:.3g} per example")


def run(cfg, workdir: str, on_epoch=None) -> dict:
  """Trains and evaluates; returns the results dict also written to `workdir/results.json`.

  `on_epoch(entry, cfg)` is called after every epoch with that epoch's history entry (for progress output).
  """
  config.validate(cfg)
  lay = committee.layout(cfg.committee.size)
  splits = load_data(cfg, lay)
  _check_config(cfg, workdir)
  train_images, train_labels = splits["train"]
  per_member = train_images.ndim == 4
  steps_per_epoch = len(train_labels) // cfg.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"config.batch_size {cfg.batch_size} exceeds the {len(train_labels)} training digits")

  images_sharding = lay.by_member if per_member else lay.replicated
  train_images = committee.place(train_images, images_sharding)
  eval_splits = {name: (committee.place(splits[name][0], images_sharding), splits[name][1])
                 for name in ("validation", "test")}
  epoch_fn = committee.epoch_fn(cfg, lay, per_member)
  predict = committee.predict_fn(cfg, lay, per_member)
  fresh = committee.init_members(cfg, lay, steps_per_epoch)

  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  fresh_host = committee.to_host(fresh)
  restored = ckpts.restore_latest(train.arrays(committee.real_members(fresh_host, lay)))
  if restored is None:
    state, record = fresh, {"epoch": 0, "history": [], "best": None}
  else:
    arrays, record = restored
    state = committee.pad_members(arrays, fresh_host, lay)
    logging.info("resumed %s at epoch %d", workdir, record["epoch"])
  del fresh, fresh_host
  writer = report.MetricsWriter(workdir, record["history"]) if jax.process_index() == 0 else None
  labels_replicated = committee.place(train_labels, lay.replicated)
  members = committee.member_ids(lay)

  for epoch in range(record["epoch"], cfg.epochs):
    start = time.perf_counter()
    state, metrics = epoch_fn(state, train_images, labels_replicated, members, epoch)
    metrics = committee.real_members(committee.to_host(metrics), lay)
    if cfg.stop_on_nonfinite:
      _first_nonfinite(metrics["loss"], epoch + 1, metrics["lr"])
    entry = {"epoch": epoch + 1, "lr": metrics["lr"][:, 0].tolist(),
             "train_loss": metrics["loss"].mean(-1).tolist(),
             "train_error": metrics["error"].mean(-1).tolist()}
    evaluated, test_scores = _evaluate(state.params, predict, eval_splits, lay, cfg.committee.rule)
    entry.update(evaluated)
    if state.ema is not None:
      ema, _ = _evaluate(state.ema, predict, eval_splits, lay, cfg.committee.rule)
      entry.update({f"ema_{k}": v for k, v in ema.items()})
    entry["seconds"] = time.perf_counter() - start
    record["history"].append(entry)
    record["epoch"] = epoch + 1
    if record["best"] is None or entry["validation_selected_error"] < record["best"]["validation_error"]:
      record["best"] = report.best_record(entry, test_scores, eval_splits["test"][1])
    if writer:
      writer.write(entry)
    if record["epoch"] % cfg.checkpoint_every == 0 or record["epoch"] == cfg.epochs:
      host_state = committee.real_members(committee.to_host(state), lay)
      ckpts.save(record["epoch"], train.arrays(host_state), record, entry["validation_selected_error"])
    if on_epoch:
      on_epoch(entry, cfg)
  ckpts.close()

  results = report.summarise(cfg, record, workdir, {name: len(labels) for name, (_, labels) in splits.items()})
  if jax.process_index() == 0:
    report.write_outputs(cfg, record, results, splits["test"], workdir)
    writer.close()
  return results
