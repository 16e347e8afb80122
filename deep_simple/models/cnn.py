"""Convolutional columns (Ciresan et al. 2011, 2012): convolutions, each followed by optional max pooling, then
fully connected layers, then the outputs, on images_BxHxWxC of any shape and channel count.

Layer i is `maps[i]` feature maps from a `kernels[i]` x `kernels[i]` convolution, max-pooled over
non-overlapping `pools[i]` x `pools[i]` windows (1: no pooling). The MCDNN column, 1x29x29-20C4-MP2-40C5-MP3-150N-10N,
is maps (20, 40), kernels (4, 5), pools (2, 3), hidden (150,): 76,040 weights. Convolutions are "valid" (a K x K
kernel shrinks the maps by K - 1) or, with padding "same", see zeros around their input maps so the maps keep
their size (K - 1 zeros in all, the extra one after for an even K, as XLA's SAME).
"""

from collections.abc import Sequence
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from deep_simple import conv
from deep_simple.models import layers

ACTIVATIONS = {"scaled_tanh": layers.scaled_tanh, "relu": jax.nn.relu}
PADDINGS = ("valid", "same")
# Weights uniform in [-s, s] with s = init_scale / fan_in (LeCun et al. 1998: 2.4) or init_scale / sqrt(fan_in)
# (2.45 ~ sqrt(6): He et al. 2015's uniform init for ReLU); biases start at 0.
INITS = ("fan_in", "sqrt_fan_in")


def fan_in_uniform(rule: str, scale: float):
  def init(key, shape, dtype=jnp.float32):
    fan_in = math.prod(shape[:-1])  # HWIO kernels and Dense (in, out) kernels alike
    bound = scale / (fan_in if rule == "fan_in" else math.sqrt(fan_in))
    return jax.random.uniform(key, shape, dtype, -bound, bound)
  return init


class Column(nn.Module):
  """A CNN column on images_BxHxWxC (model range), returning logits_BxK."""

  maps: Sequence[int] = (20, 40)
  kernels: Sequence[int] = (4, 5)
  pools: Sequence[int] = (2, 3)
  hidden: Sequence[int] = (150,)
  num_classes: int = 10
  activation: str = "scaled_tanh"
  weight_init: str = "fan_in"
  init_scale: float = 2.4
  conv_impl: str = "auto"
  padding: str = "valid"

  @nn.compact
  def __call__(self, images_BxHxWxC):
    act = ACTIVATIONS[self.activation]
    init = fan_in_uniform(self.weight_init, self.init_scale)
    x = images_BxHxWxC
    for maps, kernel, pool in zip(self.maps, self.kernels, self.pools):
      if self.padding == "same":
        x = jnp.pad(x, ((0, 0), ((kernel - 1) // 2, kernel // 2), ((kernel - 1) // 2, kernel // 2), (0, 0)))
      x = conv.Conv(maps, kernel, impl=self.conv_impl, kernel_init=init)(x)
      if pool > 1:
        # Pooling before an increasing activation computes the same function on pool^2 times fewer units.
        x = conv.max_pool(x, pool)
      x = act(x)
    x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = act(nn.Dense(width, kernel_init=init)(x))
    return nn.Dense(self.num_classes, kernel_init=init)(x)


def config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      maps=(20, 40),  # The MCDNN column, Ciresan et al. 2012.
      kernels=(4, 5),
      pools=(2, 3),
      hidden=(150,),
      activation="scaled_tanh",  # Ciresan et al. 2012; or "relu".
      weight_init="fan_in",  # Uniform in +-init_scale / fan_in; or "sqrt_fan_in": +-init_scale / sqrt(fan_in).
      init_scale=2.4,  # LeCun et al. 1998.
      conv_impl="auto",  # deep_simple/conv.py: im2col on CPU, the library convolution (cuDNN) elsewhere.
      padding="valid",  # Ciresan et al. 2012's digits; or "same": every convolution keeps the size of its maps.
  ))


def build(cfg, num_classes: int) -> Column:
  return Column(maps=tuple(cfg.maps), kernels=tuple(cfg.kernels), pools=tuple(cfg.pools),
                hidden=tuple(cfg.hidden), num_classes=num_classes, activation=cfg.activation,
                weight_init=cfg.weight_init,
                init_scale=cfg.init_scale, conv_impl=cfg.conv_impl, padding=cfg.padding)


def _positive_ints(values) -> bool:
  return all(isinstance(v, int) and v > 0 for v in values)


def check(cfg, input_shape: tuple[int, int, int]) -> None:
  maps, kernels, pools, hidden = (tuple(cfg[f]) for f in ("maps", "kernels", "pools", "hidden"))
  if not maps or len(kernels) != len(maps) or len(pools) != len(maps):
    raise ValueError(f"config.model.maps, kernels and pools need one value per conv layer (at least one); got "
                     f"{len(maps)}, {len(kernels)} and {len(pools)}")
  for field, values in (("maps", maps), ("kernels", kernels), ("pools", pools), ("hidden", hidden)):
    if not _positive_ints(values):
      raise ValueError(f"config.model.{field} must be positive integers; got {values}")
  choices = (("activation", cfg.activation, tuple(ACTIVATIONS)), ("weight_init", cfg.weight_init, INITS),
             ("conv_impl", cfg.conv_impl, conv.IMPLS), ("padding", cfg.padding, PADDINGS))
  for field, value, allowed in choices:
    if value not in allowed:
      raise ValueError(f"config.model.{field} must be one of {', '.join(allowed)}; got {value!r}")
  if not cfg.init_scale > 0:
    raise ValueError(f"config.model.init_scale must be positive; got {cfg.init_scale}")
  h, w, _ = input_shape
  for i, (kernel, pool) in enumerate(zip(kernels, pools)):
    if cfg.padding == "valid":
      if kernel > min(h, w):
        raise ValueError(f"config.model conv layer {i}: a {kernel}x{kernel} kernel does not fit its {h}x{w} "
                         "input maps")
      h, w = h - kernel + 1, w - kernel + 1
    if h % pool or w % pool:
      raise ValueError(f"config.model conv layer {i}: {pool}x{pool} pooling does not divide its {h}x{w} maps")
    h, w = h // pool, w // pool


def describe(cfg, num_classes: int) -> str:
  """The papers' notation without the input, e.g. "20C4-MP2-40C5-MP3-150N-10N"."""
  parts = []
  for maps, kernel, pool in zip(cfg.maps, cfg.kernels, cfg.pools):
    parts += [f"{maps}C{kernel}"] + ([f"MP{pool}"] if pool > 1 else [])
  return "-".join(parts + [f"{w}N" for w in (*cfg.hidden, num_classes)])
