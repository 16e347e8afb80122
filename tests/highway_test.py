"""The highway family on real MNIST: gate arithmetic, gradients through 50 layers, per-net gate biases,
weights per layer, config errors; the preset through experiments.train as a real process."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from deep_simple import committee
from deep_simple import config
from deep_simple import data
from deep_simple import hosts
from deep_simple import models
from deep_simple.models import highway

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model_cfg(**fields):
  cfg = config.base_config("highway").model
  cfg.update(fields)
  return cfg


@pytest.fixture(scope="module")
def digits(mnist_splits):
  """256 real test digits in model range ([-1, 1], 29x29) and their labels."""
  images, labels = mnist_splits["test"]
  return data.to_signed(data.to_unit(jnp.asarray(data.pad_to_29(images[:256])))), jnp.asarray(labels[:256])


def _init(cfg, digits, seed=0):
  model = models.build(cfg, 10)
  return model, model.init(jax.random.key(seed), digits[0][:1])["params"]


def test_closed_gates_are_the_identity_and_open_gates_the_plain_layer(digits):
  x, _ = digits
  # T -> 0 (b_T = -100): the four highway layers carry their input through, as if the net had none.
  closed, closed_params = _init(_model_cfg(depth=5, width=16, gate_bias=(-100.0, -100.0)), digits)
  shallow = models.build(_model_cfg(depth=1, width=16), 10)
  no_layers = {k: v for k, v in closed_params.items() if k != "layers"}
  np.testing.assert_allclose(closed.apply({"params": closed_params}, x), shallow.apply({"params": no_layers}, x),
                             rtol=1e-5, atol=1e-5)
  # T -> 1 (b_T = +100): each layer is its plain layer y = H(x), whose weights are the H half.
  for activation in highway.ACTIVATIONS:
    cfg = _model_cfg(depth=5, width=16, activation=activation, gate_bias=(100.0, 100.0))
    opened, params = _init(cfg, digits)
    plain = models.build(_model_cfg(depth=5, width=16, activation=activation, gated=False), 10)
    hidden = params["layers"]["hidden"]
    plain_params = {**params, "layers": {"hidden": {"kernel": hidden["kernel"][:, :, :16],
                                                    "bias": hidden["bias"][:, :16]}}}
    np.testing.assert_allclose(opened.apply({"params": params}, x), plain.apply({"params": plain_params}, x),
                               rtol=1e-5, atol=1e-5)


def test_a_layer_mixes_transform_and_carry_by_its_gate(digits):
  x, _ = digits
  model, params = _init(_model_cfg(depth=2, width=8, activation="tanh", gate_bias=(-1.0, -1.0)), digits)
  p = jax.tree.map(np.asarray, params)
  x0 = np.tanh(x.reshape(len(x), -1) @ p["input"]["kernel"] + p["input"]["bias"])
  z = x0 @ p["layers"]["hidden"]["kernel"][0] + p["layers"]["hidden"]["bias"][0]
  h, t = np.tanh(z[:, :8]), 1 / (1 + np.exp(-z[:, 8:]))
  y = h * t + x0 * (1 - t)
  np.testing.assert_allclose(model.apply({"params": params}, x), y @ p["output"]["kernel"] + p["output"]["bias"],
                             rtol=1e-4, atol=1e-5)
  gates_LxBxW = highway.transform_gates(model, params, x)
  assert gates_LxBxW.shape == (1, 256, 8)
  np.testing.assert_allclose(gates_LxBxW[0], t, rtol=1e-4, atol=1e-6)


def test_gradient_reaches_the_first_layer_of_a_50_layer_highway_net_not_of_a_plain_one(digits):
  """Measured on CPU at seeds 0-2: |grad| of the input layer 1.2e-2 to 2.4e-2 (highway, b_T = -2) against
  2.6e-8 to 3.4e-8 (plain): the plain net's signal fades through 49 ReLU layers of normalised init."""
  x, labels = digits
  norms = {}
  for kind, width in (("highway", 50), ("plain", 71)):
    model, params = _init(_model_cfg(depth=50, width=width, gated=kind == "highway"), digits)
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(model.apply({"params": p}, x), labels).mean()
    norms[kind] = float(jnp.linalg.norm(jax.grad(loss)(params)["input"]["kernel"]))
  assert norms["highway"] > 1e-3 and norms["plain"] < 1e-6, norms


def test_every_member_draws_its_own_gate_bias_from_its_init_key():
  cfg = config.base_config("highway")
  cfg.model.depth, cfg.model.width, cfg.model.gate_bias = 4, 8, (-10.0, -1.0)
  cfg.committee.size = 6
  lay = committee.layout(6)
  params = hosts.to_host(committee.init_members(cfg, lay, 1)).params
  b_T = highway.initial_gate_bias(params)
  assert b_T.shape == (6,) and len(set(b_T.tolist())) == 6 and np.all((-10 <= b_T) & (b_T <= -1)), b_T
  bias_MxLx2W = params["layers"]["hidden"]["bias"]
  np.testing.assert_array_equal(bias_MxLx2W[:, :, 8:], np.broadcast_to(b_T[:, None, None], (6, 3, 8)))
  assert not bias_MxLx2W[:, :, :8].any()  # b_H starts at 0
  again = hosts.to_host(committee.init_members(cfg, lay, 1)).params
  np.testing.assert_array_equal(highway.initial_gate_bias(again), b_T)  # a function of the keys alone
  cfg.model.gate_bias = (-3.0, -3.0)
  fixed = hosts.to_host(committee.init_members(cfg, lay, 1)).params
  np.testing.assert_array_equal(highway.initial_gate_bias(fixed), np.full(6, -3.0, np.float32))


@pytest.mark.parametrize("gated, width, per_layer", [(True, 50, 2 * (50 * 50 + 50)), (False, 71, 71 * 71 + 71)])
def test_highway_and_plain_layers_hold_about_5000_weights(gated, width, per_layer):
  count = lambda depth: models.count_params(_model_cfg(depth=depth, width=width, gated=gated), (28, 28, 1), 10)
  assert count(11) - count(10) == per_layer
  assert count(1) == 784 * width + width + width * 10 + 10
  assert models.describe(_model_cfg(depth=100, width=width, gated=gated), 10) == \
         f"{'highway' if gated else 'plain'} 100x{width} relu-10"


@pytest.mark.parametrize("field, value, message", [
    ("depth", -3, "config.model.depth must be a positive integer; got -3"),
    ("width", 0, "config.model.width must be a positive integer; got 0"),
    ("activation", "sigmoid", "config.model.activation must be one of relu, tanh; got 'sigmoid'"),
    ("gate_bias", (-1.0, -10.0), "config.model.gate_bias must be (low, high) with low <= high"),
    ("gate_bias", (-1.0,), "config.model.gate_bias must be (low, high) with low <= high"),
])
def test_bad_fields_are_one_line_errors(field, value, message):
  cfg = config.base_config("highway")
  cfg.model[field] = value
  with pytest.raises(ValueError) as error:
    config.validate(cfg)
  assert str(error.value).startswith(message) and "\n" not in str(error.value)


def _train(workdir, *overrides):
  return subprocess.run([sys.executable, "-m", "experiments.train", "--config=experiments/configs/highway.py:tiny",
                         f"--workdir={workdir}", *overrides], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_negative_depth_ends_the_entry_point_in_one_line(tmp_path):
  done = _train(tmp_path / "run", "--config.model.depth=-3")
  assert done.returncode == 1 and done.stderr == "error: config.model.depth must be a positive integer; got -3\n"
  assert not (tmp_path / "run").exists()


def test_the_tiny_preset_trains_through_the_entry_point(tmp_path, mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocess
  done = _train(tmp_path)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["architecture"] == "highway 5x32 tanh-10" and results["epochs"] == 2
  assert results["model"] == {"name": "highway", "depth": 5, "width": 32, "activation": "tanh", "gated": True,
                              "gate_bias": [-2.0, -2.0]}
  # 2 epochs of 2,000 distorted digits: 20.7 % measured on CPU; chance is 90 %.
  assert results["selected"]["test_error_at_best_validation"] < 0.35
