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
import numpy as np

from deep_simple import checkpoint
from deep_simple import committee
from deep_simple import data
from deep_simple import report
from deep_simple import train
from deep_simple import width


def validate(cfg) -> None:
  """Rejects a bad config in one line before anything is loaded or written."""
  choices = [("loss", cfg.loss, train.LOSSES), ("input_range", cfg.input_range, train.INPUT_RANGES),
             ("lr_scaling", cfg.lr_scaling, train.LR_SCALINGS), ("protocol", cfg.protocol, data.PROTOCOLS),
             ("committee.rule", cfg.committee.rule, committee.RULES)]
  for field, value, allowed in choices:
    if value not in allowed:
      raise ValueError(f"config.{field} must be one of {', '.join(allowed)}; got {value!r}")
  positive = ("batch_size", "epochs", "lr0", "lr_decay", "checkpoint_every", "keep_checkpoints",
              "block_images", "eval_batch")
  for field in positive:
    if not cfg[field] > 0:
      raise ValueError(f"config.{field} must be positive; got {cfg[field]!r}")
  if cfg.committee.size < 1:
    raise ValueError(f"config.committee.size must be at least 1; got {cfg.committee.size}")
  for field in ("widths", "lr0", "lr_decay"):
    values = tuple(cfg.committee[field])
    if values and len(values) != cfg.committee.size:
      raise ValueError(f"config.committee.{field} has {len(values)} values for {cfg.committee.size} members")
  if not (cfg.lr_decay <= 1 and 0 <= cfg.lr_min and 0 <= cfg.ema_decay < 1):
    raise ValueError("config needs lr_decay <= 1, lr_min >= 0 and 0 <= ema_decay < 1; got "
                     f"{cfg.lr_decay}, {cfg.lr_min}, {cfg.ema_decay}")
  if cfg.train_limit < 0 or cfg.eval_limit < 0:
    raise ValueError("config.train_limit and config.eval_limit must be >= 0 (0 means all digits)")


def load_data(cfg, lay: committee.Layout):
  """{split: (images, labels_N)}; images are uint8 NxHxW, or MxNxHxW when members see different widths."""
  splits = data.load_splits(cfg.dataset, cfg.protocol, data_dir=cfg.data_dir or None,
                            mirror=cfg.mirror or None)
  widths = tuple(cfg.committee.widths)
  out = {}
  for name, (images, labels) in splits.items():
    limit = cfg.train_limit if name == "train" else cfg.eval_limit
    images, labels = (images[:limit], labels[:limit]) if limit else (images, labels)
    if widths:
      per_member = [width.normalize_width(images, w) for w in widths]
      images = np.stack([per_member[m % len(widths)] for m in range(lay.padded)])
    if cfg.pad_to_29:
      images = data.pad_to_29(images.reshape(-1, *images.shape[-2:])).reshape(*images.shape[:-2], 29, 29)
    out[name] = (images, np.asarray(labels, np.int32))
  return out


def _check_config(cfg, workdir: str) -> None:
  """A workdir belongs to one run: only `epochs` may change when resuming it."""
  path = os.path.join(workdir, "config.json")
  current = json.loads(cfg.to_json())
  if os.path.exists(path):
    with open(path) as f:
      saved = json.load(f)
    changed = sorted(k for k in set(saved) | set(current)
                     if k != "epochs" and saved.get(k) != current.get(k))
    if changed:
      raise ValueError(f"workdir {workdir} holds a run with a different config (fields: {', '.join(changed)}); "
                       "use a new --workdir")
  if jax.process_index() == 0:  # new, or with the epochs of this (possibly extended) run
    os.makedirs(workdir, exist_ok=True)
    # Written aside, then renamed: another process checking at the same moment never reads half a file.
    with open(path + ".tmp", "w") as f:
      json.dump(current, f, indent=2)
    os.replace(path + ".tmp", path)


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
        f"learning rate {lrs[member][step]:.3g}")


def run(cfg, workdir: str, on_epoch=None) -> dict:
  """Trains and evaluates; returns the results dict also written to `workdir/results.json`.

  `on_epoch(entry, cfg)` is called after every epoch with that epoch's history entry (for progress output).
  """
  validate(cfg)
  lay = committee.layout(cfg.committee.size)
  _check_config(cfg, workdir)
  splits = load_data(cfg, lay)
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
  restored = ckpts.restore_latest(committee.real_members(fresh_host, lay))
  if restored is None:
    state, record = fresh, {"epoch": 0, "history": [], "best": None}
  else:
    host_state, record = restored
    state = committee.pad_members(host_state, fresh_host, lay)
    logging.info("resumed %s at epoch %d", workdir, record["epoch"])
  del fresh, fresh_host
  writer = report.MetricsWriter(workdir, record["history"]) if jax.process_index() == 0 else None
  labels_replicated = committee.place(train_labels, lay.replicated)
  members = committee.member_ids(lay)

  for epoch in range(record["epoch"], cfg.epochs):
    start = time.perf_counter()
    state, metrics = epoch_fn(state, train_images, labels_replicated, members, epoch)
    metrics = committee.real_members(committee.to_host(metrics), lay)
    _first_nonfinite(metrics["loss"], epoch + 1, metrics["lr"])
    entry = {"epoch": epoch + 1, "lr": metrics["lr"][:, 0].tolist(),
             "train_loss": metrics["loss"].mean(-1).tolist(),
             "train_error": metrics["error"].mean(-1).tolist()}
    evaluated, test_scores = _evaluate(state["params"], predict, eval_splits, lay, cfg.committee.rule)
    entry.update(evaluated)
    if "ema" in state:
      ema, _ = _evaluate(state["ema"], predict, eval_splits, lay, cfg.committee.rule)
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
      ckpts.save(record["epoch"], host_state, record, entry["validation_selected_error"])
    if on_epoch:
      on_epoch(entry, cfg)
  ckpts.close()

  results = report.summarise(cfg, record, workdir)
  if jax.process_index() == 0:
    report.write_outputs(cfg, record, results, splits["test"], workdir)
    writer.close()
  return results
