"""The loop of an unsupervised greedy stage: one RBM or denoising autoencoder layer for every member.

`run(cfg, workdir, init_params)` trains the top layer of config.model.hidden of `cfg.committee.size` members
side by side (the committee's vmapped epoch and device mesh, the digits freshly distorted every epoch when
config.augment is set), measures the validation digits' reconstruction error every epoch, checkpoints, and
resumes a workdir that already holds the stage, bit-identical to an uninterrupted run. Its workdir holds
config.json, checkpoints/, metrics.jsonl, tensorboard/ and results.json, like a supervised run's.
"""

import datetime
import json
import os
import time

import jax
import numpy as np

from deep_simple import checkpoint
from deep_simple import committee
from deep_simple import loop
from deep_simple import report
from deep_simple import train
from deep_simple.pretrain import autoencoder
from deep_simple.pretrain import method
from deep_simple.pretrain import rbm
from deep_simple.pretrain import stack

KINDS = {"rbm_pretraining": rbm, "autoencoder_pretraining": autoencoder}


def _kind(cfg):
  if cfg.pretrain.method not in KINDS:
    raise ValueError(f"unsupervised stages belong to {', '.join(KINDS)}; got {cfg.pretrain.method!r}")
  return KINDS[cfg.pretrain.method]


def _step(cfg):
  kind = _kind(cfg)
  return rbm.make_cd1_step(cfg) if kind is rbm else autoencoder.make_dae_step(cfg)


def _error_fn(cfg, lay: committee.Layout):
  """Jitted reconstruction error of every member on the same digits, in chunks of config.eval_batch: errors_MxN."""
  error = _kind(cfg).make_reconstruction_error(cfg)
  chunk = cfg.eval_batch

  def errors(params, images_NxSxS):
    n = images_NxSxS.shape[0]
    size = min(chunk, n)
    padded = jax.numpy.pad(images_NxSxS, ((0, -n % size), (0, 0), (0, 0)))
    return jax.lax.map(lambda x: error(params, x), padded.reshape(-1, size, *padded.shape[1:])).reshape(-1)[:n]

  return jax.jit(jax.vmap(errors, in_axes=(0, None)), in_shardings=(lay.by_member, lay.replicated),
                 out_shardings=lay.by_member)


def _template(cfg, lay, steps_per_epoch: int):
  return committee.init_members(cfg, lay, steps_per_epoch, create=_kind(cfg).create_state)


def restore(workdir: str):
  """(config, state, record) of the stage in `workdir` from its newest readable checkpoint, or None; the state
  holds the real members stacked on a leading axis, as numpy arrays."""
  cfg = loop.load_config(workdir)
  lay = committee.layout(cfg.committee.size)
  template = committee.host_template(cfg, lay, create=_kind(cfg).create_state)
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  try:
    restored = ckpts.restore_latest(train.arrays(template))
  finally:
    ckpts.close()
  if restored is None:
    return None
  arrays, record = restored
  return cfg, train.with_arrays(template, arrays), record


def mlp_layers(cfg, params) -> dict:
  """The MLP's Dense layers of a trained stage (host params stacked by member): the frozen ones below, and the
  trained layer turned into the MLP's scaled-tanh form (`stack.to_dense`)."""
  layer = len(cfg.model.hidden)
  trained = params["layer"]
  dense = stack.to_dense(trained["w"], trained["hidden_bias"], stack.visible_map(cfg, layer))
  return {**params["lower"], f"Dense_{layer - 1}": dense}


def run(cfg, workdir: str, init_params=None, on_epoch=None) -> dict:
  """Trains the stage for config.epochs; returns the results dict also written to `workdir/results.json`.

  `init_params`: {"lower": the MLP's Dense layers below the trained one, stacked by member} (none for the
  first layer). `on_epoch(entry, cfg)` is called after every epoch with that epoch's history entry.
  """
  method.validate(cfg)
  lay = committee.layout(cfg.committee.size)
  splits = loop.load_data(cfg, lay)
  loop.check_workdir(cfg, workdir)
  train_images, train_labels = splits["train"]
  steps_per_epoch = len(train_labels) // cfg.batch_size
  if steps_per_epoch == 0:
    raise ValueError(f"config.batch_size {cfg.batch_size} exceeds the {len(train_labels)} training digits")

  train_images = committee.place(train_images, lay.replicated)
  validation_images = committee.place(splits["validation"][0], lay.replicated)
  epoch_fn = committee.epoch_fn(cfg, lay, False, step=_step(cfg))
  errors = _error_fn(cfg, lay)
  fresh = _template(cfg, lay, steps_per_epoch)
  if init_params is not None:
    fresh = committee.start_from(fresh, init_params, lay)

  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  fresh_host = committee.to_host(fresh)
  restored = ckpts.restore_latest(train.arrays(committee.real_members(fresh_host, lay)))
  if restored is None:
    state, record = fresh, {"epoch": 0, "history": []}
  else:
    arrays, record = restored
    state = committee.pad_members(arrays, fresh_host, lay)
  del fresh, fresh_host
  writer = report.MetricsWriter(workdir, record["history"]) if jax.process_index() == 0 else None
  labels = committee.place(train_labels, lay.replicated)
  members = committee.member_ids(lay)

  for epoch in range(record["epoch"], cfg.epochs):
    start = time.perf_counter()
    state, metrics = epoch_fn(state, train_images, labels, members, epoch)
    metrics = committee.real_members(committee.to_host(metrics), lay)
    loop.check_finite(metrics["loss"], epoch + 1, metrics["lr"])
    validation = committee.real_members(committee.to_host(errors(state.params, validation_images)), lay)
    entry = {"epoch": epoch + 1, "lr": metrics["lr"][:, 0].tolist(),
             "train_loss": metrics["loss"].mean(-1).tolist(),
             "train_reconstruction_error": metrics["reconstruction_error"].mean(-1).tolist(),
             "validation_reconstruction_error": validation.mean(-1).tolist(),
             "seconds": time.perf_counter() - start}
    record["history"].append(entry)
    record["epoch"] = epoch + 1
    if writer:
      writer.write(entry)
    if record["epoch"] % cfg.checkpoint_every == 0 or record["epoch"] == cfg.epochs:
      host_state = committee.real_members(committee.to_host(state), lay)
      ckpts.save(record["epoch"], train.arrays(host_state), record,
                 float(np.mean(entry["validation_reconstruction_error"])))
    if on_epoch:
      on_epoch(entry, cfg)
  ckpts.close()

  history = record["history"]
  if not history:
    raise ValueError(f"{workdir} holds no trained epoch (config.epochs = {cfg.epochs})")
  results = {
      "name": cfg.name, "method": cfg.pretrain.method, "layer": len(cfg.model.hidden),
      "visible_units": stack.sizes(cfg)[0], "hidden_units": stack.sizes(cfg)[1],
      "members": cfg.committee.size, "epochs": record["epoch"], "batch_size": cfg.batch_size,
      "train_digits": len(train_labels), "validation_digits": len(splits["validation"][1]),
      "wall_seconds": float(sum(e["seconds"] for e in history)),
      "validation_reconstruction_error": history[-1]["validation_reconstruction_error"],
      "device": jax.devices()[0].device_kind, "device_count": jax.device_count(),
      "date": datetime.date.today().isoformat(),
  }
  if jax.process_index() == 0:
    with open(os.path.join(workdir, "results.json"), "w") as f:
      json.dump(results, f, indent=2)
    writer.close()
  return results
