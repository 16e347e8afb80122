"""Fields shared by every experiment config; the preset files set what differs."""

import ml_collections

from deep_simple import distort


def base_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = ""
  c.seed = 0

  # Data. Empty data_dir / mirror fall back to DEEP_SIMPLE_DATA_DIR / DEEP_SIMPLE_MNIST_MIRROR.
  c.dataset = "mnist"
  c.data_dir = ""
  c.mirror = ""
  c.protocol = "paper"  # Ciresan et al. 2010: validate on the undistorted training digits; or "holdout".
  c.train_limit = 0  # Train on the first n digits only (0: all).
  c.eval_limit = 0  # Validate and test on the first n digits only (0: all).
  c.pad_to_29 = True  # Ciresan et al. 2010: 29x29 inputs (841 weights per first-layer unit).
  c.input_range = "signed"  # Ciresan et al. 2010: pixels mapped to [-1, 1]; or "unit" for [0, 1].

  # Model: Table 1 of Ciresan et al. 2010.
  c.model = ml_collections.ConfigDict()
  c.model.hidden = (1000, 500)
  c.model.num_classes = 10
  c.model.init_scale = 0.05  # Ciresan et al. 2010 [recalled]: weights uniform in [-0.05, 0.05].

  # Training: online back-propagation with a per-epoch decaying rate.
  c.loss = "cross_entropy"  # Or "squared_error" on the scaled-tanh outputs (the paper-era loss).
  c.batch_size = 1  # Ciresan et al. 2010: one update per image.
  c.lr0 = 1e-3  # Ciresan et al. 2010 [recalled], per example.
  c.lr_decay = 0.97  # Ciresan et al. 2010 [recalled]: rate multiplied by 0.97 after every epoch...
  c.lr_min = 1e-6  # ... down to 1e-6 [recalled].
  c.lr_scaling = "linear"  # Mini-batches of B use B times the per-example rates; or "none".
  c.momentum = 0.0
  c.ema_decay = 0.0  # > 0 also evaluates a Polyak (exponential moving) average of the weights.
  c.epochs = 800  # Ciresan et al. 2010: up to 800 epochs.

  # Fresh affine + elastic distortions of every training digit, every epoch.
  c.augment = True
  c.distort = distort.default_config()

  # Committee: size 1 is a single net. Empty tuples mean "the same for every member".
  c.committee = ml_collections.ConfigDict()
  c.committee.size = 1
  c.committee.widths = ()  # MCDNN digit widths per member (0: original digits).
  c.committee.lr0 = ()
  c.committee.lr_decay = ()
  c.committee.rule = "mean"  # Mean of the softmax outputs (the papers' rule), or "vote".

  # Engineering.
  c.block_images = 10_000  # Digits distorted at once inside an epoch: bounds device memory.
  c.eval_batch = 10_000
  c.checkpoint_every = 1  # Epochs.
  c.keep_checkpoints = 2  # The newest ones; the best by validation error is kept as well.
  return c


def select(presets: dict, name: str) -> ml_collections.ConfigDict:
  """The config of preset `name`, with a one-line error listing the presets if it does not exist."""
  if name not in presets:
    raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(presets)}")
  c = base_config()
  c.name = name
  presets[name](c)
  return c
