"""The sampling grid of one digit: where each output pixel reads the input, affine and elastic in one map.

Output pixel p = (x, y) (column, row; y points down) reads the input at

    T^-1 (p - c) + c + alpha * (G_y @ noise @ G_x)(p),   c = ((W-1)/2, (H-1)/2),
    T = R(rotation) @ [[1, tan(shear)], [0, 1]] @ diag(scale_x, scale_y),

so the digit turns, shears horizontally and scales about the image centre; a flipped image (config hflip) reads
what pixel (W-1-x, y) reads. G is the Gaussian smoothing
matrix of scipy.ndimage.gaussian_filter1d(mode="constant", cval=0, truncate=4): kernel exp(-k^2 / 2 sigma^2)
for |k| <= int(4 sigma + 0.5), normalised to sum 1, zero outside the image.
"""

import jax
import jax.numpy as jnp
import numpy as np

_TRUNCATE = 4.0  # Kernel radius in sigmas, scipy.ndimage.gaussian_filter's default.
_HIGHEST = jax.lax.Precision.HIGHEST  # Full f32 matmuls on every backend (no TF32): the reference match.


def source_coordinates(params, h, w, cfg):
  """(src_x_HxW, src_y_HxW): the input column and row each output pixel reads."""
  (m00, m01), (m10, m11) = _inverse_affine(params)
  y_Hx1 = jnp.arange(h, dtype=jnp.float32)[:, None] - (h - 1) / 2
  x_W = jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2
  src_x_HxW = m00 * x_W + m01 * y_Hx1 + (w - 1) / 2
  src_y_HxW = m10 * x_W + m11 * y_Hx1 + (h - 1) / 2
  if cfg.elastic:
    field_WxHx2 = params["alpha"] * _smoothed_noise(params, h, w, cfg)
    src_x_HxW, src_y_HxW = src_x_HxW + field_WxHx2[:, :, 0].T, src_y_HxW + field_WxHx2[:, :, 1].T
  if cfg.hflip:
    src_x_HxW, src_y_HxW = (jnp.where(params["hflip"], src[:, ::-1], src) for src in (src_x_HxW, src_y_HxW))
  return src_x_HxW, src_y_HxW


def _inverse_affine(params):
  """T^-1 = diag(1/sx, 1/sy) @ Shear^-1 @ R^-1, as rows."""
  theta = jnp.deg2rad(params["rotation_deg"])
  cos, sin = jnp.cos(theta), jnp.sin(theta)
  tan = jnp.tan(jnp.deg2rad(params["shear_deg"]))
  # Shear^-1 @ R^-1 = [[1, -tan], [0, 1]] @ [[cos, sin], [-sin, cos]].
  sx, sy = params["scale_x"], params["scale_y"]
  return ((cos + tan * sin) / sx, (sin - tan * cos) / sx), (-sin / sy, cos / sy)


def _smoothed_noise(params, h, w, cfg):
  """G_y @ noise_c @ G_x for both axes c at once, stored transposed: W x H x 2.

  Both matmuls keep the 2 x 29 columns of both axes in their long output dimension, which runs the
  batched matmuls about 1.5x faster on CPU than 29 columns; the transposed read fuses into the sampling.
  """
  g_y_HxH = _gaussian_matrix(params["sigma"], h, cfg)
  g_x_WxW = g_y_HxH if h == w else _gaussian_matrix(params["sigma"], w, cfg)
  noise_Hx2W = jnp.swapaxes(params["noise"], 0, 1).reshape(h, 2 * w)  # Cancels draw's transpose.
  cols_Hx2xW = jnp.matmul(g_y_HxH, noise_Hx2W, precision=_HIGHEST).reshape(h, 2, w)
  # G_x is symmetric: summing each row against its columns smooths along x.
  return jnp.einsum("wv,hcw->vhc", g_x_WxW, cols_Hx2xW, precision=_HIGHEST)


def _gaussian_matrix(sigma, n, cfg):
  """G_nxn with G @ v = gaussian_filter1d(v, sigma, mode="constant", truncate=4)."""
  max_radius = int(_TRUNCATE * max(cfg.sigma_range) + 0.5)
  offset_K = np.arange(max_radius + 1)
  weight_K = jnp.where(offset_K <= jnp.floor(_TRUNCATE * sigma + 0.5),
                       jnp.exp(-0.5 * jnp.square(offset_K / sigma)), 0.0)
  weight_K /= 2 * jnp.sum(weight_K) - 1  # Offsets -r..r; offset 0 has weight 1; taps off the image count too.
  # Spread the weights over the Toeplitz matrix by a one-hot product (batched: a matmul; a gather is slower).
  distance_nn = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]).reshape(-1)
  spread_Kxnn = (offset_K[:, None] == distance_nn[None, :]).astype(np.float32)
  return jnp.matmul(weight_K, spread_Kxnn, precision=_HIGHEST).reshape(n, n)
