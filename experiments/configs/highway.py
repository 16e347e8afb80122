"""Highway networks (Srivastava, Greff & Schmidhuber 2015) and plain nets of the same depth.

Select a preset after the colon: `--config=experiments/configs/highway.py:highway100`. Rates are per step
(lr_scaling "none": the mean gradient of a batch), as the highway papers give them.
"""

from experiments.configs import common


def _sgd(c, batch_size, lr0, lr_decay, momentum):
  c.batch_size = batch_size
  c.lr_scaling = "none"
  c.lr0, c.lr_decay, c.lr_min, c.momentum = lr0, lr_decay, 0.0, momentum


def _highway100(c):
  # One 100-layer highway net (50 units, ReLU) on digits distorted afresh every epoch, the 2010 protocol: test
  # error at the epoch of best validation error. b_T = -6: the papers start deeper nets more negative (-1, -2,
  # -3 for depth 10, 20, 30); at -2 a 100-layer ReLU net stayed at chance for 3 epochs, at -4 and -6 it learned
  # (-6 faster), and the CPU study's best 100-layer ReLU net drew -6.45.
  c.model.depth, c.model.width, c.model.activation, c.model.gate_bias = 100, 50, "relu", (-6.0, -6.0)
  _sgd(c, batch_size=32, lr0=0.02, lr_decay=0.99, momentum=0.9)
  c.epochs = 400


def _plain100(c):
  # The plain net of the same depth and weights per layer (71 units): the papers' counterpart.
  _highway100(c)
  c.model.gated, c.model.width = False, 71


def _study(c):
  # The optimisation study's runs (NeurIPS 2015, §3.1): training cross-entropy on the undistorted training
  # digits; experiments/highway.py sets the depth, width, gating, activation and each member's
  # hyper-parameters. Members that diverge record it and the others train on.
  c.augment = False  # The study measures optimisation: no distortions, as in the paper.
  c.pad_to_29 = False  # 784 inputs, as in the paper.
  _sgd(c, batch_size=128, lr0=0.01, lr_decay=1.0, momentum=0.9)
  c.epochs = 400
  c.stop_on_nonfinite = False
  c.checkpoint_every, c.keep_checkpoints = 5, 1


def _tiny(c):
  # Tests and smoke runs: a 5-layer tanh highway net of 32 units on a slice of MNIST.
  c.model.depth, c.model.width, c.model.activation = 5, 32, "tanh"
  _sgd(c, batch_size=16, lr0=0.01, lr_decay=1.0, momentum=0.9)
  c.epochs, c.train_limit, c.eval_limit = 2, 2_000, 1_000


# The optimisation study's search space (experiments/highway.py). The paper searched the rate, momentum,
# decay, activation and, for highway nets, b_T in [-10, -1]; the other ranges are ours. Rates are per step.
LR0_RANGE = (1e-3, 3e-1)  # Log-uniform.
MOMENTUM_RANGE = (0.5, 0.95)  # 1 - momentum log-uniform.
FINAL_RATE_RANGE = (1e-2, 1.0)  # The last epoch's rate over the first, log-uniform: decay = that ** (1 / epochs).
GATE_BIAS_RANGE = (-10.0, -1.0)  # Uniform, drawn by each member from its own init key (models/highway.py).

PRESETS = {"highway100": _highway100, "plain100": _plain100, "study": _study, "tiny": _tiny}


def get_config(preset: str = "highway100"):
  return common.select(PRESETS, preset, model="highway")
