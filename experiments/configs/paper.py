"""Table 1 of Ciresan, Meier, Gambardella & Schmidhuber 2010, plus CPU-sized presets.

Select a preset after the colon: `--config=experiments/configs/paper.py:net4`.
"""

from experiments.configs import common


def _table1(hidden):
  def preset(c):
    c.model.hidden = hidden
  return preset


def _minibatch(hidden, batch_size, epochs):
  def preset(c):
    c.model.hidden = hidden
    c.batch_size = batch_size
    c.epochs = epochs
  return preset


def _quick(c):
  # The README's main job: net 1, mini-batches of 32, 10 epochs on all of MNIST; minutes on 2 CPU cores.
  _minibatch((1000, 500), 32, 10)(c)


def _tiny(c):
  # Tests and smoke runs: a small net on a slice of MNIST.
  _minibatch((64,), 16, 2)(c)
  c.train_limit = 2_000
  c.eval_limit = 1_000


PRESETS = {
    # Table 1: online SGD (batch size 1), 800 epochs, test error at best validation 0.49 / 0.46 / 0.41 /
    # 0.35 / 0.44 %.
    "net1": _table1((1000, 500)),
    "net2": _table1((1500, 1000, 500)),
    "net3": _table1((2000, 1500, 1000, 500)),
    "net4": _table1((2500, 2000, 1500, 1000, 500)),
    "net5": _table1((1000,) * 9),
    # Net 4 with mini-batches of 32 (per-example rate unchanged by linear scaling).
    "net4_b32": _minibatch((2500, 2000, 1500, 1000, 500), 32, 800),
    "quick": _quick,
    "tiny": _tiny,
}


def get_config(preset: str = "net4"):
  return common.select(PRESETS, preset)
