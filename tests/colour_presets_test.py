"""The MCDNN paper's CIFAR-10 and GTSRB columns: their architectures, and colour images through the whole loop
(distortion, train step, epoch, committee, evaluation) on files in the published formats."""

from deep_simple import config
from deep_simple import loop
from deep_simple import models
from experiments.configs import cifar10
from experiments.configs import gtsrb
from tests import colour_data


def _notation_and_weights(cfg):
  shape, classes = config.input_shape(cfg), config.num_classes(cfg)
  return models.notation(cfg.model, shape, classes), models.count_params(cfg.model, shape, classes)


def test_cifar10_column_is_the_papers_with_1930710_weights():
  # Maps keep their size (padding "same"): 32 -> 16 -> 8 -> 4 -> 2 after each pooling. Weights and biases:
  # 3*3*3*300 + 300 = 8,400; 2*2*300*300 + 300 = 360,300; 3*3*300*300 + 300 = 810,300; 360,300 again;
  # 300*2*2*300 + 300 = 360,300; 300*100 + 100 = 30,100; 100*10 + 10 = 1,010. Sum 1,930,710.
  cfg = cifar10.get_config("column")
  config.validate(cfg)
  assert _notation_and_weights(cfg) == ("3x32x32-300C3-MP2-300C2-MP2-300C3-MP2-300C2-MP2-300N-100N-10N", 1_930_710)


def test_gtsrb_column_is_the_papers_with_1543443_weights():
  # Valid convolutions: 48 -C7-> 42 -MP2-> 21 -C4-> 18 -MP2-> 9 -C4-> 6 -MP2-> 3. Weights and biases:
  # 7*7*3*100 + 100 = 14,800; 4*4*100*150 + 150 = 240,150; 4*4*150*250 + 250 = 600,250;
  # 250*3*3*300 + 300 = 675,300; 300*43 + 43 = 12,943. Sum 1,543,443.
  cfg = gtsrb.get_config("column")
  config.validate(cfg)
  assert _notation_and_weights(cfg) == ("3x48x48-100C7-MP2-150C4-MP2-250C4-MP2-300N-43N", 1_543_443)


def _shrunk(cfg, folder, **overrides):
  """The preset with narrow layers and a few steps, so the test takes seconds."""
  cfg.mirror, cfg.model.activation, cfg.model.weight_init, cfg.model.init_scale = (
      str(folder), "relu", "sqrt_fan_in", 2.45)
  cfg.model.maps = (4,) * len(cfg.model.maps)
  cfg.model.hidden = (8,) * len(cfg.model.hidden)
  cfg.batch_size, cfg.lr0, cfg.lr_decay, cfg.epochs = 8, 3e-3, 1.0, 1
  for key, value in overrides.items():
    cfg[key] = value
  return cfg


def test_cifar10_preset_trains_a_committee_on_the_binary_files(tmp_path):
  colour_data.write_cifar_folder(tmp_path / "cifar", per_batch=16)
  # Two members side by side; "paper": the 80 training images also validate (holdout needs 10,000).
  cfg = _shrunk(cifar10.get_config("column"), tmp_path / "cifar", protocol="paper")
  cfg.committee.size = 2
  results = loop.run(cfg, str(tmp_path / "run"))
  assert results["architecture"] == "4C3-MP2-4C2-MP2-4C3-MP2-4C2-MP2-8N-8N-10N"
  assert results["members"] == 2 and len(results["per_member"]) == 2
  assert 0 <= results["selected"]["test_error_at_best_validation"] <= 1


def test_gtsrb_preset_trains_on_the_published_layout(tmp_path):
  colour_data.write_gtsrb(tmp_path / "gtsrb", classes=3, per_class=8, test=6)
  cfg = _shrunk(gtsrb.get_config("column"), tmp_path / "gtsrb")
  results = loop.run(cfg, str(tmp_path / "run"))
  assert results["architecture"] == "4C7-MP2-4C4-MP2-4C4-MP2-8N-43N"
  assert results["test_digits"] == 6 and 0 <= results["selected"]["test_error_at_best_validation"] <= 1
