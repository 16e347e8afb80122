"""Committees of MLPs: Ciresan, Meier, Gambardella & Schmidhuber 2011 (7 MLPs, 0.31 %).

Select a preset after the colon: `--config=experiments/configs/committee.py:mlp7`.
"""

from experiments.configs import common
from experiments.configs import paper


def _mlp7(c):
  # 2011: seven MLPs whose inputs differ by digit-width normalisation; outputs averaged.
  paper.PRESETS["net4"](c)
  c.committee.size = 7
  c.committee.widths = (0, 10, 12, 14, 16, 18, 20)


def _mlp7_b32(c):
  _mlp7(c)
  c.batch_size = 32


def _tiny4(c):
  # Tests and smoke runs: four small members on a slice of MNIST.
  paper.PRESETS["tiny"](c)
  c.committee.size = 4


PRESETS = {"mlp7": _mlp7, "mlp7_b32": _mlp7_b32, "tiny4": _tiny4}


def get_config(preset: str = "mlp7"):
  return common.select(PRESETS, preset)
