"""The pure train step, the online epoch scan, the schedule, the losses and the input contract, on real
MNIST digits; configs come from the library alone."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import config
from deep_simple import data
from deep_simple import loop
from deep_simple import models
from deep_simple import train
from tests import tiny


def _cfg(**overrides):
  cfg = tiny.net(**overrides)
  cfg.model.hidden = (32,)
  return cfg


def _batch(mnist_splits, start, size):
  """Real digits as the data layer gives them: uint8, padded to 29x29."""
  images, labels = mnist_splits["train"]
  return {"images": jnp.asarray(data.pad_to_29(images[start:start + size])),
          "labels": jnp.asarray(labels[start:start + size])}


def _copy(tree):
  return jax.tree.map(lambda x: np.array(x, copy=True), tree)


def _assert_trees_equal(a, b):
  jax.tree.map(np.testing.assert_array_equal, a, b)


def test_train_step_is_pure_and_jits_without_the_config(mnist_splits):
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=100)
  before = _copy(train.arrays(state))
  batch = _batch(mnist_splits, 0, cfg.batch_size)
  step = jax.jit(train.make_train_step(cfg))  # no donation: `state` is reused below
  out1, metrics1 = step(state, batch)
  cfg.lr0 = 1.0  # the step was built from the config: editing it afterwards changes nothing
  out2, metrics2 = step(state, batch)
  _assert_trees_equal(train.arrays(state), before)  # the input state is not mutated
  _assert_trees_equal(train.arrays(out1), train.arrays(out2))  # same inputs, same outputs
  _assert_trees_equal(metrics1, metrics2)
  assert int(out1.step) == 1
  assert not np.array_equal(out1.params["Dense_0"]["kernel"], before["params"]["Dense_0"]["kernel"])


def test_uint8_and_unit_float_batches_give_the_same_step(mnist_splits):
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=100)
  batch = _batch(mnist_splits, 0, 16)
  as_unit = dict(batch, images=data.to_unit(batch["images"]))
  step = jax.jit(train.make_train_step(cfg))
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
               train.arrays(step(state, batch)[0]), train.arrays(step(state, as_unit)[0]))


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 28, 28), np.uint8), r"expected images of shape B x 29 x 29 \(config.pad_to_29 = True\); "
                                      r"got \(4, 28, 28\)"),
    (np.zeros((4, 29, 29), np.int32), "expected uint8 pixels .0-255. or floating pixels in .0, 1.; got int32"),
    (np.full((4, 29, 29), -1.0, np.float32), r"expected floating pixels in \[0, 1\] \(or uint8 0-255\); "
                                             r"got values in \[-1, -1\]"),
    (np.full((4, 29, 29), 255.0, np.float32), r"expected floating pixels in \[0, 1\] \(or uint8 0-255\); "
                                              r"got values in \[255, 255\]"),
])
def test_wrong_inputs_are_one_line_errors_saying_what_was_expected(images, message):
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  batch = {"images": images, "labels": np.zeros(4, np.int32)}
  with pytest.raises(ValueError, match=f"^train_step: {message}$"):
    train.jit_train_step(cfg)(state, batch)
  with pytest.raises(ValueError, match=f"^predict: {message}$"):
    train.make_predict(cfg)(state.params, images)
  with pytest.raises(ValueError, match=f"^train_epoch: {message}$"):
    train.make_train_epoch(cfg)(state, images, batch["labels"], jax.random.key(0))


def test_wrong_shapes_are_caught_under_jit_too():
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  batch = {"images": jnp.zeros((4, 28, 28), jnp.uint8), "labels": jnp.zeros(4, jnp.int32)}
  with pytest.raises(ValueError, match="expected images of shape B x 29 x 29"):
    jax.jit(train.make_train_step(cfg))(state, batch)
  with pytest.raises(ValueError, match="expected 4 integer labels"):
    jax.jit(train.make_train_step(cfg))(state, dict(batch, images=jnp.zeros((4, 29, 29)),
                                                     labels=jnp.zeros(4)))


@pytest.mark.parametrize("labels, message", [
    (np.array([3, 10]), r"expected labels in \[0, 10\); got values in \[3, 10\]"),
    (np.array([-1, 3]), r"expected labels in \[0, 10\); got values in \[-1, 3\]"),
])
def test_labels_out_of_range_are_one_line_errors_where_values_are_known(labels, message):
  """A label of 10 used to give a NaN loss while the weights still updated, and -1 was trained as class 9."""
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  images = np.zeros((2, 29, 29), np.uint8)
  batch = {"images": images, "labels": labels.astype(np.int32)}
  for where, call in [("train_step", train.make_train_step(cfg)), ("train_step", train.jit_train_step(cfg)),
                      ("train_epoch", lambda s, b: train.make_train_epoch(cfg)(s, *b.values(), jax.random.key(0)))]:
    with pytest.raises(ValueError, match=f"^{where}: {message}$"):
      call(state, batch)


def test_an_empty_batch_is_a_one_line_error_under_jit_too():
  """It used to raise ZeroDivisionError: integer modulo by zero."""
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  batch = {"images": jnp.zeros((0, 29, 29), jnp.uint8), "labels": jnp.zeros(0, jnp.int32)}
  message = r"^train_step: expected at least one digit; got an empty batch \(0, 29, 29\)"
  for step in (train.make_train_step(cfg), jax.jit(train.make_train_step(cfg)), train.jit_train_step(cfg)):
    with pytest.raises(ValueError, match=message):
      step(state, batch)
  with pytest.raises(ValueError, match=r"^predict: expected at least one digit"):
    train.make_predict(cfg)(state.params, batch["images"])


def test_under_jit_labels_out_of_range_add_nothing_and_the_loss_is_nan(mnist_splits):
  """Values are unknown under jit: a digit with an unknown label is masked out of the step, which reports NaN
  (the loop then stops, naming the step)."""
  cfg = _cfg()
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=100)
  step = jax.jit(train.make_train_step(cfg))
  batch = _batch(mnist_splits, 0, 4)
  for bad in (10, -1):
    alone, metrics = step(state, dict(batch, labels=jnp.full(4, bad, jnp.int32)))
    assert np.isnan(metrics["loss"])
    _assert_trees_equal(alone.params, state.params)  # nothing trained
    mixed, metrics = step(state, dict(batch, labels=batch["labels"].at[3].set(bad)))
    valid, _ = step(state, {"images": batch["images"][:3], "labels": batch["labels"][:3]})
    assert np.isnan(metrics["loss"])
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), mixed.params, valid.params)


def test_online_epoch_scan_equals_single_steps_in_order(mnist_splits):
  """The epoch scan performs exactly one update per image, in the epoch's shuffled order."""
  n = 40
  cfg = _cfg(batch_size=1, augment=False, block_images=16)  # 40 steps in blocks of 10: the outer scan runs
  images, labels = mnist_splits["train"]
  images, labels = jnp.asarray(data.pad_to_29(images[:n])), jnp.asarray(labels[:n])
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=n)
  key = jax.random.key(7)
  scanned, metrics = jax.jit(train.make_train_epoch(cfg))(_copy(state), images, labels, key)
  assert metrics["loss"].shape == (n,)

  order = np.asarray(jax.random.permutation(jax.random.split(key)[0], n))
  step = train.jit_train_step(cfg)
  stepped = _copy(state)
  for i in order:
    stepped, m = step(stepped, {"images": images[i:i + 1], "labels": labels[i:i + 1]})
  assert int(scanned.step) == int(stepped.step) == n
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
               scanned.params, stepped.params)
  np.testing.assert_allclose(metrics["loss"][-1], m["loss"], rtol=1e-5)


def test_schedule_decays_per_epoch_and_floors():
  cfg = _cfg(batch_size=1, lr0=1e-3, lr_decay=0.5, lr_min=1e-5)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  lr = lambda step: float(train.learning_rate(state.replace(step=jnp.int32(step))))
  assert lr(0) == pytest.approx(1e-3) and lr(9) == pytest.approx(1e-3)
  assert lr(10) == pytest.approx(5e-4) and lr(25) == pytest.approx(2.5e-4)
  assert lr(1000) == pytest.approx(1e-5)  # floored


def test_rate_is_per_example_whatever_the_batch_size(mnist_splits):
  """A batch of B digits steps by the per-example rate times the sum of their gradients, whatever batch size
  the state was created with, so a last, smaller batch gets the right rate; lr_scaling="none" steps by the
  rate times their mean."""
  batch = _batch(mnist_splits, 0, 8)  # smaller than the configs' batch size of 32
  # Each digit's gradient: the change of one SGD step at rate 1 from the same weights. The weights are
  # float32 near 0.05, so differences of weights carry ~4e-9 of rounding: hence atol.
  unit_cfg = _cfg(batch_size=1, lr0=1.0)
  unit = train.create_state(jax.random.key(0), unit_cfg, steps_per_epoch=10)
  unit_step = jax.jit(train.make_train_step(unit_cfg))
  gradients = [jax.tree.map(lambda a, b: b - a, unit_step(unit, {k: v[i:i + 1] for k, v in batch.items()})[0].params,
                            unit.params) for i in range(8)]
  summed = jax.tree.map(lambda *g: sum(g), *gradients)
  for scaling, expected_rate in (("linear", 1e-3), ("none", 1e-3 / 8)):
    cfg = _cfg(batch_size=32, lr0=1e-3, lr_scaling=scaling)
    state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
    moved = jax.tree.map(lambda a, b: b - a, jax.jit(train.make_train_step(cfg))(state, batch)[0].params,
                         state.params)
    jax.tree.map(lambda m, g: np.testing.assert_allclose(m, expected_rate * g, rtol=1e-3, atol=1e-8),
                 moved, summed)


@pytest.mark.parametrize("loss", ["cross_entropy", "squared_error"])
def test_losses_decrease_on_real_digits(mnist_splits, loss):
  cfg = _cfg(loss=loss, batch_size=20, lr0=2e-3)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=50)
  batch = _batch(mnist_splits, 0, 200)
  batches = jax.tree.map(lambda x: x.reshape(10, 20, *x.shape[1:]), batch)
  step = jax.jit(train.make_train_step(cfg))
  first = None
  for _ in range(5):
    for i in range(10):
      state, m = step(state, jax.tree.map(lambda x: x[i], batches))
      first = float(m["loss"]) if first is None else first
  assert float(m["loss"]) < 0.7 * first


def test_ema_tracks_params(mnist_splits):
  cfg = _cfg(ema_decay=0.5)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  params0 = _copy(state.params)
  new, _ = jax.jit(train.make_train_step(cfg))(state, _batch(mnist_splits, 0, 16))
  expected = jax.tree.map(lambda p0, p1: 0.5 * p0 + 0.5 * p1, params0, new.params)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6), new.ema, expected)


def test_momentum_accumulates_velocity(mnist_splits):
  cfg = _cfg(momentum=0.9)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  plain = train.create_state(jax.random.key(0), _cfg(), steps_per_epoch=10)
  batch = _batch(mnist_splits, 0, 16)
  step, plain_step = jax.jit(train.make_train_step(cfg)), jax.jit(train.make_train_step(_cfg()))
  one, _ = step(state, batch)
  _assert_trees_equal(one.params, plain_step(plain, batch)[0].params)  # no velocity yet: the same first step
  two, _ = step(one, batch)
  plain_two, _ = plain_step(plain_step(plain, batch)[0], batch)
  assert not np.allclose(two.params["Dense_0"]["kernel"], plain_two.params["Dense_0"]["kernel"])


def test_frozen_parameters_stay_bit_identical_while_the_others_train(mnist_splits):
  """config.frozen holds the named layers fixed, with momentum and EMA too, and steps the rest exactly as
  an unfrozen step would."""
  cfg = _cfg(momentum=0.9, ema_decay=0.5, frozen=("Dense_0",))
  free_cfg = _cfg(momentum=0.9, ema_decay=0.5)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  free = train.create_state(jax.random.key(0), free_cfg, steps_per_epoch=10)
  before = _copy(state.params)
  step, free_step = jax.jit(train.make_train_step(cfg)), jax.jit(train.make_train_step(free_cfg))
  for start in (0, 16, 32):
    state, _ = step(state, _batch(mnist_splits, start, 16))
  _assert_trees_equal(state.params["Dense_0"], before["Dense_0"])
  _assert_trees_equal(state.ema["Dense_0"], before["Dense_0"])
  assert not np.array_equal(state.params["Dense_1"]["kernel"], before["Dense_1"]["kernel"])
  # The output layer's first step is the unfrozen one's: the same gradient, the same rate.
  one, _ = step(train.create_state(jax.random.key(0), cfg, steps_per_epoch=10), _batch(mnist_splits, 0, 16))
  _assert_trees_equal(one.params["Dense_1"], free_step(free, _batch(mnist_splits, 0, 16))[0].params["Dense_1"])


def test_frozen_names_must_be_the_models_parameters():
  with pytest.raises(ValueError, match=r"^config.frozen names no parameters of the model: Dense_5; it has "
                                       r"Dense_0, Dense_1$"):
    config.validate(_cfg(frozen=("Dense_5",)))


def test_predict_matches_direct_apply_across_chunks(mnist_splits):
  cfg = _cfg(eval_batch=64)
  state = train.create_state(jax.random.key(0), cfg, steps_per_epoch=1)
  images = data.pad_to_29(mnist_splits["test"][0][:150])  # 150 = 2 full chunks + a padded one
  probs = train.make_predict(cfg)(state.params, jnp.asarray(images))
  model = models.build(cfg.model, config.num_classes(cfg))
  logits = model.apply({"params": state.params}, data.to_signed(data.to_unit(jnp.asarray(images))))
  np.testing.assert_allclose(probs, jax.nn.softmax(logits), rtol=1e-5, atol=1e-6)


def test_a_restored_state_lowers_to_the_same_epoch_as_a_fresh_one(tmp_path):
  # The same HLO, so a resumed run hits JAX's compilation cache instead of compiling again.
  cfg = _cfg(epochs=1, train_limit=320, eval_limit=100, momentum=0.9)
  loop.run(cfg, str(tmp_path))
  _, restored, _ = loop.restore(str(tmp_path))
  restored = jax.tree.map(lambda leaf: leaf[0], restored)  # the one member of the stacked host state
  fresh = train.create_state(jax.random.key(0), cfg, steps_per_epoch=320 // cfg.batch_size)
  epoch = jax.jit(train.make_train_epoch(cfg))
  images, labels = jnp.zeros((320, 29, 29), jnp.uint8), jnp.zeros((320,), jnp.int32)
  lowered = [epoch.lower(state, images, labels, jax.random.key(1)).as_text() for state in (fresh, restored)]
  assert lowered[0] == lowered[1]
