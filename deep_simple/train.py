"""Pure training functions: one SGD step, one epoch as a `lax.scan`, evaluation.

The train state is a plain dict pytree:

    {"params": ..., "opt": optax state, "step": int32 scalar,
     "hparams": {"lr0", "lr_decay", "lr_min", "steps_per_epoch"}, ["ema": params]}

Carrying the schedule's hyper-parameters in the state keeps `train_step(state, batch)` a pure function of its
two arguments and lets committee members with different learning rates share one vmapped step.

Use in your own JAX code:

    from deep_simple import train
    state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=60_000)
    step = train.jit_train_step(cfg)           # jitted, donates `state`
    state, metrics = step(state, {"images": images_Bx29x29, "labels": labels_B})
"""

import functools

import jax
import jax.numpy as jnp
import optax

from deep_simple import data
from deep_simple import distort
from deep_simple import models


LOSSES = ("cross_entropy", "squared_error")
INPUT_RANGES = ("signed", "unit")
LR_SCALINGS = ("linear", "none")


def scaled_lr(cfg, value: float) -> float:
  """Scales a per-example rate to the batch: linear scaling keeps the per-example step of online SGD."""
  if cfg.lr_scaling == "linear":
    return value * cfg.batch_size
  if cfg.lr_scaling == "none":
    return value
  raise ValueError(f"config.lr_scaling must be one of {LR_SCALINGS}, got {cfg.lr_scaling!r}")


def learning_rate(hparams, step):
  """lr0 * decay^epoch, floored at lr_min: the paper's per-epoch schedule as a function of the step."""
  epoch = step // hparams["steps_per_epoch"]
  return jnp.maximum(hparams["lr0"] * hparams["lr_decay"] ** epoch, hparams["lr_min"])


def optimizer(cfg) -> optax.GradientTransformation:
  """SGD with unit rate; `train_step` multiplies by the scheduled rate so it can differ per member."""
  return optax.sgd(learning_rate=1.0, momentum=cfg.momentum or None)


def init_state(key, cfg, steps_per_epoch: int, lr0=None, lr_decay=None):
  """Fresh state; lr0 (per example) and lr_decay default to the config's."""
  model = models.from_config(cfg.model)
  size = 29 if cfg.pad_to_29 else 28
  params = model.init(key, jnp.zeros((1, size, size), jnp.float32))["params"]
  hparams = {
      "lr0": jnp.float32(scaled_lr(cfg, cfg.lr0 if lr0 is None else lr0)),
      "lr_decay": jnp.float32(cfg.lr_decay if lr_decay is None else lr_decay),
      "lr_min": jnp.float32(scaled_lr(cfg, cfg.lr_min)),
      "steps_per_epoch": jnp.int32(steps_per_epoch),
  }
  state = {"params": params, "opt": optimizer(cfg).init(params), "step": jnp.int32(0),
           "hparams": hparams}
  if cfg.ema_decay:
    state["ema"] = params
  return state


def loss_fn(params, images_BxHxW, labels_B, cfg):
  logits_BxK = models.from_config(cfg.model).apply({"params": params}, images_BxHxW)
  if cfg.loss == "cross_entropy":
    loss_B = optax.softmax_cross_entropy_with_integer_labels(logits_BxK, labels_B)
  elif cfg.loss == "squared_error":
    # The paper-era loss: squared error of the scaled-tanh outputs against ±1 targets.
    targets_BxK = 2.0 * jax.nn.one_hot(labels_B, logits_BxK.shape[-1]) - 1.0
    loss_B = 0.5 * jnp.sum((models.scaled_tanh(logits_BxK) - targets_BxK) ** 2, axis=-1)
  else:
    raise ValueError(f"config.loss must be one of {LOSSES}, got {cfg.loss!r}")
  errors_B = jnp.argmax(logits_BxK, axis=-1) != labels_B
  return jnp.mean(loss_B), jnp.mean(errors_B)


def train_step(state, batch, cfg):
  """One SGD update on `batch = {"images": images_BxHxW in model range, "labels": labels_B}`."""
  (loss, error), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state["params"], batch["images"], batch["labels"], cfg)
  lr = learning_rate(state["hparams"], state["step"])
  updates, opt = optimizer(cfg).update(grads, state["opt"], state["params"])
  params = optax.apply_updates(params=state["params"], updates=jax.tree.map(lambda u: lr * u, updates))
  new_state = dict(state, params=params, opt=opt, step=state["step"] + 1)
  if "ema" in state:
    new_state["ema"] = optax.incremental_update(params, state["ema"], 1.0 - cfg.ema_decay)
  return new_state, {"loss": loss, "error": error, "lr": lr}


def jit_train_step(cfg):
  return jax.jit(functools.partial(train_step, cfg=cfg), donate_argnames="state")


def to_model_range(images_unit, cfg):
  """[0, 1] images (background 0) -> the model's input range."""
  if cfg.input_range == "signed":
    return data.to_signed(images_unit)
  if cfg.input_range == "unit":
    return images_unit
  raise ValueError(f"config.input_range must be one of {INPUT_RANGES}, got {cfg.input_range!r}")


def steps_per_block(steps: int, batch_size: int, block_images: int) -> int:
  """Largest divisor of `steps` whose images fit in one distortion block (bounds device memory)."""
  limit = max(1, block_images // batch_size)
  return max(k for k in range(1, min(steps, limit) + 1) if steps % k == 0)


def train_epoch(state, images_NxHxW, labels_N, key, cfg):
  """One epoch: reshuffle, distort afresh block by block, one update per batch (B = 1 is online SGD).

  images are uint8 (0-255, background 0). Returns the new state and per-step metrics of shape [steps].
  """
  n, b = labels_N.shape[0], cfg.batch_size
  steps = n // b
  k = steps_per_block(steps, b, cfg.block_images)
  perm_key, distort_key = jax.random.split(key)
  order_BLxKB = jax.random.permutation(perm_key, n)[:steps * b].reshape(steps // k, k * b)

  def block(state, xs):
    index, order_KB = xs
    images = data.to_unit(images_NxHxW[order_KB])
    labels = labels_N[order_KB]
    if cfg.augment:
      images = distort.distort(jax.random.fold_in(distort_key, index), images, labels, cfg.distort)
    batches = {"images": to_model_range(images, cfg).reshape(k, b, *images.shape[1:]),
               "labels": labels.reshape(k, b)}
    return jax.lax.scan(functools.partial(train_step, cfg=cfg), state, batches)

  state, metrics = jax.lax.scan(block, state, (jnp.arange(order_BLxKB.shape[0]), order_BLxKB))
  return state, jax.tree.map(lambda m: m.reshape(-1), metrics)


def predict(params, images_NxHxW, cfg):
  """Softmax outputs for uint8 images, computed in chunks of `cfg.eval_batch` to bound memory."""
  model = models.from_config(cfg.model)
  n, chunk = images_NxHxW.shape[0], min(cfg.eval_batch, images_NxHxW.shape[0])
  padded = -n % chunk
  images = jnp.pad(images_NxHxW, ((0, padded), (0, 0), (0, 0)))
  images_CxBxHxW = images.reshape(-1, chunk, *images.shape[1:])

  def probs(images_BxHxW):
    x = to_model_range(data.to_unit(images_BxHxW), cfg)
    return jax.nn.softmax(model.apply({"params": params}, x))

  return jax.lax.map(probs, images_CxBxHxW).reshape(n + padded, -1)[:n]
