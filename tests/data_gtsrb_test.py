"""GTSRB as published: PPM images and semicolon-separated CSV files the test writes, cropped and resized."""

import numpy as np
import pytest

from deep_simple import data
from deep_simple.data import gtsrb
from tests import colour_data


def test_ppm_parses_what_it_encodes_and_skips_header_comments():
  image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
  np.testing.assert_array_equal(gtsrb.parse_ppm(gtsrb.encode_ppm(image), "a.ppm"), image)
  commented = b"P6\n# made by a camera\n7 5\n255\n" + image.tobytes()
  np.testing.assert_array_equal(gtsrb.parse_ppm(commented, "a.ppm"), image)


def test_resize_keeps_flat_images_flat_same_sizes_alone_and_every_pixel_when_shrinking():
  np.testing.assert_array_equal(gtsrb.resize(np.full((30, 17, 3), 77, np.uint8), 12), 77)
  image = np.random.default_rng(1).integers(0, 256, (9, 9, 3), dtype=np.uint8)
  np.testing.assert_array_equal(gtsrb.resize(image, 9), image)
  # 8 -> 2: output pixel 0 is centred on input pixel 1.5; a plain bilinear filter would miss pixel 0.
  dot = np.zeros((8, 8, 1), np.uint8)
  dot[0, 0] = 255
  assert gtsrb.resize(dot, 2)[0, 0, 0] > 0


def test_load_crops_to_the_region_of_interest_and_resizes(tmp_path):
  colour_data.write_gtsrb(tmp_path, classes=3, per_class=4, test=5)
  images, labels = data.load("gtsrb", "train", mirror=tmp_path, image_size=12)
  assert images.shape == (12, 12, 12, 3) and images.dtype == np.uint8
  np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 4))
  # The first training image, by hand: its region of interest (5-pixel margins) resized to 12x12.
  class_dir = tmp_path / "GTSRB" / gtsrb.TRAIN / "00000"
  first = gtsrb.parse_ppm((class_dir / "00000_00000.ppm").read_bytes(), "")
  np.testing.assert_array_equal(images[0], gtsrb.resize(first[5:-5, 5:-5], 12))
  test_images, test_labels = data.load("gtsrb", "test", mirror=tmp_path, image_size=12)
  assert test_images.shape == (5, 12, 12, 3) and test_labels.shape == (5,)
  assert data.load("gtsrb", "test", mirror=tmp_path)[0].shape == (5, 48, 48, 3)  # the dataset's own size


@pytest.mark.parametrize("damage, message", [
    (lambda ppm: ppm[:-10], r"00000_00001.ppm: truncated: \d+ bytes of pixels, a \d+x\d+ PPM needs \d+$"),
    (lambda ppm: b"P3" + ppm[2:], r"00000_00001.ppm: corrupt: not a binary PPM header"),
    (lambda ppm: ppm[:6], r"00000_00001.ppm: truncated: the PPM header ends after"),
])
def test_a_corrupt_or_truncated_image_is_one_line_naming_it(tmp_path, damage, message):
  colour_data.write_gtsrb(tmp_path, classes=1, per_class=4, test=2)
  path = tmp_path / "GTSRB" / gtsrb.TRAIN / "00000" / "00000_00001.ppm"
  path.write_bytes(damage(path.read_bytes()))
  with pytest.raises(ValueError, match=message) as e:
    data.load("gtsrb", "train", mirror=tmp_path, image_size=8)
  assert "\n" not in str(e.value)


def test_a_truncated_csv_or_a_region_outside_the_image_is_one_line(tmp_path):
  colour_data.write_gtsrb(tmp_path, classes=1, per_class=4, test=2)
  csv_path = tmp_path / gtsrb.TEST_CSV
  csv_path.write_text(csv_path.read_text()[:-12])
  with pytest.raises(ValueError, match=r"GT-final_test.csv: corrupt or truncated at line 3") as e:
    data.load("gtsrb", "test", mirror=tmp_path, image_size=9)
  assert "\n" not in str(e.value)
  csv_path = tmp_path / "GTSRB" / gtsrb.TRAIN / "00000" / "GT-00000.csv"
  lines = csv_path.read_text().splitlines()
  name, w, h, *_ = lines[1].split(";")
  lines[1] = f"{name};{w};{h};0;0;{int(w) + 1};{h};0"
  csv_path.write_text("\n".join(lines) + "\n")
  with pytest.raises(ValueError, match=r"00000_00000.ppm: corrupt: a \d+x\d+ image; .* says .* with region of "
                                       r"interest \(0, 0\)-\(\d+, \d+\)$"):
    data.load("gtsrb", "train", mirror=tmp_path, image_size=10)


def test_a_folder_without_gtsrb_says_what_it_should_hold(tmp_path):
  with pytest.raises(ValueError, match=r"does not hold GTSRB as published: expected GTSRB/Final_Training/Images/"):
    data.load("gtsrb", "train", mirror=tmp_path, image_size=11)
