"""Table 1's architectures: parameter counts, initialisation range, the scaled tanh."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import models
from experiments.configs import paper

# Table 1 of Ciresan et al. 2010 (weights include biases, 841 inputs), in millions, truncated as printed.
TABLE1_MILLIONS = {"net1": 1.34, "net2": 3.26, "net3": 6.69, "net4": 12.11, "net5": 8.86}


@pytest.mark.parametrize("preset", sorted(TABLE1_MILLIONS))
def test_parameter_counts_match_table1(preset):
  cfg = paper.get_config(preset)
  model = models.from_config(cfg.model)
  shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 29, 29)))
  count = models.param_count(shapes["params"])
  sizes = (841,) + tuple(cfg.model.hidden) + (10,)
  assert count == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
  assert int(count / 1e4) / 100 == TABLE1_MILLIONS[preset]


def test_init_is_symmetric_uniform_in_paper_range():
  params = models.MLP(hidden=(300,)).init(jax.random.key(1), jnp.zeros((1, 29, 29)))["params"]
  leaves = np.concatenate([np.ravel(x) for x in jax.tree.leaves(params)])
  assert leaves.min() >= -0.05 and leaves.max() <= 0.05
  assert leaves.min() < -0.049 and leaves.max() > 0.049  # both signs, the whole range
  assert abs(leaves.mean()) < 2e-3


def test_scaled_tanh_maps_one_to_one():
  np.testing.assert_allclose(models.scaled_tanh(jnp.array([1.0, -1.0, 0.0])), [1.0, -1.0, 0.0], atol=2e-4)


def test_apply_gives_logits_per_image():
  model = models.MLP(hidden=(32, 16))
  params = model.init(jax.random.key(0), jnp.zeros((1, 29, 29)))
  logits = model.apply(params, jnp.ones((5, 29, 29)))
  assert logits.shape == (5, 10)
