"""Every preset of experiments/configs/ is a valid config; Table 1's presets are Table 1's nets."""

import pytest

from deep_simple import config
from experiments.configs import cifar10
from experiments.configs import committee
from experiments.configs import fashion
from experiments.configs import gtsrb
from experiments.configs import highway
from experiments.configs import mcdnn
from experiments.configs import paper
from experiments.configs import search

PRESET_FILES = {"paper": paper, "committee": committee, "search": search, "highway": highway, "mcdnn": mcdnn,
                "cifar10": cifar10, "gtsrb": gtsrb, "fashion": fashion}


@pytest.mark.parametrize("file, preset", [(f, p) for f, module in PRESET_FILES.items()
                                          for p in getattr(module, "PRESETS", getattr(module, "RECIPES", {}))])
def test_every_preset_validates(file, preset):
  cfg = PRESET_FILES[file].get_config(preset)
  config.validate(cfg)
  assert cfg.name == preset


@pytest.mark.parametrize("preset, hidden", [
    ("net1", (1000, 500)), ("net2", (1500, 1000, 500)), ("net3", (2000, 1500, 1000, 500)),
    ("net4", (2500, 2000, 1500, 1000, 500)), ("net5", (1000,) * 9)])
def test_table1_presets_train_online_for_800_epochs(preset, hidden):
  cfg = paper.get_config(preset)
  assert (cfg.model.name, tuple(cfg.model.hidden), cfg.batch_size, cfg.epochs) == ("mlp", hidden, 1, 800)
  assert (cfg.lr0, cfg.lr_decay, cfg.lr_min, cfg.model.init_scale) == (1e-3, 0.97, 1e-6, 0.05)
