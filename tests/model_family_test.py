"""A model family registered from outside the library trains through the normal entry point.

This file is also the config file of that run (`--config=tests/model_family_test.py`): loading it registers
the family, so neither the library nor experiments/ knows of it. The family is softmax regression on the
pixels: one dense layer.
"""

import json
import os
import subprocess
import sys

import flax.linen as nn
import ml_collections
import pytest

from deep_simple import config
from deep_simple import loop
from deep_simple import models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SoftmaxRegression:
  """The family: its fields, its module, its checks and its name in tables."""

  @staticmethod
  def config():
    return ml_collections.ConfigDict({"use_bias": True})

  @staticmethod
  def build(cfg, num_classes):
    return _Linear(num_classes, cfg.use_bias)

  @staticmethod
  def check(cfg, input_size):
    del input_size
    if not isinstance(cfg.use_bias, bool):
      raise ValueError(f"config.model.use_bias must be true or false; got {cfg.use_bias!r}")

  @staticmethod
  def describe(cfg, num_classes):
    return f"linear-{num_classes}{'' if cfg.use_bias else ' (no bias)'}"


class _Linear(nn.Module):
  num_classes: int
  use_bias: bool

  @nn.compact
  def __call__(self, images_BxHxW):
    return nn.Dense(self.num_classes, use_bias=self.use_bias)(images_BxHxW.reshape(images_BxHxW.shape[0], -1))


models.register("softmax_regression", SoftmaxRegression)


def get_config():
  c = config.base_config("softmax_regression")
  c.name = "softmax_regression"
  c.batch_size, c.epochs, c.train_limit, c.eval_limit = 16, 1, 3_000, 1_000
  c.lr0 = 3e-3
  c.augment = False  # Distorted digits are too hard for one layer in one short epoch.
  return c


def test_a_family_registered_here_trains_through_the_entry_point(tmp_path, mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocess
  done = subprocess.run([sys.executable, "-m", "experiments.train", f"--config={__file__}",
                         f"--workdir={tmp_path}"], cwd=REPO, capture_output=True, text=True, timeout=600)
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads((tmp_path / "results.json").read_text())
  assert results["architecture"] == "linear-10" and results["model"] == {"name": "softmax_regression",
                                                                          "use_bias": True}
  assert results["parameters_per_member"] == 29 * 29 * 10 + 10
  assert (results["train_digits"], results["validation_digits"], results["test_digits"]) == (3000, 1000, 1000)
  # One epoch of softmax regression on 3,000 digits: 15.6 % measured; chance is 90 %.
  assert results["selected"]["test_error_at_best_validation"] < 0.2

  cfg, state, record = loop.restore(str(tmp_path))  # importing this file registered the family here too
  assert cfg.model.name == "softmax_regression" and record["epoch"] == 1
  assert state.params["Dense_0"]["kernel"].shape == (1, 841, 10)


def test_the_family_trains_in_process_and_is_unknown_once_unregistered(tmp_path):
  cfg = get_config()
  cfg.model.use_bias = False
  results = loop.run(cfg, str(tmp_path))
  assert results["parameters_per_member"] == 29 * 29 * 10 and results["architecture"] == "linear-10 (no bias)"
  del models.FAMILIES["softmax_regression"]
  try:
    with pytest.raises(ValueError, match="config.model.name must be one of mlp"):
      config.validate(cfg)
  finally:
    models.register("softmax_regression", SoftmaxRegression)
