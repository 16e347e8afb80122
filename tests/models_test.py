"""Model families: Table 1's MLPs (parameter counts, initialisation, the scaled tanh) and the registry."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import config
from deep_simple import models
from deep_simple.models import layers
from deep_simple.models import mlp

# Table 1 of Ciresan et al. 2010 (weights include biases, 841 inputs): hidden layers, millions of weights
# truncated as printed.
TABLE1 = {"net1": ((1000, 500), 1.34), "net2": ((1500, 1000, 500), 3.26),
          "net3": ((2000, 1500, 1000, 500), 6.69), "net4": ((2500, 2000, 1500, 1000, 500), 12.11),
          "net5": ((1000,) * 9, 8.86)}


@pytest.mark.parametrize("net", sorted(TABLE1))
def test_parameter_counts_match_table1(net):
  hidden, millions = TABLE1[net]
  cfg = config.base_config()
  cfg.model.hidden = hidden
  count = models.count_params(cfg.model, config.input_shape(cfg), config.num_classes(cfg))
  sizes = (841, *hidden, 10)
  assert count == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
  assert int(count / 1e4) / 100 == millions
  assert models.describe(cfg.model, 10) == "-".join(map(str, (*hidden, 10)))


def test_init_is_symmetric_uniform_in_paper_range():
  params = mlp.MLP(hidden=(300,)).init(jax.random.key(1), jnp.zeros((1, 29, 29)))["params"]
  leaves = np.concatenate([np.ravel(x) for x in jax.tree.leaves(params)])
  assert leaves.min() >= -0.05 and leaves.max() <= 0.05
  assert leaves.min() < -0.049 and leaves.max() > 0.049  # both signs, the whole range
  assert abs(leaves.mean()) < 2e-3


def test_scaled_tanh_maps_one_to_one():
  np.testing.assert_allclose(layers.scaled_tanh(jnp.array([1.0, -1.0, 0.0])), [1.0, -1.0, 0.0], atol=2e-4)


def test_built_model_gives_logits_per_image():
  cfg = config.base_config()
  cfg.model.hidden = (32, 16)
  model = models.build(cfg.model, num_classes=7)
  params = model.init(jax.random.key(0), jnp.zeros((1, 29, 29)))
  assert model.apply(params, jnp.ones((5, 29, 29))).shape == (5, 7)


@pytest.mark.parametrize("edit, message", [
    (lambda c: setattr(c.model, "name", "cnn9"), r"config.model.name must be one of mlp.*; got 'cnn9'"),
    (lambda c: setattr(c.model, "hidden", (10, -5)), r"config.model.hidden must be positive integer widths; "
                                                     r"got \(10, -5\)"),
    (lambda c: setattr(c.model, "init_scale", 0.0), "config.model.init_scale must be positive"),
])
def test_bad_model_fields_are_one_line_errors(edit, message):
  cfg = config.base_config()
  edit(cfg)
  with pytest.raises(ValueError, match=message):
    config.validate(cfg)


def test_fields_of_another_family_are_refused():
  cfg = config.base_config()
  cfg.model.depth = 3
  del cfg.model["init_scale"]
  with pytest.raises(ValueError, match=r"fields of another family than 'mlp': unknown \['depth'\], "
                                       r"missing \['init_scale'\]"):
    config.validate(cfg)


def test_register_requires_the_four_functions():
  with pytest.raises(TypeError, match="model family 'half' lacks check, describe"):
    models.register("half", type("Half", (), {"config": staticmethod(dict), "build": staticmethod(dict)}))
  assert "half" not in models.FAMILIES
