"""Pure training functions: the train state, one SGD step, one epoch as a `lax.scan`, prediction.

Everything is built once from a config; the functions it returns take no config, so they jit, vmap and
compose like any JAX function, and editing the config afterwards changes nothing:

    from deep_simple import config, train
    cfg = config.base_config()
    state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=60_000)
    step = jax.jit(train.make_train_step(cfg), donate_argnums=0)
    state, metrics = step(state, {"images": images_Bx29x29, "labels": labels_B})

Inputs follow one contract for the step, the epoch and prediction (deep_simple/inputs.py): B x H x W x C images
(B x H x W for one channel), uint8 or floating in [0, 1]. The rate is per example: a batch of B digits steps by
B times it (config lr_scaling="linear"), whatever batch size the state was created with, so a last, smaller batch
gets the right rate. The state is a flax `TrainState` carrying the model's `apply_fn` and the optax optimizer; the
schedule's values (lr0, lr_decay, lr_min) and the momentum live in the optimizer state
(`optax.inject_hyperparams`), so committee members with different rates or momenta share one vmapped step.
"""

from typing import Any

from flax.training import train_state
import jax
import jax.numpy as jnp
import optax

from deep_simple import config
from deep_simple import distort
from deep_simple import inputs as inputs_lib
from deep_simple import models
from deep_simple.models import layers


class TrainState(train_state.TrainState):
  """step, params, opt_state, and `ema`: the Polyak average of the params (None unless config.ema_decay)."""

  ema: Any = None


def epoch_decay(lr0, lr_decay, lr_min, steps_per_epoch) -> optax.Schedule:
  """lr0 * lr_decay^epoch, floored at lr_min: the paper's per-epoch schedule as a function of the step."""
  return lambda count: jnp.maximum(lr0 * lr_decay ** (count // steps_per_epoch), lr_min)


def _sgd(lr0, lr_decay, lr_min, steps_per_epoch, frozen, momentum=None):
  sgd = optax.sgd(epoch_decay(lr0, lr_decay, lr_min, steps_per_epoch), momentum=momentum)
  if not frozen:
    return sgd
  # Zeroing the frozen gradients before SGD leaves those parameters bit-identical (momentum included) and
  # their gradients unused, for XLA to drop.
  held = lambda params: {name: jax.tree.map(lambda _: name in frozen, tree) for name, tree in params.items()}
  return optax.chain(optax.masked(optax.set_to_zero(), held), sgd)


def optimizer(cfg, steps_per_epoch: int) -> optax.GradientTransformation:
  """SGD at the per-example rates of `cfg`, holding the parameters named in config.frozen fixed; the rates
  (and momentum) are state, not constants.

  Momentum is a hyperparameter in the state, so members may differ, only when some member uses it: without
  it the optimizer keeps no velocity and its step is plain SGD.
  """
  hyperparams = dict(lr0=float(cfg.lr0), lr_decay=float(cfg.lr_decay), lr_min=float(cfg.lr_min),
                     steps_per_epoch=int(steps_per_epoch), frozen=tuple(cfg.frozen))
  if any(m > 0 for m in (cfg.momentum, *cfg.committee.momentum)):
    hyperparams["momentum"] = float(cfg.momentum)
  return optax.inject_hyperparams(_sgd, static_args="frozen")(**hyperparams)


def learning_rate(state: TrainState):
  """The per-example rate of the state's next step."""
  hp = state.opt_state.hyperparams
  return epoch_decay(hp["lr0"], hp["lr_decay"], hp["lr_min"], hp["steps_per_epoch"])(state.step)


def create_state(key, cfg, steps_per_epoch: int, lr0=None, lr_decay=None, momentum=None) -> TrainState:
  """A fresh state; lr0 (per example), lr_decay and momentum default to the config's and may be traced
  (vmap). A momentum is ignored by an optimizer without one: then every configured momentum is 0."""
  model = models.build(cfg.model, config.num_classes(cfg))
  params = model.init(key, jnp.zeros((1, *config.input_shape(cfg)), jnp.float32))["params"]
  return init_state(TrainState, model.apply, params, cfg, steps_per_epoch, lr0, lr_decay, momentum)


def init_state(cls, apply_fn, params, cfg, steps_per_epoch: int, lr0=None, lr_decay=None, momentum=None,
               **fields):
  """A step-0 state of class `cls` (TrainState or a subclass with `fields`) for `params`, with the config's
  optimizer; lr0, lr_decay and momentum as in `create_state`."""
  tx = optimizer(cfg, steps_per_epoch)
  opt_state = tx.init(params)
  given = {"lr0": lr0, "lr_decay": lr_decay, "momentum": momentum}
  values = {name: jnp.asarray(value, jnp.float32) for name, value in given.items()
            if value is not None and name in opt_state.hyperparams}
  # Strong dtypes: a restored checkpoint's are, and a weak-typed fresh one would lower (and compile) otherwise.
  hyperparams = {name: jnp.asarray(value, jnp.asarray(value).dtype)
                 for name, value in {**opt_state.hyperparams, **values}.items()}
  opt_state = opt_state._replace(hyperparams=hyperparams)
  return cls(step=jnp.int32(0), apply_fn=apply_fn, params=params, tx=tx, opt_state=opt_state,
             # A copy: a state whose ema shared the params' buffers could not be donated to a jitted step.
             ema=jax.tree.map(jnp.copy, params) if cfg.ema_decay else None, **fields)


def arrays(state: TrainState) -> dict:
  """The state's arrays as a plain dict: what a checkpoint holds."""
  out = {"step": state.step, "params": state.params, "opt_state": state.opt_state}
  return out if state.ema is None else {**out, "ema": state.ema}


def with_arrays(state: TrainState, restored: dict) -> TrainState:
  return state.replace(**restored)


def _loss(kind: str):
  """(logits_BxK, labels_B) -> loss_B."""
  if kind == "cross_entropy":
    return optax.softmax_cross_entropy_with_integer_labels
  if kind == "squared_error":
    # The paper-era loss: squared error of the scaled-tanh outputs against ±1 targets.
    def squared_error(logits_BxK, labels_B):
      targets_BxK = 2.0 * jax.nn.one_hot(labels_B, logits_BxK.shape[-1]) - 1.0
      return 0.5 * jnp.sum((layers.scaled_tanh(logits_BxK) - targets_BxK) ** 2, axis=-1)
    return squared_error
  raise ValueError(f"config.loss must be one of {', '.join(config.LOSSES)}; got {kind!r}")


def make_train_step(cfg):
  """`train_step(state, batch) -> (state, metrics)`: one update on `{"images", "labels"}`; pure.

  On concrete arrays a label outside [0, classes) or an empty batch is a one-line ValueError. Under `jit` the
  labels' values are unknown: a digit with such a label adds nothing to the gradient (nor to the error), and
  the step's loss is NaN, so a loop that checks its losses (deep_simple/loop.py) stops, naming the step.
  """
  inputs = inputs_lib.Inputs.from_config(cfg)
  loss_B = _loss(cfg.loss)
  per_example = cfg.lr_scaling == "linear"
  ema_decay = float(cfg.ema_decay)

  def train_step(state: TrainState, batch):
    images, labels_B = batch["images"], batch["labels"]
    inputs.check(images, labels_B, "train_step")
    x = inputs.to_model(images)

    known_B = (labels_B >= 0) & (labels_B < inputs.classes)

    def loss_fn(params):
      logits_BxK = state.apply_fn({"params": params}, x)
      loss = jnp.mean(jnp.where(known_B, loss_B(logits_BxK, jnp.where(known_B, labels_B, 0)), 0.0))
      error = jnp.mean((jnp.argmax(logits_BxK, axis=-1) != labels_B) & known_B)
      # The sum over the batch: each digit's gradient is stepped at the per-example rate.
      return (loss * images.shape[0] if per_example else loss), (loss, error)

    (_, (loss, error)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    loss = jnp.where(jnp.all(known_B), loss, jnp.nan)
    lr = learning_rate(state)
    new = state.apply_gradients(grads=grads)
    if state.ema is not None:
      new = new.replace(ema=optax.incremental_update(new.params, state.ema, 1.0 - ema_decay))
    return new, {"loss": loss, "error": error, "lr": lr}

  return train_step


def jit_train_step(cfg):
  """The train step jitted with `state` donated; every batch's shape, dtype and range are checked first."""
  step = jax.jit(make_train_step(cfg), donate_argnums=0)
  inputs = inputs_lib.Inputs.from_config(cfg)

  def checked_step(state, batch):
    inputs.check(batch["images"], batch["labels"], "train_step")
    return step(state, batch)

  return checked_step


def steps_per_block(steps: int, batch_size: int, block_images: int) -> int:
  """Largest divisor of `steps` whose images fit in one distortion block (bounds device memory)."""
  limit = max(1, block_images // batch_size)
  return max(k for k in range(1, min(steps, limit) + 1) if steps % k == 0)


def make_train_epoch(cfg, step=None):
  """`train_epoch(state, images_NxSxS, labels_N, key) -> (state, metrics)`: reshuffle, distort afresh block
  by block, one update per batch of config.batch_size (1: online SGD); digits past the last whole batch wait
  for a later epoch's shuffle. Metrics have shape [steps].

  `step`: another `(state, batch) -> (state, metrics)` to scan instead of `make_train_step(cfg)`, e.g. an
  unsupervised layer's (deep_simple/pretrain)."""
  step = step or make_train_step(cfg)
  inputs = inputs_lib.Inputs.from_config(cfg)
  b, block_images = cfg.batch_size, cfg.block_images
  distort_cfg = cfg.distort.copy_and_resolve_references() if cfg.augment else None

  def train_epoch(state: TrainState, images_NxSxS, labels_N, key):
    inputs.check(images_NxSxS, labels_N, "train_epoch")
    n = labels_N.shape[0]
    steps = n // b
    if steps == 0:
      raise ValueError(f"train_epoch: batch size {b} exceeds the {n} training digits")
    k = steps_per_block(steps, b, block_images)
    perm_key, distort_key = jax.random.split(key)
    order_BLxKB = jax.random.permutation(perm_key, n)[:steps * b].reshape(steps // k, k * b)

    def block(state, xs):
      index, order_KB = xs
      images, labels = inputs.to_unit(images_NxSxS[order_KB]), labels_N[order_KB]
      if distort_cfg is not None:
        images = distort.distort(jax.random.fold_in(distort_key, index), images, labels, distort_cfg)
      batches = {"images": images.reshape(k, b, *images.shape[1:]), "labels": labels.reshape(k, b)}
      return jax.lax.scan(step, state, batches)

    state, metrics = jax.lax.scan(block, state, (jnp.arange(order_BLxKB.shape[0]), order_BLxKB))
    return state, jax.tree.map(lambda m: m.reshape(-1), metrics)

  return train_epoch


def make_predict(cfg):
  """`predict(params, images_NxSxS) -> probs_NxK`: softmax outputs in chunks of config.eval_batch."""
  model = models.build(cfg.model, config.num_classes(cfg))
  inputs = inputs_lib.Inputs.from_config(cfg)
  eval_batch = cfg.eval_batch

  def predict(params, images_NxSxS):
    inputs.check(images_NxSxS, where="predict")
    n = images_NxSxS.shape[0]
    chunk = min(eval_batch, n)
    padded = -n % chunk
    images = jnp.pad(images_NxSxS, ((0, padded),) + ((0, 0),) * (images_NxSxS.ndim - 1))
    images_CxBxSxS = images.reshape(-1, chunk, *images.shape[1:])

    def probs(images_BxSxS):
      return jax.nn.softmax(model.apply({"params": params}, inputs.to_model(images_BxSxS)))

    return jax.lax.map(probs, images_CxBxSxS).reshape(n + padded, -1)[:n]

  return predict

