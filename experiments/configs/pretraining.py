"""The seed's claim, measured: end-to-end back-propagation against greedy layer-wise training and
unsupervised pre-training (deep_simple/pretrain), one net for all, the same search, the same budget.

    from experiments.configs import pretraining
    cfg = pretraining.get_config("rbm_pretraining", size="cpu")

Sizes: "full" is net 4 of Ciresan et al. 2010 (2500-2000-1500-1000-500) on all 50,000 training digits of the
holdout protocol; "cpu" the same depth a tenth as wide on 20,000 of them (both with all 10,000 validation and
test digits); "tiny" two narrow layers on a slice
of MNIST, for tests. Every method searches 4 rate settings as one vmapped committee (member m: the greedy
stages' rate and the fine-tuning's rate, per example); end-to-end training, which has no greedy stages,
searches 4 fine-tuning rates.
"""

import ml_collections

from deep_simple.pretrain import method

NET4 = (2500, 2000, 1500, 1000, 500)  # Table 1 of Ciresan et al. 2010, net 4.
SIZES = ("full", "cpu", "tiny")
# Per-example rates. The paper's 1e-3 is in every grid. The greedy grids come from a measurement: the
# first layer (250 units) trained for 3 epochs on 5,000 plain digits, B = 32, reconstructed best at 1e-2 per
# example (RBM: 0.0131 squared error per pixel; denoising autoencoder: 0.0112), then 3e-3 (0.0187; 0.0119);
# 3e-2 was worse for both, 3e-4 and 1e-3 far behind. Published rates are 1e-3 per example (the Theano
# tutorials' DBN, 0.01 on batches of 10, and SdA, 0.001 online; Hinton's guide, 0.1 on batches of 100).
END_TO_END_LR0 = (1e-3, 2e-3, 3e-3, 5e-3)
FINETUNE_LR0 = (1e-3, 3e-3)
GREEDY_LR0 = {"layerwise_supervised": (1e-3, 3e-3), "autoencoder_pretraining": (3e-3, 1e-2),
              "rbm_pretraining": (3e-3, 1e-2)}


def _search(c, greedy: tuple, finetune: tuple):
  """Members = every (greedy rate, fine-tuning rate) pair."""
  pairs = [(g, f) for g in greedy for f in finetune]
  c.committee.size = len(pairs)
  c.pretrain.member_lr0 = tuple(g for g, _ in pairs)
  c.committee.lr0 = tuple(f for _, f in pairs)


def _size(c, size: str):
  if size == "full":
    c.model.hidden = NET4
    c.checkpoint_every = 10  # 4 x 12 M weights: a checkpoint costs about what an epoch does on a GPU
  elif size == "cpu":
    c.model.hidden = tuple(w // 10 for w in NET4)
    c.model.init_scale = 0.15  # Narrower layers need larger initial weights (as experiments/reproduce.py).
    c.train_limit = 20_000  # All 10,000 validation and test digits.
    c.checkpoint_every = 5
  elif size == "tiny":
    c.model.hidden = (32, 16)
    c.model.init_scale = 0.15
    c.train_limit, c.eval_limit = 1_000, 500
    c.epochs, c.pretrain.epochs = 3, 2
  else:
    raise ValueError(f"unknown size {size!r}; choose one of: {', '.join(SIZES)}")


def get_config(preset: str = "end_to_end", size: str = "full") -> ml_collections.ConfigDict:
  if preset not in method.METHODS:
    raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(method.METHODS)}")
  c = method.base_config(preset)
  c.protocol = "holdout"  # Validation digits never trained on: they pick rates and epochs, distorted or not.
  c.batch_size = 32
  c.lr_decay = 0.97  # Ciresan et al. 2010, per epoch, for the fine-tuning ...
  c.pretrain.lr_decay = 1.0  # ... and constant rates for the greedy stages, as the Theano tutorials.
  # Caps: a budgeted run trains as many epochs as its budget allows, at most these.
  c.epochs, c.pretrain.epochs = 800, 200
  c.keep_checkpoints = 1
  if preset == "end_to_end":
    c.committee.size, c.committee.lr0 = len(END_TO_END_LR0), END_TO_END_LR0
  else:
    _search(c, GREEDY_LR0[preset], FINETUNE_LR0)
  _size(c, size)
  if size == "tiny":  # two members: one greedy and one fine-tuning rate each
    c.committee.size, c.committee.lr0 = 2, (1e-3, 3e-3)
    c.pretrain.member_lr0 = (1e-3, 3e-3) if preset != "end_to_end" else ()
  return c
