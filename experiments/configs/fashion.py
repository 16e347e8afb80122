"""The MCDNN column and a committee of seven on Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grayscale
clothes in 10 classes, read from Debian's dataset-fashion-mnist or $DEEP_SIMPLE_FASHION_MNIST_MIRROR.

    python -m experiments.train --config=experiments/configs/fashion.py:column --workdir=runs/fashion_column
    python -m experiments.campaign --preset=experiments/configs/fashion.py:committee7 \
        --out=results/fashion-cpu/committee7 --budget_minutes=90

Clothes are not digits, so the augmentation was the validation images' choice (results/fashion-cpu/README.md):
none. Validation images are held out of training (the last 10,000 of the 60,000, `protocol="holdout"`): the
undistorted training images that validate the digit runs cannot tell which augmentation generalises. The
alternatives measured stay flags: `--config.augment=True` with the digits' distortions at 0.67 of the 2010
ranges, `--config.distort.elastic=False` (affine only), `--config.distort.hflip=True` (a mirrored shirt is still
a shirt; a mirrored digit is not a digit).
"""

from experiments.configs import common
from experiments.configs import mcdnn


def _fashion(c):
  c.dataset, c.protocol = "fashion_mnist", "holdout"
  # No augmentation: on validation images the undistorted column (8.08 %) beat mirrored images (8.30 %) over
  # 30 epochs, and in 10-epoch probes affine distortions (9.9-10.0 %) and elastic ones (10.7 %) cost more.
  c.augment = False
  # No digit is a 1 or a 7 here: every class gets the full rotation and shear.
  c.distort.narrow_labels = ()


def _column(c):
  # The digit column's measured recipe (experiments/configs/mcdnn.py), online; 30 epochs of 50,000 images.
  _fashion(c)
  mcdnn.PRESETS["column"](c)


def _committee7(c):
  # Seven columns, each with its own keys (initialisation and order), by mcdnn7's
  # mini-batch recipe; all see the original images (width normalisation is for digits).
  _fashion(c)
  mcdnn.PRESETS["mcdnn7"](c)
  c.committee.widths = ()


PRESETS = {"column": _column, "committee7": _committee7}


def get_config(preset: str = "column"):
  return common.select(PRESETS, preset, model="cnn")
