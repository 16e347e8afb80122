"""The MCDNN paper's CIFAR-10 column (Ciresan, Meier & Schmidhuber, CVPR 2012), for users who hold the data.

    python -m experiments.train --config=experiments/configs/cifar10.py:column --workdir=runs/cifar10

reads CIFAR-10's binary version from the folder in $DEEP_SIMPLE_CIFAR10_DIR (or --config.mirror=<folder>).
The column is 3x32x32-300C3-MP2-300C2-MP2-300C3-MP2-300C2-MP2-300N-100N-10N: 1,930,710 weights. Its notation is
the paper's as commonly quoted; the paper's full text was not at hand when this preset was written, so the
layer sizes, the padding and the training recipe below are marked where they are not confirmed.
"""

from experiments.configs import common
from experiments.configs import mcdnn


def _column(c):
  c.dataset, c.pad_to_29 = "cifar10", False
  c.model.maps, c.model.kernels, c.model.pools = (300, 300, 300, 300), (3, 2, 3, 2), (2, 2, 2, 2)
  c.model.hidden = (300, 100)
  # [not confirmed] Valid convolutions cannot give the notation's sizes (32 -C3-> 30 -MP2-> 15 -C2-> 14 -MP2-> 7
  # -C3-> 5, which 2x2 pooling does not divide); maps that keep their size do: 32 -> 16 -> 8 -> 4 -> 2, so
  # 300 maps of 2x2 feed the 300 hidden units.
  c.model.padding = "same"
  mcdnn.PRESETS["column_paper"](c)  # [recalled] The MCDNN recipe: scaled tanh, online, 1e-3 x 0.993 per epoch.
  # [not confirmed] Small affine distortions of the colour images (the paper's exact ranges were not found), no
  # elastic field (natural images); config.distort.hflip is available but not in the paper.
  mcdnn.affine_only(c, max_rotation_deg=5.0, max_scale=0.15)
  # Validation images held out of the 50,000 (the test images are never used to choose).
  c.protocol = "holdout"
  c.epochs = 100
  c.eval_batch = 250  # 250 images' 300 maps of 32x32 take ~300 MB per layer.


PRESETS = {"column": _column}


def get_config(preset: str = "column"):
  return common.select(PRESETS, preset, model="cnn")
