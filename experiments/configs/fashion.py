"""The MCDNN column and a committee of seven on Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 28x28 grayscale
clothes in 10 classes, read from Debian's dataset-fashion-mnist or $DEEP_SIMPLE_FASHION_MNIST_MIRROR.

    python -m experiments.train --config=experiments/configs/fashion.py:column --workdir=runs/fashion_column
    python -m experiments.train --config=experiments/configs/fashion.py:column \
        --config.distort.elastic=False --config.distort.hflip=True --workdir=runs/fashion_affine_flips

Clothes are not digits, so the augmentation is a choice for the validation images to make: the presets start
from the digits' (affine + elastic at 0.67 of the 2010 ranges, no flips); `--config.augment=False`,
`--config.distort.elastic=False` and `--config.distort.hflip=True` (a mirrored shirt is still a shirt; a
mirrored digit is not a digit) are the alternatives. Validation images are held out of training (the last 10,000
of the 60,000, `protocol="holdout"`): the undistorted training images that validate the digit runs cannot tell
which augmentation generalises.
"""

from experiments.configs import common
from experiments.configs import mcdnn


def _fashion(c):
  c.dataset, c.protocol = "fashion_mnist", "holdout"
  # No digit is a 1 or a 7 here: every class gets the full rotation and shear.
  c.distort.narrow_labels = ()


def _column(c):
  # The digit column's measured recipe (experiments/configs/mcdnn.py), online; 30 epochs of 50,000 images.
  _fashion(c)
  mcdnn.PRESETS["column"](c)


def _committee7(c):
  # Seven columns side by side, each with its own keys (initialisation, distortions, order), by mcdnn7's
  # mini-batch recipe; all see the original images (width normalisation is for digits).
  _fashion(c)
  mcdnn.PRESETS["mcdnn7"](c)
  c.committee.widths = ()


PRESETS = {"column": _column, "committee7": _committee7}


def get_config(preset: str = "column"):
  return common.select(PRESETS, preset, model="cnn")
