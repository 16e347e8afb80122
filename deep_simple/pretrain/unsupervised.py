"""The loop of an unsupervised greedy stage: one RBM or denoising autoencoder layer for every member.

`run(cfg, workdir, init_params)` trains the top layer of config.model.hidden of `cfg.committee.size` members
side by side through deep_simple.loop with this module's TASK (the committee's vmapped epoch and device mesh,
the digits freshly distorted every epoch when config.augment is set): it measures the validation digits'
reconstruction error every epoch, checkpoints, and resumes a workdir that already holds the stage,
bit-identical to an uninterrupted run. Its workdir holds config.json, checkpoints/, metrics.jsonl,
tensorboard/ and results.json, like a supervised run's.
"""

import datetime
import os

import jax
import numpy as np

from deep_simple import committee
from deep_simple import files
from deep_simple import hosts
from deep_simple import loop
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
    padded = jax.numpy.pad(images_NxSxS, ((0, -n % size),) + ((0, 0),) * (images_NxSxS.ndim - 1))
    return jax.lax.map(lambda x: error(params, x), padded.reshape(-1, size, *padded.shape[1:])).reshape(-1)[:n]

  return jax.jit(jax.vmap(errors, in_axes=(0, None)), in_shardings=(lay.by_member, lay.replicated),
                 out_shardings=lay.by_member)


def _create(key, cfg, steps_per_epoch: int, lr0=None, lr_decay=None, momentum=None):
  return _kind(cfg).create_state(key, cfg, steps_per_epoch, lr0, lr_decay, momentum)


def _reconstruction(cfg, lay: committee.Layout, eval_splits: dict, workdir: str):
  """The task's measurements: every member's reconstruction error on the validation digits."""
  del workdir  # nothing is kept beside the checkpoints
  errors = _error_fn(cfg, lay)

  def evaluate(state, entry: dict, record: dict) -> None:
    del record
    validation = committee.real_members(hosts.to_host(errors(state.params, eval_splits["validation"][0])), lay)
    entry["validation_reconstruction_error"] = validation.mean(-1).tolist()

  return evaluate


def _results(cfg, record: dict, workdir: str, splits: dict) -> dict:
  history = record["history"]
  results = {
      "name": cfg.name, "method": cfg.pretrain.method, "layer": len(cfg.model.hidden),
      "visible_units": stack.sizes(cfg)[0], "hidden_units": stack.sizes(cfg)[1],
      "members": cfg.committee.size, "epochs": record["epoch"], "batch_size": cfg.batch_size,
      "train_digits": len(splits["train"][1]), "validation_digits": len(splits["validation"][1]),
      "wall_seconds": float(sum(e["seconds"] for e in history)),
      "validation_reconstruction_error": history[-1]["validation_reconstruction_error"],
      "device": jax.devices()[0].device_kind, "device_count": jax.device_count(),
      "date": datetime.date.today().isoformat(),
  }
  if jax.process_index() == 0:
    files.write_atomic(os.path.join(workdir, "results.json"), files.to_json(results, indent=2))
  return results


TASK = loop.Task(create=_create, make_step=_step, make_evaluate=_reconstruction,
                 validation_error=lambda entry: float(np.mean(entry["validation_reconstruction_error"])),
                 summarise=_results)


def restore(workdir: str):
  """(config, state, record) of the stage in `workdir` from its newest readable checkpoint, or None; the state
  holds the real members stacked on a leading axis, as numpy arrays."""
  return loop.restore(workdir, _create)


def mlp_layers(cfg, params) -> dict:
  """The MLP's Dense layers of a trained stage (host params stacked by member): the frozen ones below, and the
  trained layer turned into the MLP's scaled-tanh form (`stack.to_dense`)."""
  layer = len(cfg.model.hidden)
  trained = params["layer"]
  dense = stack.to_dense(trained["w"], trained["hidden_bias"], stack.visible_map(cfg, layer))
  return {**params["lower"], f"Dense_{layer - 1}": dense}


def run(cfg, workdir: str, init_params=None, on_epoch=None) -> dict:
  """Trains the stage for config.epochs (deep_simple.loop with this module's TASK); returns the results dict
  also written to `workdir/results.json`.

  `init_params`: {"lower": the MLP's Dense layers below the trained one, stacked by member} (none for the
  first layer). `on_epoch(entry, cfg)` is called after every epoch with that epoch's history entry.
  """
  method.validate(cfg)
  return loop.run(cfg, workdir, on_epoch, init_params, TASK)
