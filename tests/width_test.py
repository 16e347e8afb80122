"""Width normalisation on real MNIST digits: box geometry, ink, shift invariance, bad input."""

import numpy as np
import pytest

from deep_simple import data
from deep_simple import width

WIDTHS = (10, 12, 14, 16, 18, 20)  # The MCDNN input widths, Ciresan et al. 2012.
NUM_DIGITS = 2000


@pytest.fixture(scope="module")
def digits_Nx28x28():
  images, _ = data.load("mnist", "train")
  return images[:NUM_DIGITS]


def _box(images_NxHxW):
  """(top, bottom, left, right) per image, bottom/right one past the last inked row/column."""
  def span(ink_NxK):
    return ink_NxK.argmax(1), ink_NxK.shape[1] - ink_NxK[:, ::-1].argmax(1)
  ink = images_NxHxW > 0
  return (*span(ink.any(2)), *span(ink.any(1)))


@pytest.mark.parametrize("pad", [False, True])
@pytest.mark.parametrize("w", WIDTHS)
def test_box_width_height_and_centre(digits_Nx28x28, w, pad):
  images = data.pad_to_29(digits_Nx28x28) if pad else digits_Nx28x28
  out = width.normalize_width(images, w)
  assert out.dtype == np.uint8 and out.shape == images.shape
  top0, bottom0, left0, right0 = _box(images)
  top, bottom, left, right = _box(out)
  # Width: w up to one faint edge column rounding to 0; in practice exact.
  assert np.all(np.abs(right - left - w) <= 1)
  assert np.mean(right - left == w) >= 0.999
  # Rows are never resampled: the box rows (so height and vertical position) stay, up to a faint
  # end row rounding to 0 when narrowing.
  assert np.all(np.abs(top - top0) <= 1) and np.all(np.abs(bottom - bottom0) <= 1)
  assert np.mean((top == top0) & (bottom == bottom0)) >= 0.999
  empty_rows_in = ~(images > 0).any(2)
  assert not np.any((out > 0).any(2) & empty_rows_in)
  # Centred: equal margins, or the right one a pixel wider when W - w is odd.
  image_width = images.shape[2]
  assert np.all(np.abs(left + right - image_width) <= 1)
  assert np.mean(left == (image_width - w) // 2) >= 0.999
  # Ink scales with the width ratio, row by row (rows expecting at least one full pixel of ink). The
  # antialiasing filter is what keeps the rows of narrowed digits within 10%: plain bilinear
  # sampling misses up to 2% of them at width 10.
  ratio_Nx1 = (w / (right0 - left0))[:, None]
  expected_NxH = images.sum(2, dtype=np.float64) * ratio_Nx1
  inked_rows = expected_NxH >= 255
  row_ratio = out.sum(2, dtype=np.float64)[inked_rows] / expected_NxH[inked_rows]
  assert np.mean(np.abs(row_ratio - 1) > 0.1) < 0.002
  digit_ratio = out.sum((1, 2), dtype=np.float64) / expected_NxH.sum(1)
  assert 0.9 < digit_ratio.min() and digit_ratio.max() < 1.05
  assert abs(digit_ratio.mean() - 1) < 0.02


def test_digit_already_at_width_is_only_moved(digits_Nx28x28):
  # Scale 1: every output pixel centre lands on an input pixel centre, so the digit is only moved.
  _, _, left0, right0 = _box(digits_Nx28x28)
  is_20 = right0 - left0 == 20
  assert is_20.sum() > 100
  out = width.normalize_width(digits_Nx28x28[is_20], 20)
  moved = np.stack([np.roll(image, 4 - left, axis=1) for image, left in zip(digits_Nx28x28[is_20], left0[is_20])])
  np.testing.assert_array_equal(out, moved)


def test_horizontal_position_of_input_does_not_matter(digits_Nx28x28):
  # Digits at least 4 columns from both borders, moved 2 columns each way: the kernel (at most
  # 28/10 px wide) never meets the border, so the output is the same up to float rounding, which
  # moves a few values sitting at .5 by one grey level.
  _, _, left0, right0 = _box(digits_Nx28x28)
  inner = digits_Nx28x28[(left0 >= 4) & (right0 <= 24)]
  assert len(inner) > 1000
  for w in (10, 20):
    reference = width.normalize_width(inner, w).astype(int)
    for shift in (-2, 2):
      shifted = width.normalize_width(np.roll(inner, shift, axis=2), w).astype(int)
      assert np.abs(shifted - reference).max() <= 1
      assert np.mean(shifted != reference) < 0.01


def test_zero_is_identity_and_a_copy(digits_Nx28x28):
  for images in (digits_Nx28x28, data.pad_to_29(digits_Nx28x28)):
    out = width.normalize_width(images, 0)
    np.testing.assert_array_equal(out, images)
    assert out is not images and not np.shares_memory(out, images)


def test_empty_images_are_unchanged(digits_Nx28x28):
  images = digits_Nx28x28[:4].copy()
  images[1] = 0
  out = width.normalize_width(images, 14)
  np.testing.assert_array_equal(out[1], 0)
  assert (out[[0, 2, 3]] > 0).any((1, 2)).all()


@pytest.mark.parametrize("bad", [-1, 29, 2.5, True, "14"])
def test_bad_width_raises_one_line(digits_Nx28x28, bad):
  with pytest.raises(ValueError, match=r"^width\.normalize_width: width must be an integer in \[0, 28\][^\n]*$"):
    width.normalize_width(digits_Nx28x28[:2], bad)


def test_full_width_allowed_and_bad_images_raise(digits_Nx28x28):
  assert width.normalize_width(data.pad_to_29(digits_Nx28x28[:2]), 29).shape == (2, 29, 29)
  with pytest.raises(ValueError, match=r"^width\.normalize_width: images must be uint8 NxHxW"):
    width.normalize_width(digits_Nx28x28[:2].astype(np.float32), 14)
  with pytest.raises(ValueError, match=r"^width\.normalize_width: images must be uint8 NxHxW"):
    width.normalize_width(digits_Nx28x28[0], 14)
