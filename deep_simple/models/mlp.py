"""The paper's plain MLPs (Table 1 of Ciresan et al. 2010): flattened image -> scaled-tanh layers -> logits."""

from collections.abc import Sequence

import flax.linen as nn
import ml_collections

from deep_simple.models import layers


class MLP(nn.Module):
  """Fully connected net on images_BxHxWxC (model range), returning logits_BxK."""

  hidden: Sequence[int] = (1000, 500)
  num_classes: int = 10
  init_scale: float = 0.05

  @nn.compact
  def __call__(self, images_BxHxWxC):
    x_BxD = images_BxHxWxC.reshape(images_BxHxWxC.shape[0], -1)
    init = layers.symmetric_uniform(self.init_scale)
    for width in self.hidden:
      x_BxD = layers.scaled_tanh(nn.Dense(width, kernel_init=init, bias_init=init)(x_BxD))
    return nn.Dense(self.num_classes, kernel_init=init, bias_init=init)(x_BxD)


def config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      hidden=(1000, 500),  # Net 1 of Table 1, Ciresan et al. 2010.
      init_scale=0.05,  # Ciresan et al. 2010 [recalled]: weights uniform in [-0.05, 0.05].
  ))


def build(cfg, num_classes: int) -> MLP:
  return MLP(hidden=tuple(cfg.hidden), num_classes=num_classes, init_scale=cfg.init_scale)


def check(cfg, input_shape: tuple[int, int, int]) -> None:
  del input_shape  # Any image flattens.
  hidden = tuple(cfg.hidden)
  if not all(isinstance(w, int) and w > 0 for w in hidden):
    raise ValueError(f"config.model.hidden must be positive integer widths; got {hidden}")
  if not cfg.init_scale > 0:
    raise ValueError(f"config.model.init_scale must be positive; got {cfg.init_scale}")


def describe(cfg, num_classes: int) -> str:
  """Table 1's notation: hidden layers, then the outputs ("1000-500-10")."""
  return "-".join(map(str, (*cfg.hidden, num_classes)))
