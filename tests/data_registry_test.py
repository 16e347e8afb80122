"""A new dataset needs a registry entry, a reader for its format and a preset: all three written here."""

import numpy as np
import pytest

from deep_simple import config
from deep_simple import data
from deep_simple import loop


def _read_npz(folder, dataset, image_size):
  """A reader for a format the library does not know: one .npz per split."""
  del dataset, image_size
  return {split: (np.load(folder / f"{split}.npz")["x"], np.load(folder / f"{split}.npz")["y"])
          for split in ("train", "test")}


@pytest.fixture
def toy(tmp_path, monkeypatch):
  """Two classes of 6x10 images with 2 channels: class 1 is bright in channel 1, class 0 in channel 0."""
  rng = np.random.default_rng(0)
  for split, n in (("train", 96), ("test", 32)):
    y = rng.integers(0, 2, n)
    x = rng.integers(0, 60, (n, 6, 10, 2))
    x[np.arange(n), :, :, y] += 150
    np.savez(tmp_path / f"{split}.npz", x=x.astype(np.uint8), y=y)
  monkeypatch.setenv("DEEP_SIMPLE_TOY_DIR", str(tmp_path))
  dataset = data.Dataset(name="toy", files=(), label_names=("left", "right"), shape=(6, 10, 2), reader=_read_npz,
                         holds="train.npz and test.npz", mirror_env="DEEP_SIMPLE_TOY_DIR")
  data.register(dataset)
  yield dataset
  del data.DATASETS["toy"]


def _preset():
  c = config.base_config("cnn")
  c.dataset, c.pad_to_29 = "toy", False
  c.model.maps, c.model.kernels, c.model.pools, c.model.hidden = (4,), (3,), (2,), (8,)
  c.model.activation, c.model.weight_init, c.model.init_scale = "relu", "sqrt_fan_in", 2.45
  c.batch_size, c.lr0, c.epochs, c.distort.narrow_labels = 8, 3e-3, 3, ()
  return c


def test_a_dataset_registered_from_here_trains_through_the_loop(toy, tmp_path):
  cfg = _preset()
  config.validate(cfg)
  assert config.input_shape(cfg) == (6, 10, 2)
  results = loop.run(cfg, str(tmp_path / "run"))
  # 2x4x4 kernels + 4 biases; 6x10 -C3-> 4x8 -MP2-> 2x4 maps: 32 x 8 + 8; 8 x 2 + 2.
  assert results["parameters_per_member"] == 76 + 264 + 18
  assert results["selected"]["test_error_at_best_validation"] < 0.2


def test_its_images_are_checked_against_its_entry(toy, tmp_path):
  np.savez(tmp_path / "train.npz", x=np.zeros((4, 6, 9, 2), np.uint8), y=np.zeros(4, int))
  with pytest.raises(ValueError, match=r"^toy in \S+: wrong dims: expected uint8 Nx6x10x2 images and N labels, "
                                       r"got uint8 \(4, 6, 9, 2\)"):
    data.load("toy", "train")
