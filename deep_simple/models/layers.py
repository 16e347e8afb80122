"""Pieces shared by the model families: the paper's hidden unit and its initialiser."""

import jax
import jax.numpy as jnp


def scaled_tanh(a):
  """LeCun's scaled hyperbolic tangent, the paper's hidden unit: f(±1) = ±1."""
  return 1.7159 * jnp.tanh(0.6666 * a)


def symmetric_uniform(scale: float):
  """Initialiser drawing uniformly in [-scale, scale] (flax's `uniform` is one-sided)."""

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -scale, scale)

  return init
