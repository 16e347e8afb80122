"""Pixel-level preprocessing shared by training and evaluation; numpy or jax arrays alike."""

import jax.numpy as jnp
import numpy as np


def _xp(array):
  """numpy for numpy arrays, jax.numpy otherwise (jax arrays and tracers), so jit works."""
  return np if isinstance(array, np.ndarray) else jnp


def pad_to_29(images_Nx28x28):
  """images_Nx29x29: one background (0) row at the bottom and column at the right, same dtype.

  The paper's nets take 29x29 inputs.
  """
  if images_Nx28x28.shape[-2:] != (28, 28):
    raise ValueError(f"pad_to_29 expects ...x28x28 images, got shape {images_Nx28x28.shape}")
  pad = [(0, 0)] * (images_Nx28x28.ndim - 2) + [(0, 1), (0, 1)]
  return _xp(images_Nx28x28).pad(images_Nx28x28, pad)


def to_unit(images):
  """uint8 pixels -> float32 in [0, 1]."""
  if images.dtype != np.uint8:
    raise ValueError(f"to_unit expects uint8 pixels, got {images.dtype}")
  xp = _xp(images)
  return images.astype(xp.float32) / xp.float32(255)


def to_signed(images_unit):
  """[0, 1] -> [-1, 1] (2x - 1), the input range of the paper's nets."""
  return 2 * images_unit - 1
