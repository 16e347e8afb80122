"""A training method's config: the run config of deep_simple.config plus `pretrain`, the greedy stages' fields.

    cfg = method.base_config("rbm_pretraining")   # greedy RBM stages, one per hidden layer, then fine-tuning
    method.validate(cfg)

The fine-tuning is the ordinary run of the config (its epochs, rates, committee); `pretrain` says what comes
before it. Every method trains the same net, config.model.hidden, from the same seed.
"""

import ml_collections

from deep_simple import config

METHODS = ("end_to_end", "layerwise_supervised", "autoencoder_pretraining", "rbm_pretraining")
VISIBLE_UNITS = ("binary", "gaussian")


def base_config(method: str = "end_to_end") -> ml_collections.ConfigDict:
  c = config.base_config("mlp")
  c.name = method
  c.pretrain = ml_collections.ConfigDict(dict(
      # end_to_end: random initialisation, back-propagation of the whole net (Ciresan et al. 2010).
      # layerwise_supervised: one hidden layer + a temporary softmax at a time (Bengio et al. 2007).
      # autoencoder_pretraining: stacked denoising autoencoders (Vincent et al. 2010).
      # rbm_pretraining: a deep belief net's stack of RBMs trained by CD-1 (Hinton et al. 2006).
      method=method,
      epochs=10,  # Epochs of each greedy stage (one stage per hidden layer).
      lr0=1e-3,  # Per-example rate of the greedy stages (SGD, like the fine-tuning) ...
      lr_decay=1.0,  # ... multiplied by this after every epoch.
      member_lr0=(),  # Per member, as committee.lr0 (empty: lr0 for all): member m's stages feed its fine-tuning.
      freeze=True,  # layerwise_supervised: lower layers held fixed while the next one trains (Bengio et al. 2007).
      corruption=0.25,  # Denoising autoencoders: fraction of visible units set to 0 (masking noise).
      tied=True,  # Denoising autoencoders: the decoder's weights are the encoder's, transposed.
      # RBM first layer: "binary" (pixels as probabilities) or "gaussian" (unit variance). Measured at CPU size
      # (experiments/configs/pretraining.py, plain digits, a 2-minute budget, 2 x 2 rates each): binary
      # units' best member reached 3.24 % validation error, Gaussian ones' 3.66 % (rates 1e-4 and 3e-4;
      # 1e-3 diverged).
      visible="binary",
      # Gaussian visible units see standardised pixels (p - mean) / std; MNIST's 60,000 training digits, 29x29.
      pixel_mean=0.1218,
      pixel_std=0.2993,
  ))
  return c


def layers(cfg) -> int:
  """Greedy stages before the fine-tuning: one per hidden layer, none for end_to_end."""
  return 0 if cfg.pretrain.method == "end_to_end" else len(cfg.model.hidden)


def validate(cfg) -> None:
  """One-line ValueError for a method config that cannot run (the run config's own checks included)."""
  config.validate(cfg)
  p = cfg.pretrain
  if p.method not in METHODS:
    raise ValueError(f"config.pretrain.method must be one of {', '.join(METHODS)}; got {p.method!r}")
  if p.visible not in VISIBLE_UNITS:
    raise ValueError(f"config.pretrain.visible must be one of {', '.join(VISIBLE_UNITS)}; got {p.visible!r}")
  if cfg.model.name != "mlp":
    raise ValueError(f"greedy stages train the hidden layers of an mlp; got config.model.name {cfg.model.name!r}")
  if cfg.committee.widths:
    raise ValueError("config.committee.widths: every method's members see the same digits")
  if not (p.epochs > 0 and p.lr0 > 0 and 0 < p.lr_decay <= 1 and 0 <= p.corruption < 1 and p.pixel_std > 0):
    raise ValueError("config.pretrain needs epochs > 0, lr0 > 0, 0 < lr_decay <= 1, 0 <= corruption < 1 and "
                     f"pixel_std > 0; got {p.epochs}, {p.lr0}, {p.lr_decay}, {p.corruption}, {p.pixel_std}")
  if p.member_lr0 and len(p.member_lr0) != cfg.committee.size:
    raise ValueError(f"config.pretrain.member_lr0 has {len(p.member_lr0)} values for {cfg.committee.size} members")
