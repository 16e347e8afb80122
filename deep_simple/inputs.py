"""The one input contract of the train step, the training epoch and prediction.

    images: B x H x W x C, (H, W, C) = config.input_shape (MNIST: 29 x 29 x 1 with config.pad_to_29, the paper's
            inputs); a one-channel batch may also come as B x H x W. uint8 pixels (0-255) or floating pixels in
            [0, 1]; background 0.
    labels: integers in [0, classes), shape B.

The model's own input range (config.input_range: [-1, 1] or [0, 1]) is applied inside, so every function
takes images as they come from `deep_simple.data` (uint8) or from `deep_simple.distort` (floating), and models
receive B x H x W x C.
Shapes and dtypes, an empty batch included, are checked when a function is traced, so also under `jax.jit`;
value ranges (pixels, labels) can only be checked on concrete arrays, outside `jit` (`train.jit_train_step`
checks them before its jitted step; under `jit` the step masks labels out of range, see train.make_train_step).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from deep_simple import config
from deep_simple import data


@dataclasses.dataclass(frozen=True)
class Inputs:
  shape: tuple[int, int, int]  # H, W, C of the images.
  signed: bool  # Model range [-1, 1] (else [0, 1]).
  classes: int  # Labels are in [0, classes).

  @classmethod
  def from_config(cls, cfg) -> "Inputs":
    return cls(config.input_shape(cfg), cfg.input_range == "signed", config.num_classes(cfg))

  def check(self, images, labels=None, where: str = "train_step") -> None:
    """One-line ValueError saying what was expected, for a wrong shape, dtype or (concrete) range."""
    shape = tuple(images.shape)
    h, w, c = self.shape
    if shape[1:] != (h, w, c) and not (c == 1 and shape[1:] == (h, w)):  # digits come as B x H x W
      expected = f"B x {h} x {w} (config.pad_to_29 = {h == 29})" if c == 1 else f"B x {h} x {w} x {c}"
      raise ValueError(f"{where}: expected images of shape {expected}; got {shape}")
    floating = jnp.issubdtype(images.dtype, jnp.floating)
    if images.dtype != np.uint8 and not floating:
      raise ValueError(f"{where}: expected uint8 pixels (0-255) or floating pixels in [0, 1]; got {images.dtype}")
    if not shape[0]:
      raise ValueError(f"{where}: expected at least one digit; got an empty batch {shape}")
    if labels is not None and (tuple(labels.shape) != shape[:1] or not jnp.issubdtype(labels.dtype, jnp.integer)):
      raise ValueError(f"{where}: expected {shape[0]} integer labels; got {labels.dtype} {tuple(labels.shape)}")
    if labels is not None and not isinstance(labels, jax.core.Tracer):
      low, high = int(labels.min()), int(labels.max())
      if low < 0 or high >= self.classes:
        raise ValueError(f"{where}: expected labels in [0, {self.classes}); got values in [{low}, {high}]")
    if floating and not isinstance(images, jax.core.Tracer):
      low, high = float(images.min()), float(images.max())
      if low < 0 or high > 1:
        raise ValueError(f"{where}: expected floating pixels in [0, 1] (or uint8 0-255); got values in "
                         f"[{low:.3g}, {high:.3g}]")

  @staticmethod
  def to_unit(images):
    """float32 pixels in [0, 1]."""
    return data.to_unit(images) if images.dtype == np.uint8 else images.astype(jnp.float32)

  def to_model(self, images):
    """float32 pixels in the model's range, B x H x W x C."""
    unit = self.to_unit(images)
    unit_BxHxWxC = unit.reshape(*unit.shape[:1], *self.shape)
    return data.to_signed(unit_BxHxWxC) if self.signed else unit_BxHxWxC
