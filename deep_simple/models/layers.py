"""Pieces shared by the model families: the paper's hidden unit and its initialiser."""

import jax
import jax.numpy as jnp


# LeCun's constants: f(a) = TANH_SCALE * tanh(TANH_SLOPE * a) maps ±1 to ±1.
TANH_SCALE = 1.7159
TANH_SLOPE = 0.6666


def scaled_tanh(a):
  """LeCun's scaled hyperbolic tangent, the paper's hidden unit: f(±1) = ±1."""
  return TANH_SCALE * jnp.tanh(TANH_SLOPE * a)


def symmetric_uniform(scale: float):
  """Initialiser drawing uniformly in [-scale, scale] (flax's `uniform` is one-sided)."""

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -scale, scale)

  return init
