"""Digit width normalisation: the input variants of the MCDNN committee.

Ciresan, Meier & Schmidhuber (CVPR 2012) train the 35 columns of their committee on seven versions of
MNIST: the original digits, and digits whose bounding box is rescaled horizontally to 10, 12, 14, 16,
18 or 20 pixels (PAPER.md). Columns that see differently proportioned digits make different errors,
which is what averaging their outputs exploits.

Conventions:
- The bounding box spans every row and column holding a pixel > 0. MNIST digits are anti-aliased, so
  their faint rim is part of the digit; any other threshold would be arbitrary.
- Only columns change. The box's outer edges [left, right) are mapped onto [offset, offset + width)
  with offset = (W - width) // 2, so the box is centred horizontally (exactly when W - width is even,
  half a pixel left otherwise); rows, and hence the height and vertical position, are untouched.
- Resampling is jax.image.scale_and_translate's "linear" with antialias: bilinear interpolation when a
  digit is widened, a triangle filter spanning each output pixel's footprint (area-like) when it is
  narrowed, so thin strokes are averaged rather than skipped. Ink per row scales with the width ratio.
- The interpolation kernel reaches past the box edges; the columns outside it are set to 0 so the
  new box is `width` pixels wide. A faint edge column can round to 0, so a box may come out one pixel
  narrower. Since width <= W, nothing is ever cut by the image border.
- Values are rounded to the nearest integer. Empty images come back unchanged (all zeros); width 0
  means the original digits (a copy).
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np


def normalize_width(images_NxHxW: np.ndarray, width: int) -> np.ndarray:
  """Rescales each digit horizontally so its bounding box is `width` pixels wide, centred.

  Args:
    images_NxHxW: uint8 digits, background 0 (e.g. 28x28 or 29x29).
    width: the bounding-box width in pixels, 1..W; 0 returns the input unchanged (a copy).

  Returns:
    uint8 images of the same shape.
  """
  images_NxHxW = np.asarray(images_NxHxW)
  if images_NxHxW.ndim != 3 or images_NxHxW.dtype != np.uint8:
    raise ValueError(f"width.normalize_width: images must be uint8 NxHxW, got {images_NxHxW.dtype} "
                     f"{images_NxHxW.shape}")
  image_width = images_NxHxW.shape[2]
  if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or not 0 <= width <= image_width:
    raise ValueError(f"width.normalize_width: width must be an integer in [0, {image_width}] "
                     f"(0 = original), got {width!r}")
  if width == 0:
    return images_NxHxW.copy()
  return np.asarray(_normalize_batch(images_NxHxW, int(width)))


@functools.partial(jax.jit, static_argnums=1)
def _normalize_batch(images_NxHxW, width):
  return jax.vmap(functools.partial(_normalize_one, width=width))(images_NxHxW)


def _normalize_one(image_HxW, width):
  height, image_width = image_HxW.shape
  ink_W = jnp.any(image_HxW > 0, axis=0)
  left = jnp.argmax(ink_W)
  right = image_width - jnp.argmax(ink_W[::-1])  # One past the last inked column.
  scale = width / (right - left)  # An empty image gives left=0, right=W and stays all zeros.
  offset = (image_width - width) // 2
  resampled_HxW = jax.image.scale_and_translate(
      image_HxW.astype(jnp.float32), (height, image_width), spatial_dims=(1,),
      scale=scale[None], translation=(offset - left * scale)[None], method="linear", antialias=True)
  columns_W = jnp.arange(image_width)
  in_box_W = (columns_W >= offset) & (columns_W < offset + width)
  resampled_HxW = jnp.where(in_box_W, resampled_HxW, 0.0)
  return jnp.clip(jnp.round(resampled_HxW), 0, 255).astype(jnp.uint8)
