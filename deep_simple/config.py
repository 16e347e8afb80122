"""The run config: every field a run depends on, its defaults, and its validation, in one place.

    cfg = config.base_config()            # net 1 of Ciresan et al. 2010, online, 800 epochs
    cfg = config.base_config("mlp")       # the same; another registered family gets its own model fields
    config.validate(cfg)                  # one-line ValueError naming the first field that cannot work
    h, w, c = config.input_shape(cfg)     # the images the model takes: (29, 29, 1) for MNIST padded to 29

Preset files (experiments/configs/*.py) start from `base_config` and set what differs.
"""

import json

import ml_collections

from deep_simple import data
from deep_simple import distort
from deep_simple import models

LOSSES = ("cross_entropy", "squared_error")
INPUT_RANGES = ("signed", "unit")
LR_SCALINGS = ("linear", "none")
RULES = ("mean", "vote")
REPORTED_WEIGHTS = ("params", "ema")
# Fields that say where the data comes from, not what is trained: a run folder's identity ignores them.
LOCATION_FIELDS = ("data_dir", "mirror")
# Fields that say how a run is executed, not what it computes: a run folder's identity ignores them too (a run
# out of memory resumes with a smaller eval_batch).
EXECUTION_FIELDS = ("eval_batch", "checkpoint_every", "keep_checkpoints")


def base_config(model: str = "mlp") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.name = ""
  c.seed = 0

  # Data. Empty data_dir / mirror fall back to DEEP_SIMPLE_DATA_DIR / the dataset's mirror variable
  # (DEEP_SIMPLE_MNIST_MIRROR, DEEP_SIMPLE_CIFAR10_DIR, ...; deep_simple/data/registry.py).
  c.dataset = "mnist"
  c.data_dir = ""
  c.mirror = ""
  c.protocol = "paper"  # Ciresan et al. 2010: validate on the undistorted training digits; or "holdout".
  c.train_limit = 0  # Train on n digits only, a fixed random subset (0: all).
  c.eval_limit = 0  # Validate and test on n digits only, fixed random subsets (0: all).
  c.validation_limit = 0  # Validate on n digits only, overriding eval_limit (0: eval_limit's).
  c.pad_to_29 = True  # Ciresan et al. 2010: 29x29 inputs (841 weights per first-layer unit); 28x28 digits only.
  c.image_size = 0  # Side the images are resized to, for datasets whose reader resizes (GTSRB); 0: the dataset's.
  c.input_range = "signed"  # Ciresan et al. 2010: pixels mapped to [-1, 1]; or "unit" for [0, 1].

  # Model: `name` picks the family (deep_simple/models), the other fields are the family's own.
  c.model = models.default_config(model)

  # Training: online back-propagation with a per-epoch decaying rate.
  c.loss = "cross_entropy"  # Or "squared_error" on the scaled-tanh outputs (the paper-era loss).
  c.batch_size = 1  # Ciresan et al. 2010: one update per image.
  c.lr0 = 1e-3  # Ciresan et al. 2010 [recalled], per example.
  c.lr_decay = 0.97  # Ciresan et al. 2010 [recalled]: rate multiplied by 0.97 after every epoch...
  c.lr_min = 1e-6  # ... down to 1e-6 [recalled].
  c.lr_scaling = "linear"  # A batch of B digits steps B times the per-example rate; or "none".
  c.momentum = 0.0
  c.ema_decay = 0.0  # > 0 also evaluates a Polyak (exponential moving) average of the weights.
  # The weights whose errors select the best epoch and are reported ("ema" needs ema_decay > 0); the other
  # ones are evaluated and recorded beside them.
  c.reported_weights = "params"
  c.epochs = 800  # Ciresan et al. 2010: up to 800 epochs.
  c.frozen = ()  # Top-level parameter names (e.g. "Dense_0") the optimizer holds fixed: layer-wise training.
  # A non-finite loss ends the run (keeping the last good checkpoint); False records it and trains on, so one
  # diverging member of a random search does not stop the others.
  c.stop_on_nonfinite = True

  # Fresh affine + elastic distortions of every training digit, every epoch.
  c.augment = True
  c.distort = distort.default_config()

  # Committee: size 1 is a single net. Empty tuples mean "the same for every member".
  c.committee = ml_collections.ConfigDict()
  c.committee.size = 1
  c.committee.widths = ()  # MCDNN digit widths per member (0: original digits).
  c.committee.lr0 = ()
  c.committee.lr_decay = ()
  c.committee.momentum = ()
  c.committee.rule = "mean"  # Mean of the softmax outputs (the papers' rule), or "vote".
  # A member run trains this one member of the committee (-1: all of them), with the keys, width and rates it
  # has inside the committee, so members trained apart (other cores, machines, days) combine afterwards.
  c.committee.member = -1

  # Engineering.
  c.block_images = 10_000  # Digits distorted at once inside an epoch: bounds device memory.
  c.eval_batch = 10_000
  c.checkpoint_every = 1  # Epochs.
  c.keep_checkpoints = 2  # The newest ones; the checkpoint of the best validation epoch is kept as well.
  return c


def input_shape(cfg) -> tuple[int, int, int]:
  """(H, W, C) of the images the model takes: the dataset's, padded to 29x29 with config.pad_to_29."""
  h, w, c = data.image_shape(cfg.dataset, cfg.image_size)
  return (29, 29, c) if cfg.pad_to_29 else (h, w, c)


def from_fields(fields: dict) -> ml_collections.ConfigDict:
  """The config of recorded fields (a run's config.json, a checkpoint's or a release's) as they were recorded, with
  the defaults of the fields added since: the behaviour the run had."""
  def merged(defaults: dict, recorded: dict) -> dict:
    return {**defaults, **{name: merged(defaults[name], value) if isinstance(defaults.get(name), dict) else value
                           for name, value in recorded.items()}}
  return ml_collections.ConfigDict(merged(json.loads(base_config(fields["model"]["name"]).to_json()), fields))


def num_classes(cfg) -> int:
  return len(data.registry.get(cfg.dataset).label_names)


def trained_members(cfg) -> tuple[int, ...]:
  """Committee indices of the members a run of `cfg` trains: all of them, or a member run's one."""
  member = cfg.committee.get("member", -1)  # a config recorded before member runs existed trains all
  return (member,) if member >= 0 else tuple(range(cfg.committee.size))


def validate(cfg) -> None:
  """Rejects a config that cannot run, in one line, before anything is loaded or written."""
  choices = [("loss", cfg.loss, LOSSES), ("input_range", cfg.input_range, INPUT_RANGES),
             ("lr_scaling", cfg.lr_scaling, LR_SCALINGS), ("protocol", cfg.protocol, data.PROTOCOLS),
             ("dataset", cfg.dataset, tuple(data.DATASETS)), ("committee.rule", cfg.committee.rule, RULES),
             ("reported_weights", cfg.reported_weights, REPORTED_WEIGHTS)]
  for field, value, allowed in choices:
    if value not in allowed:
      raise ValueError(f"config.{field} must be one of {', '.join(allowed)}; got {value!r}")
  positive = ("batch_size", "epochs", "lr0", "lr_decay", "checkpoint_every", "keep_checkpoints",
              "block_images", "eval_batch")
  for field in positive:
    if not cfg[field] > 0:
      raise ValueError(f"config.{field} must be positive; got {cfg[field]!r}")
  if not (cfg.lr_decay <= 1 and 0 <= cfg.lr_min and 0 <= cfg.momentum < 1 and 0 <= cfg.ema_decay < 1):
    raise ValueError("config needs lr_decay <= 1, lr_min >= 0, 0 <= momentum < 1 and 0 <= ema_decay < 1; got "
                     f"{cfg.lr_decay}, {cfg.lr_min}, {cfg.momentum}, {cfg.ema_decay}")
  if cfg.reported_weights == "ema" and not cfg.ema_decay:
    raise ValueError("config.reported_weights = 'ema' needs config.ema_decay > 0")
  for field in ("train_limit", "eval_limit", "validation_limit"):
    if cfg[field] < 0:
      raise ValueError(f"config.{field} must be >= 0 (0 means all digits); got {cfg[field]}")
  if cfg.committee.size < 1:
    raise ValueError(f"config.committee.size must be at least 1; got {cfg.committee.size}")
  if not -1 <= cfg.committee.member < cfg.committee.size:
    raise ValueError(f"config.committee.member must be -1 (all) or a member index in [0, {cfg.committee.size}); "
                     f"got {cfg.committee.member}")
  for field in ("widths", "lr0", "lr_decay", "momentum"):
    values = tuple(cfg.committee[field])
    if values and len(values) != cfg.committee.size:
      raise ValueError(f"config.committee.{field} has {len(values)} values for {cfg.committee.size} members")
  if not all(0 <= m < 1 for m in cfg.committee.momentum):
    raise ValueError(f"config.committee.momentum must be in [0, 1); got {tuple(cfg.committee.momentum)}")
  shape = data.image_shape(cfg.dataset, cfg.image_size)
  if cfg.pad_to_29 and shape != (28, 28, 1):
    raise ValueError(f"config.pad_to_29 pads 28x28 digits; {cfg.dataset}'s images are {'x'.join(map(str, shape))}: "
                     "set it to False")
  if tuple(cfg.committee.widths) and shape[2] != 1:
    raise ValueError(f"config.committee.widths normalise the widths of grayscale digits; {cfg.dataset}'s images "
                     f"have {shape[2]} channels")
  size = input_shape(cfg)[1]
  for w in cfg.committee.widths:
    if not (isinstance(w, int) and 0 <= w <= size):
      raise ValueError(f"config.committee.widths must be integers in [0, {size}] (0: original); got {w!r}")
  try:
    distort.check_config(cfg.distort)
  except ValueError as e:
    raise ValueError(f"config.{e}") from None
  models.check(cfg.model, input_shape(cfg))
  names = models.param_names(cfg.model, input_shape(cfg), num_classes(cfg)) if cfg.frozen else ()
  unknown = [name for name in cfg.frozen if name not in names]
  if unknown:
    raise ValueError(f"config.frozen names no parameters of the model: {', '.join(unknown)}; "
                     f"it has {', '.join(names)}")
