"""Slow per-image numpy/scipy distortion, as public reimplementations do it; tests and benchmarks only.

Given the parameters deep_simple.distort drew (angles, scales, sigma, alpha and the raw noise), it
rebuilds the same sampling grid image by image with scipy.ndimage and must give the same digits.
"""

import numpy as np
import scipy.ndimage


def distort_one(image_HxW, rotation_deg, shear_deg, scale_x, scale_y, sigma, alpha, noise_2xHxW):
  """One image, float64 throughout: affine about the centre plus Simard's smoothed field."""
  h, w = image_HxW.shape
  theta, shear = np.deg2rad(rotation_deg), np.deg2rad(shear_deg)
  rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
  forward = rotation @ np.array([[1.0, np.tan(shear)], [0.0, 1.0]]) @ np.diag([scale_x, scale_y])
  y, x = np.mgrid[0:h, 0:w].astype(np.float64)
  centre = np.array([(w - 1) / 2, (h - 1) / 2])
  src_x, src_y = np.tensordot(np.linalg.inv(forward), np.stack([x - centre[0], y - centre[1]]), 1)
  src_x, src_y = src_x + centre[0], src_y + centre[1]
  if alpha != 0:
    noise = np.asarray(noise_2xHxW, np.float64)
    src_x = src_x + alpha * scipy.ndimage.gaussian_filter(noise[0], sigma, mode="constant", cval=0.0)
    src_y = src_y + alpha * scipy.ndimage.gaussian_filter(noise[1], sigma, mode="constant", cval=0.0)
  return scipy.ndimage.map_coordinates(np.asarray(image_HxW, np.float64), [src_y, src_x], order=1,
                                       mode="grid-constant", cval=0.0)


def distort_batch(images_BxHxW, params):
  """distort_one over a batch, with params as returned by deep_simple.distort(..., return_params=True)."""
  p = {k: np.asarray(v, np.float64) for k, v in params.items()}
  return np.stack([
      distort_one(images_BxHxW[i], p["rotation_deg"][i], p["shear_deg"][i], p["scale_x"][i],
                  p["scale_y"][i], p["sigma"][i], p["alpha"][i], p["noise"][i])
      for i in range(len(images_BxHxW))])

