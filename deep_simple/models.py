"""The paper's plain MLPs as pure Flax linen modules: `MLP(...).init` / `.apply`."""

from collections.abc import Sequence

import flax.linen as nn
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


class MLP(nn.Module):
  """Fully connected net: flattened image -> scaled-tanh hidden layers -> logits."""

  hidden: Sequence[int] = (1000, 500)
  num_classes: int = 10
  init_scale: float = 0.05

  @nn.compact
  def __call__(self, images_BxHxW):
    x_BxD = images_BxHxW.reshape(images_BxHxW.shape[0], -1)
    init = symmetric_uniform(self.init_scale)
    for width in self.hidden:
      x_BxD = scaled_tanh(nn.Dense(width, kernel_init=init, bias_init=init)(x_BxD))
    return nn.Dense(self.num_classes, kernel_init=init, bias_init=init)(x_BxD)


def from_config(model_cfg) -> MLP:
  return MLP(hidden=tuple(model_cfg.hidden), num_classes=model_cfg.num_classes,
             init_scale=model_cfg.init_scale)


def param_count(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))
