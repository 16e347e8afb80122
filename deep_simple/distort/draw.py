"""One digit's random distortion parameters."""

import jax
import jax.numpy as jnp

from deep_simple.distort import noise


def draw(key, label, h, w, cfg):
  """{rotation_deg, shear_deg, scale_x, scale_y, sigma, alpha, hflip: scalars; noise: 2 x H x W} for one digit.

  Angles are uniform in [-b, b] with b = cfg.narrow_max_deg for labels in cfg.narrow_labels, else the
  part's own bound. A part that is off gives the constants that leave the digit alone (angle 0, scale 1,
  alpha = sigma = 0, zero noise, no flip) and draws nothing. The flip's coin comes from a key of its own, so turning
  it on leaves the other draws as they were.
  """
  k_scalars, k_noise = jax.random.split(key)
  u_6 = jax.random.uniform(k_scalars, (6,), jnp.float32, -1.0, 1.0)
  narrow = jnp.isin(label, jnp.asarray(cfg.narrow_labels, jnp.int32))
  zero = jnp.zeros((), jnp.float32)

  def angle(u, on, max_deg):
    return u * jnp.where(narrow, cfg.narrow_max_deg, max_deg) if on else zero

  def in_range(u, low, high):
    return low + (u + 1) * (0.5 * (high - low))

  scale_x, scale_y = (1 + u_6[2:4] * cfg.max_scale) if cfg.scaling else (zero + 1, zero + 1)
  # Drawn row-major as H x 2 x W, the layout the smoothing wants (its transpose back cancels out).
  noise_2xHxW = (jnp.swapaxes(noise.uniform(k_noise, (h, 2, w), -1.0, 1.0), 0, 1) if cfg.elastic
                 else jnp.zeros((2, h, w)))
  return dict(
      rotation_deg=angle(u_6[0], cfg.rotation, cfg.max_rotation_deg),
      shear_deg=angle(u_6[1], cfg.shear, cfg.max_shear_deg),
      scale_x=scale_x, scale_y=scale_y,
      sigma=in_range(u_6[4], *cfg.sigma_range) if cfg.elastic else zero,
      alpha=in_range(u_6[5], *cfg.alpha_range) if cfg.elastic else zero,
      hflip=jax.random.bernoulli(jax.random.fold_in(key, 1)) if cfg.hflip else jnp.zeros((), bool),
      noise=noise_2xHxW)
