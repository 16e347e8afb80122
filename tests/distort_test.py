"""Distortions of real MNIST digits: identity, independence, label-aware angles, the scipy reference."""

import functools
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import PIL.Image
import pytest

from deep_simple import data
from deep_simple import distort
from deep_simple.distort import noise
from tests import distort_reference

PARTS = ("rotation", "shear", "scaling", "elastic")


@pytest.fixture(scope="module")
def mnist_train():
  """(unit images_Nx28x28 float32, labels_N int32): the first 4,000 training digits."""
  images, labels = data.load("mnist", "train")
  return data.to_unit(images[:4000]), labels[:4000]


def _config(*on, **overrides):
  cfg = distort.default_config()
  for part in PARTS:
    cfg[part] = part in on
  cfg.update(overrides)
  return cfg


@functools.cache
def _jitted(on=PARTS, return_params=False, **overrides):
  """One jitted distort per config, so tests sharing shapes share its compilation."""
  cfg = _config(*on, **overrides)
  return jax.jit(functools.partial(distort.distort, cfg=cfg, return_params=return_params))


@pytest.fixture(scope="module")
def drawn(mnist_train):
  """(images, labels, out, params) of the default distortions of the 4,000 digits padded to 29x29."""
  images, labels = mnist_train
  images = data.pad_to_29(images)
  out, params = _jitted(return_params=True)(jax.random.key(5), images, labels)
  return images, labels, np.asarray(out), {k: np.asarray(v) for k, v in params.items()}


@pytest.mark.parametrize("pad", [False, True])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_all_parts_off_returns_the_input_bit_for_bit(mnist_train, pad, dtype):
  images, labels = mnist_train
  images = (data.pad_to_29(images[:33]) if pad else images[:33]).astype(dtype)
  out, params = _jitted(on=(), return_params=True)(jax.random.key(0), images, labels[:33])
  assert out.dtype == dtype
  np.testing.assert_array_equal(np.asarray(out, np.float32), np.asarray(images, np.float32))
  assert not np.any(np.asarray(params["rotation_deg"])) and not np.any(np.asarray(params["alpha"]))
  np.testing.assert_array_equal(params["scale_x"], 1.0)


@pytest.mark.parametrize("on, shape", [(PARTS, (29, 29)), (PARTS, (28, 28)), (PARTS, (28, 29)),
                                       *[((part,), (29, 29)) for part in PARTS]])
def test_matches_the_scipy_reference_on_real_digits(mnist_train, on, shape):
  images, labels = mnist_train
  h, w = shape
  images = np.pad(images[100:116], ((0, 0), (0, h - 28), (0, w - 28)))
  out, params = _jitted(on, return_params=True, max_scale=0.2)(jax.random.key(1), images, labels[100:116])
  expected = distort_reference.distort_batch(images, params)
  assert np.abs(np.asarray(out) - expected).max() < 1e-4
  assert np.abs(expected - images).mean() > 0.01  # The part did move ink.


def test_same_key_same_digits_other_key_other_digits(drawn):
  images, labels, first, _ = drawn
  fn = _jitted(return_params=True)
  again, other = (np.asarray(fn(jax.random.key(k), images, labels)[0]) for k in (5, 6))
  np.testing.assert_array_equal(first, again)
  assert np.all(np.abs(first - other).max(axis=(1, 2)) > 0.05)


def test_batch_slices_give_the_same_digits(drawn, monkeypatch):
  images, labels, sliced, _ = drawn
  assert distort._parts(len(labels)) > 1 or jax.default_backend() != "cpu"
  monkeypatch.setattr(distort, "_parts", lambda b: 1)
  whole = jax.jit(functools.partial(distort.distort, cfg=_config(*PARTS)))(jax.random.key(5), images, labels)
  np.testing.assert_allclose(whole, sliced, atol=1e-6)


def test_every_copy_of_one_digit_gets_its_own_distortion(mnist_train):
  # A batched torchvision ElasticTransform would move all 100 copies alike.
  images, labels = mnist_train
  copies = np.repeat(data.pad_to_29(images[:1]), 100, axis=0)
  fn = _jitted(("elastic",), return_params=True)
  out, params = fn(jax.random.key(3), copies, np.repeat(labels[:1], 100))
  flat = np.asarray(out).reshape(100, -1)
  gaps = np.abs(flat[:, None] - flat[None]).max(axis=2) + np.eye(100)
  assert gaps.min() > 0.01
  noise_Bx2xN = np.asarray(params["noise"]).reshape(100, 2, -1)
  across_images = np.corrcoef(noise_Bx2xN[:, 0])[~np.eye(100, dtype=bool)]
  assert np.abs(across_images).max() < 0.2  # 841 samples: |r| of independent fields ~ 0.035.


def test_x_and_y_fields_are_independent_uniform_noise(drawn):
  # Keras' elastic_transform seeds both axes alike: there the two channels would be equal.
  noise_Bx2xN = drawn[3]["noise"].reshape(4000, 2, -1)
  r_B = [np.corrcoef(n_2xN)[0, 1] for n_2xN in noise_Bx2xN]
  assert np.abs(r_B).max() < 0.2 and abs(np.mean(r_B)) < 0.01
  values = noise_Bx2xN.ravel()
  assert -1 < values.min() < -0.9999 and 0.9999 < values.max() < 1
  assert abs(values.mean()) < 0.001 and abs(values.var() - 1 / 3) < 0.001
  np.testing.assert_allclose(np.histogram(values, bins=20, range=(-1, 1))[0] / values.size, 0.05, atol=0.0005)


def test_noise_is_jax_random_uniform_bit_for_bit():
  # The unrolled hash is only faster: the same values as jax.random, per image key.
  keys = jax.random.split(jax.random.key(9), 3)
  fast = jax.jit(jax.vmap(lambda k: noise.uniform(k, (29, 2, 28), -1.0, 1.0)))(keys)
  slow = jax.vmap(lambda k: jax.random.uniform(k, (29, 2, 28), jnp.float32, -1.0, 1.0))(keys)
  np.testing.assert_array_equal(fast, slow)


def test_ones_and_sevens_turn_and_shear_at_most_narrow_angle(drawn):
  _, labels, _, params = drawn
  narrow = np.isin(labels, (1, 7))
  assert narrow.sum() > 500
  for name in ("rotation_deg", "shear_deg"):
    angle = np.abs(np.asarray(params[name]))
    assert angle[narrow].max() <= 7.5 and angle[narrow].max() > 7.4
    assert angle[~narrow].max() <= 15.0 and angle[~narrow].max() > 14.9
    assert np.mean(angle[~narrow] > 7.5) > 0.45  # Half of [-15, 15] lies beyond 7.5.
  for name, (low, high) in [("scale_x", (0.85, 1.15)), ("scale_y", (0.85, 1.15)), ("sigma", (5.0, 6.0)),
                            ("alpha", (36.0, 38.0))]:
    value = np.asarray(params[name])
    assert low <= value.min() < low + 0.01 and high - 0.01 < value.max() <= high, name


@pytest.mark.parametrize("batch, pad", [(1, False), (7, True)])
def test_shapes_and_bfloat16(mnist_train, batch, pad):
  images, labels = mnist_train
  images = data.pad_to_29(images[:batch]) if pad else images[:batch]
  fn = _jitted()
  out = fn(jax.random.key(6), images, labels[:batch])
  assert out.shape == images.shape and out.dtype == jnp.float32
  assert 0 <= float(out.min()) and float(out.max()) <= 1
  in_bf16 = images.astype(jnp.bfloat16)
  out_bf16 = fn(jax.random.key(6), in_bf16, labels[:batch])
  assert out_bf16.dtype == jnp.bfloat16
  # Computed in float32 from the same bfloat16 pixels, rounded once at the end.
  np.testing.assert_array_equal(out_bf16, fn(jax.random.key(6), in_bf16.astype(jnp.float32),
                                             labels[:batch]).astype(jnp.bfloat16))


def test_inside_a_larger_jitted_function(mnist_train):
  images, labels = mnist_train
  images, labels = jnp.asarray(data.pad_to_29(images[:96])), jnp.asarray(labels[:96])
  cfg = distort.default_config()

  @jax.jit
  def signed_blocks(key):  # Like an epoch: a scan over blocks, each distorted afresh, then mapped to [-1, 1].
    def block(carry, index):
      x = distort.distort(jax.random.fold_in(key, index), images.reshape(3, 32, 29, 29)[index],
                          labels.reshape(3, 32)[index], cfg)
      return carry, data.to_signed(x)
    return jax.lax.scan(block, None, jnp.arange(3))[1]

  out = signed_blocks(jax.random.key(2))
  assert out.shape == (3, 32, 29, 29)
  alone = _jitted()(jax.random.fold_in(jax.random.key(2), 1), images[32:64], labels[32:64])
  np.testing.assert_allclose(out[1], data.to_signed(alone), atol=1e-5)


def test_bad_input_is_one_clear_error(mnist_train):
  images, labels = mnist_train
  cfg = distort.default_config()
  with pytest.raises(ValueError, match="floating B x H x W"):
    distort.distort(jax.random.key(0), (images[:4] * 255).astype(np.uint8), labels[:4], cfg)
  with pytest.raises(ValueError, match="labels of shape"):
    distort.distort(jax.random.key(0), images[:4], labels[:3], cfg)
  with pytest.raises(ValueError, match="threefry2x32 key"):
    distort.distort(jax.random.key(0, impl="rbg"), images[:4], labels[:4], cfg)
  with pytest.raises(ValueError, match="sigma_range must be"):
    distort.distort(jax.random.key(0), images[:4], labels[:4], _config(*PARTS, sigma_range=(6.0, 5.0)))


def test_show_distortions_writes_the_grid(tmp_path):
  out = tmp_path / "grid.png"
  subprocess.run([sys.executable, "-m", "experiments.show_distortions", f"--out={out}", "--num_digits=2",
                  "--num_distortions=5", "--seed=1", "--distort.max_scale=0.2"], check=True)
  with PIL.Image.open(out) as png:
    width, height = png.size
  assert width > 2 * height > 0  # 6 columns of digits, 2 rows.
  bad = subprocess.run([sys.executable, "-m", "experiments.show_distortions", f"--out={out}.bad",
                        "--distort.sigma_range=(6.0, 5.0)"], capture_output=True, text=True)
  assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith("error: --distort: ")
  assert not (tmp_path / "grid.png.bad").exists()


def test_every_channel_of_an_image_moves_by_its_one_field(mnist_train):
  # Three different digits as the channels of one image: each channel comes out as that digit alone would.
  images, labels = mnist_train
  gray_3xBxHxW = images[:96].reshape(3, 32, 28, 28)
  colour_BxHxWx3 = np.moveaxis(gray_3xBxHxW, 0, -1)
  fn = _jitted()
  out_BxHxWx3 = np.asarray(fn(jax.random.key(7), colour_BxHxWx3, labels[:32]))
  for c in range(3):
    np.testing.assert_array_equal(out_BxHxWx3[..., c], fn(jax.random.key(7), gray_3xBxHxW[c], labels[:32]))
  one_channel = np.asarray(fn(jax.random.key(7), gray_3xBxHxW[0][..., None], labels[:32]))
  np.testing.assert_array_equal(one_channel[..., 0], out_BxHxWx3[..., 0])


def test_hflip_mirrors_about_half_the_images_and_leaves_the_other_draws_alone(mnist_train):
  images, labels = mnist_train
  key, batch = jax.random.key(3), (images[:200], labels[:200])
  out, params = _jitted(return_params=True)(key, *batch)
  flipped, flip_params = _jitted(return_params=True, hflip=True)(key, *batch)
  flips = np.asarray(flip_params["hflip"])
  assert 60 < flips.sum() < 140 and not np.asarray(params["hflip"]).any()
  np.testing.assert_array_equal(flip_params["noise"], params["noise"])
  expected = np.where(flips[:, None, None], np.asarray(out)[:, :, ::-1], np.asarray(out))
  np.testing.assert_array_equal(np.asarray(flipped), expected)
