"""The pure train step, the online epoch scan, the schedule and the losses, on real MNIST digits."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import data
from deep_simple import train
from experiments.configs import paper


def _cfg(**overrides):
  cfg = paper.get_config("tiny")
  cfg.model.hidden = (32,)
  for key, value in overrides.items():
    cfg[key] = value
  return cfg


def _batch(mnist_splits, start, size, cfg):
  images, labels = mnist_splits["train"]
  x = train.to_model_range(data.to_unit(data.pad_to_29(images[start:start + size])), cfg)
  return {"images": jnp.asarray(x), "labels": jnp.asarray(labels[start:start + size])}


def _copy(tree):
  return jax.tree.map(lambda x: np.array(x, copy=True), tree)


def _assert_trees_equal(a, b):
  jax.tree.map(np.testing.assert_array_equal, a, b)


def test_train_step_is_pure(mnist_splits):
  cfg = _cfg()
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=100)
  before = _copy(state)
  batch = _batch(mnist_splits, 0, cfg.batch_size, cfg)
  step = jax.jit(functools.partial(train.train_step, cfg=cfg))  # no donation: `state` is reused below
  out1, metrics1 = step(state, batch)
  out2, metrics2 = step(state, batch)
  _assert_trees_equal(state, before)  # the input state is not mutated
  _assert_trees_equal(out1, out2)  # same inputs, same outputs
  _assert_trees_equal(metrics1, metrics2)
  assert int(out1["step"]) == 1
  assert not np.array_equal(out1["params"]["Dense_0"]["kernel"], before["params"]["Dense_0"]["kernel"])


def test_online_epoch_scan_equals_single_steps_in_order(mnist_splits):
  """The epoch scan performs exactly one update per image, in the epoch's shuffled order."""
  n = 40
  cfg = _cfg(batch_size=1, augment=False, block_images=16)  # 40 steps in blocks of 10: the outer scan runs
  images, labels = mnist_splits["train"]
  images, labels = jnp.asarray(data.pad_to_29(images[:n])), jnp.asarray(labels[:n])
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=n)
  key = jax.random.key(7)
  scanned, metrics = jax.jit(functools.partial(train.train_epoch, cfg=cfg))(_copy(state), images, labels, key)
  assert metrics["loss"].shape == (n,)

  order = np.asarray(jax.random.permutation(jax.random.split(key)[0], n))
  step = train.jit_train_step(cfg)
  stepped = _copy(state)
  for i in order:
    x = train.to_model_range(data.to_unit(images[i:i + 1]), cfg)
    stepped, m = step(stepped, {"images": x, "labels": labels[i:i + 1]})
  assert int(scanned["step"]) == int(stepped["step"]) == n
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               scanned["params"], stepped["params"])
  np.testing.assert_allclose(metrics["loss"][-1], m["loss"], rtol=1e-5)


def test_schedule_decays_per_epoch_and_floors():
  cfg = _cfg(batch_size=1, lr0=1e-3, lr_decay=0.5, lr_min=1e-5)
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=10)
  lr = lambda step: float(train.learning_rate(state["hparams"], jnp.int32(step)))
  assert lr(0) == pytest.approx(1e-3) and lr(9) == pytest.approx(1e-3)
  assert lr(10) == pytest.approx(5e-4) and lr(25) == pytest.approx(2.5e-4)
  assert lr(1000) == pytest.approx(1e-5)  # floored


def test_minibatch_rate_scales_linearly():
  state = train.init_state(jax.random.key(0), _cfg(batch_size=32, lr0=1e-3, lr_min=1e-6), steps_per_epoch=5)
  assert float(state["hparams"]["lr0"]) == pytest.approx(0.032)
  assert float(state["hparams"]["lr_min"]) == pytest.approx(3.2e-5)
  unscaled = train.init_state(jax.random.key(0), _cfg(batch_size=32, lr_scaling="none"), steps_per_epoch=5)
  assert float(unscaled["hparams"]["lr0"]) == pytest.approx(1e-3)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_losses_decrease_on_real_digits(mnist_splits, loss):
  cfg = _cfg(loss=loss, batch_size=20, lr0=2e-3)
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=50)
  batch = _batch(mnist_splits, 0, 200, cfg)
  batches = jax.tree.map(lambda x: x.reshape(10, 20, *x.shape[1:]), batch)
  step = jax.jit(functools.partial(train.train_step, cfg=cfg))
  first = None
  for _ in range(5):
    for i in range(10):
      state, m = step(state, jax.tree.map(lambda x: x[i], batches))
      first = float(m["loss"]) if first is None else first
  assert float(m["loss"]) < 0.7 * first


def test_ema_tracks_params(mnist_splits):
  cfg = _cfg(ema_decay=0.5)
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=10)
  params0 = _copy(state["params"])
  new, _ = jax.jit(functools.partial(train.train_step, cfg=cfg))(state, _batch(mnist_splits, 0, 16, cfg))
  expected = jax.tree.map(lambda p0, p1: 0.5 * p0 + 0.5 * p1, params0, new["params"])
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new["ema"], expected)


def test_predict_matches_direct_apply_across_chunks(mnist_splits):
  cfg = _cfg(eval_batch=64)
  state = train.init_state(jax.random.key(0), cfg, steps_per_epoch=1)
  images = data.pad_to_29(mnist_splits["test"][0][:150])  # 150 = 2 full chunks + a padded one
  probs = train.predict(state["params"], jnp.asarray(images), cfg)
  model_input = train.to_model_range(data.to_unit(jnp.asarray(images)), cfg)
  from deep_simple import models  # pylint: disable=g-import-not-at-top
  logits = models.from_config(cfg.model).apply({"params": state["params"]}, model_input)
  np.testing.assert_allclose(probs, jax.nn.softmax(logits), rtol=1e-5, atol=1e-6)
