"""Greedy stages on real MNIST: CD-1 and denoising steps learn, pre-trained layers become the MLP's exactly,
frozen layers stay bit-identical, stages chain and resume bit-identical, every method starts alike."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import committee
from deep_simple import data
from deep_simple import inputs as inputs_lib
from deep_simple import loop
from deep_simple import models
from deep_simple import train
from deep_simple.models import layers
from deep_simple.pretrain import autoencoder
from deep_simple.pretrain import method
from deep_simple.pretrain import rbm
from deep_simple.pretrain import stack
from deep_simple.pretrain import stages
from deep_simple.pretrain import unsupervised


def _cfg(name, **overrides):
  """Two narrow hidden layers, mini-batches of 32, on 1,000 training and 500 evaluation digits."""
  c = method.base_config(name)
  c.model.hidden, c.model.init_scale = (32, 16), 0.15
  c.protocol, c.batch_size, c.train_limit, c.eval_limit = "holdout", 32, 1_000, 500
  c.epochs, c.pretrain.epochs, c.augment = 2, 2, False
  c.committee.size, c.committee.lr0 = 2, (1e-3, 3e-3)
  c.pretrain.member_lr0 = () if name == "end_to_end" else (1e-3, 3e-3)
  for key, value in overrides.items():
    c[key] = value
  return c


def _digits(mnist_splits, start, size):
  images, labels = mnist_splits["train"]
  return jnp.asarray(data.pad_to_29(images[start:start + size])), jnp.asarray(labels[start:start + size])


def _learns(kind, make_step, cfg, mnist_splits, steps=60):
  """(reconstruction error of 500 held-out digits before, after `steps` steps on other digits)."""
  state = kind.create_state(jax.random.key(0), cfg, steps_per_epoch=steps)
  step = jax.jit(make_step(cfg))
  error = jax.jit(kind.make_reconstruction_error(cfg))
  held_out, _ = _digits(mnist_splits, 50_000, 500)
  before = float(error(state.params, held_out).mean())
  for i in range(steps):
    images, labels = _digits(mnist_splits, 32 * i, 32)
    state, metrics = step(state, {"images": images, "labels": labels})
  assert int(state.step) == steps and metrics["lr"] == pytest.approx(cfg.pretrain.lr0)
  return before, float(error(state.params, held_out).mean())


def _greedy(cfg):
  """The config of the first greedy stage: one hidden layer, the greedy stages' rate."""
  return stages.plan(cfg)[0].cfg


def test_cd1_lowers_the_reconstruction_error_of_real_digits(mnist_splits):
  cfg = _greedy(_cfg("rbm_pretraining"))
  before, after = _learns(rbm, rbm.make_cd1_step, cfg, mnist_splits)
  assert after < 0.6 * before, (before, after)


def test_cd1_with_gaussian_visible_units_learns_too(mnist_splits):
  cfg = _cfg("rbm_pretraining")
  cfg.pretrain.visible, cfg.pretrain.lr0 = "gaussian", 1e-4
  before, after = _learns(rbm, rbm.make_cd1_step, _greedy(cfg), mnist_splits)
  assert after < 0.8 * before, (before, after)


@pytest.mark.parametrize("tied", [True, False])
def test_denoising_autoencoder_reconstructs_better(mnist_splits, tied):
  cfg = _cfg("autoencoder_pretraining")
  cfg.pretrain.tied = tied
  before, after = _learns(autoencoder, autoencoder.make_dae_step, _greedy(cfg), mnist_splits)
  assert after < 0.6 * before, (before, after)


def test_steps_are_pure_and_draw_their_noise_from_the_state(mnist_splits):
  """Same state and batch, same result; the next step draws new noise (the state's step, not a global key)."""
  cfg = _greedy(_cfg("autoencoder_pretraining"))
  state = autoencoder.create_state(jax.random.key(0), cfg, steps_per_epoch=10)
  images, labels = _digits(mnist_splits, 0, 32)
  batch = {"images": images, "labels": labels}
  step = jax.jit(autoencoder.make_dae_step(cfg))
  one, m1 = step(state, batch)
  again, m2 = step(state, batch)
  jax.tree.map(np.testing.assert_array_equal, train.arrays(one), train.arrays(again))
  assert float(m1["loss"]) == float(m2["loss"])
  _, m3 = step(one.replace(params=state.params), batch)  # same weights, next step: other masking noise
  assert float(m3["loss"]) != float(m1["loss"])
  with pytest.raises(ValueError, match=r"^dae_step: expected images of shape B x 29 x 29"):
    step(state, {"images": images[:, :28, :28], "labels": labels})


@pytest.mark.parametrize("name, visible", [("rbm_pretraining", "binary"), ("rbm_pretraining", "gaussian"),
                                           ("autoencoder_pretraining", "binary")])
@pytest.mark.parametrize("input_range", ["signed", "unit"])
def test_pretrained_layers_become_the_mlps_exactly(mnist_splits, name, visible, input_range):
  """The MLP built from two sigmoid layers computes TANH_SCALE * (2 sigmoid(v W + c) - 1) in every hidden
  unit: the pre-trained stack's mean-field up-pass."""
  cfg = _cfg(name, input_range=input_range)
  cfg.pretrain.visible = visible
  images, _ = _digits(mnist_splits, 0, 64)
  sigmoid_layers, dense = [], {}
  for k in (1, 2):
    layer_cfg = stages.plan(cfg)[k - 1].cfg
    visible, hidden = stack.sizes(layer_cfg)
    w = 0.3 * jax.random.normal(jax.random.key(k), (visible, hidden))
    c = jax.random.normal(jax.random.key(10 + k), (hidden,))
    sigmoid_layers.append((w, c))
    dense[f"Dense_{k - 1}"] = stack.to_dense(w, c, stack.visible_map(layer_cfg, k))
  dense["Dense_2"] = {"kernel": jnp.zeros((16, 10)), "bias": jnp.zeros(10)}
  x = inputs_lib.Inputs.from_config(cfg).to_model(images)
  _, captured = models.build(cfg.model, 10).apply({"params": dense}, x, capture_intermediates=True,
                                                  mutable=["intermediates"])
  # The reference: sigmoid layers on visible units, the first layer's from the pixels.
  first = stack.visible_map(cfg, 1)
  v = (x.reshape(64, -1) - first.shift) / first.scale
  for k, (w, c) in enumerate(sigmoid_layers):
    p = jax.nn.sigmoid(v @ w + c)
    assert 0.05 < float(jnp.std(p)) and float(p.min()) < 0.1 and float(p.max()) > 0.9  # not all saturated or 1/2
    mlp_units = layers.scaled_tanh(captured["intermediates"][f"Dense_{k}"]["__call__"][0])
    np.testing.assert_allclose(mlp_units, layers.TANH_SCALE * (2 * p - 1), atol=2e-5)
    v = p


def _restored(workdir, supervised):
  return (loop.restore if supervised else unsupervised.restore)(str(workdir))


@pytest.fixture(scope="module")
def layerwise(tmp_path_factory, mnist_dir):
  """Greedy layer-wise supervised training of two layers (the first frozen in the second stage), fine-tuned."""
  del mnist_dir
  workdir = tmp_path_factory.mktemp("layerwise")
  cfg = _cfg("layerwise_supervised", epochs=1)
  cfg.pretrain.epochs = 1
  return cfg, workdir, stages.run(cfg, str(workdir))


def test_layerwise_stages_freeze_what_they_say(layerwise):
  cfg, workdir, summaries = layerwise
  plan = stages.plan(cfg)
  assert [s.name for s in plan] == ["layer1", "layer2", "finetune"]
  assert [tuple(s.cfg.frozen) for s in plan] == [(), ("Dense_0",), ()]
  assert [tuple(s.cfg.model.hidden) for s in plan] == [(32,), (32, 16), (32, 16)]
  params = [_restored(stages.folder(str(workdir), i, s), True)[1].params for i, s in enumerate(plan)]
  # Stage 2 leaves the first layer bit-identical and trains its own; fine-tuning trains everything.
  jax.tree.map(np.testing.assert_array_equal, params[1]["Dense_0"], params[0]["Dense_0"])
  assert params[1]["Dense_1"]["kernel"].shape == (2, 32, 16) and params[0]["Dense_1"]["kernel"].shape == (2, 32, 10)
  for name in ("Dense_0", "Dense_1", "Dense_2"):
    assert not np.array_equal(params[2][name]["kernel"], params[1][name]["kernel"])
  # Member m of every stage trained at its own rate: greedy stages at member_lr0, fine-tuning at committee.lr0.
  np.testing.assert_allclose([e["lr"] for s in summaries for e in s["history"]], [[1e-3, 3e-3]] * 3, rtol=1e-6)
  assert [s["examples"] for s in summaries] == [992, 992, 992]  # 31 whole batches of 32 of 1,000 digits


def test_unfrozen_layerwise_stages_hold_nothing_fixed():
  cfg = _cfg("layerwise_supervised")
  cfg.pretrain.freeze = False
  assert [tuple(s.cfg.frozen) for s in stages.plan(cfg)] == [(), (), ()]


def _without_time(history):
  return [{k: v for k, v in e.items() if k != "seconds"} for e in history]


def _shortened(stage, epochs):
  cfg = stage.cfg.copy_and_resolve_references()
  cfg.epochs = epochs
  return stages.Stage(stage.name, stage.layer, stage.supervised, cfg)


def test_rbm_stage_resumed_mid_stage_is_bit_identical(tmp_path):
  """The second RBM of a chain on distorted digits, stopped after one of its three epochs and resumed, ends
  bit-identical to an uninterrupted one: weights, optimizer state, and every epoch's metrics."""
  cfg = _cfg("rbm_pretraining", augment=True)
  cfg.pretrain.epochs = 3
  first, second = stages.plan(cfg)[:2]
  below = stages.train_stage(_shortened(first, 1), str(tmp_path / "first"))["params"]
  start = stages.initial_params(second, below)
  straight = stages.train_stage(second, str(tmp_path / "straight"), start)
  stages.train_stage(_shortened(second, 1), str(tmp_path / "resumed"), start)
  resumed = stages.train_stage(second, str(tmp_path / "resumed"), start)
  assert straight["epochs"] == resumed["epochs"] == 3
  assert _without_time(straight["history"]) == _without_time(resumed["history"])
  a, b = (unsupervised.restore(str(tmp_path / name))[1] for name in ("straight", "resumed"))
  jax.tree.map(np.testing.assert_array_equal, train.arrays(a), train.arrays(b))
  # It trained on the first RBM's layer, held fixed, in the form the MLP takes it.
  jax.tree.map(np.testing.assert_array_equal, a.params["lower"], {"Dense_0": below["Dense_0"]})
  errors = [e["validation_reconstruction_error"][0] for e in straight["history"]]
  assert errors[-1] < errors[0]


def test_every_method_starts_from_the_end_to_end_nets_initial_weights():
  """The same seed stream: a layer-wise stage's new hidden layer, and the fine-tuning's fresh output layer,
  start from the weights the end-to-end net starts from (Flax draws each layer's from its name)."""
  cfg = _cfg("layerwise_supervised")
  cfg.model.hidden = (25, 20)
  end_to_end = train.create_state(jax.random.key(3), cfg, 1).params
  for stage in stages.plan(cfg):
    params = train.create_state(jax.random.key(3), stage.cfg, 1).params
    depth = stage.layer or 3  # fine-tuning: both hidden layers and the output layer
    for i in range(depth):
      jax.tree.map(np.testing.assert_array_equal, params[f"Dense_{i}"], end_to_end[f"Dense_{i}"])


def test_initial_parameters_must_fit_the_model():
  cfg = _cfg("layerwise_supervised")
  second = stages.plan(cfg)[1].cfg
  lay = committee.layout(2)
  fresh = committee.init_members(second, lay, 10)
  wrong = {"Dense_0": {"kernel": np.zeros((2, 841, 16), np.float32), "bias": np.zeros((2, 16), np.float32)}}
  with pytest.raises(ValueError, match=r"^initial parameters 'Dense_0' have shapes .*\(2, 841, 16\).*; the model's "
                                       r"are .*\(2, 841, 32\)"):
    committee.start_from(fresh, wrong, lay)
  with pytest.raises(ValueError, match=r"^initial parameters name 'Dense_7', which the model lacks \(Dense_0, "
                                       r"Dense_1, Dense_2\)$"):
    committee.start_from(fresh, {"Dense_7": wrong["Dense_0"]}, lay)
