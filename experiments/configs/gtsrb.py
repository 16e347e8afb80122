"""The MCDNN paper's GTSRB traffic-sign column (Ciresan, Meier & Schmidhuber, CVPR 2012; Ciresan et al., IJCNN
2011), for users who hold the data.

    python -m experiments.train --config=experiments/configs/gtsrb.py:column --workdir=runs/gtsrb

reads GTSRB as published from the folder in $DEEP_SIMPLE_GTSRB_DIR (or --config.mirror=<folder>). Every sign is
cropped to its region of interest and resized to 48x48. The column is 3x48x48-100C7-MP2-150C4-MP2-250C4-MP2-300N-43N,
valid convolutions 48 -C7-> 42 -MP2-> 21 -C4-> 18 -MP2-> 9 -C4-> 6 -MP2-> 3: 1,543,443 weights. Its notation is
the paper's as commonly quoted; the paper's full text was not at hand when this preset was written, so the
training recipe below is marked where it is not confirmed.
"""

from experiments.configs import common
from experiments.configs import mcdnn


def _column(c):
  c.dataset, c.pad_to_29, c.image_size = "gtsrb", False, 48
  c.model.maps, c.model.kernels, c.model.pools = (100, 150, 250), (7, 4, 4), (2, 2, 2)
  c.model.hidden = (300,)
  mcdnn.PRESETS["column_paper"](c)  # [recalled] The MCDNN recipe: scaled tanh, online, 1e-3 x 0.993 per epoch.
  # [recalled] Rotations up to 5 degrees and scaling up to 10 %, no elastic field; never flips (signs are not
  # symmetric: "turn left" would become "turn right").
  mcdnn.affine_only(c, max_rotation_deg=5.0, max_scale=0.10)
  # "paper": validate on the training images undistorted. A held-out tail would hold whole classes, as the
  # training images come class by class.
  c.protocol = "paper"
  c.epochs = 50
  c.eval_batch = 250  # 250 images' 100 maps of 42x42 and their patches take ~0.5 GB.


PRESETS = {"column": _column}


def get_config(preset: str = "column"):
  return common.select(PRESETS, preset, model="cnn")
