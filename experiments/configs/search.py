"""Recipes searched for a fast net 4: 0.35 % test error at best validation in 8 minutes on one H100/H200;
and mcdnn35, the 35-column committee, in the same minutes.

Ciresan et al. 2010 reached 0.35 % with net 4 after 114.5 h of online SGD (PAPER.md). Online SGD costs
about 6 s per epoch on an H200, so 8 minutes buy some 80 epochs of it; mini-batches of 32 cost about
0.4 s. Each recipe below changes one axis of the mini-batch baseline and states, before any run, what it
expects of a run given the whole 8 minutes (`python -m experiments.search` shares its budget between
its runs, so a shorter share lands higher). Reference points, measured on one H200 with a bare-bones
script: net 4, B = 32, 0.032 * 0.97^epoch per step (1e-3 per example), plateau at 0.51-0.57 % from
epoch ~100 to 707; four members at 0.016/0.032/0.064/0.032 per step, decay 0.97/0.97/0.97/0.985,
paper inputs and distortions: members 0.53-0.60 %, committee 0.52-0.55 % after 256 epochs.

With lr_min = 1e-6 per example, a rate of 1e-3 * decay^epoch reaches its floor at epoch
ln(1e-3) / ln(decay): 227 for 0.97, 457 for 0.985, 687 for 0.99.

`get_config("b16")` gives a recipe's full-size config (also `--config=experiments/configs/search.py:b16`
for the training entry points); `get_config("b16", tiny=True)` the CPU form used by the tests.
"""

from collections.abc import Callable
import dataclasses

import ml_collections

from experiments.configs import common
from experiments.configs import committee
from experiments.configs import mcdnn
from experiments.configs import paper


@dataclasses.dataclass(frozen=True)
class Recipe:
  preset: Callable[[ml_collections.ConfigDict], None]
  hypothesis: str
  prediction: str
  # Predicted test error at best validation of an 8-minute run, by model ("member k", "ema member k",
  # "committee"), written before any run.
  predicted: dict
  model: str = "mlp"  # The model family of deep_simple.models the preset configures.


def _net4_b32(c, lr_decay=0.97):
  paper.PRESETS["net4_b32"](c)  # B = 32, 1e-3 per example (0.032 per step), at most 800 epochs.
  c.lr_decay = lr_decay
  # A budgeted run checkpoints only where it stops or resumes: saving 12 M weights per member every
  # epoch would cost more than the epoch.
  c.checkpoint_every = c.epochs
  c.keep_checkpoints = 1


def _batch(batch_size):
  def preset(c):
    _net4_b32(c)
    c.batch_size = batch_size  # Linear scaling keeps the per-example rate at 1e-3.
  return preset


def _decay(lr_decay):
  return lambda c: _net4_b32(c, lr_decay)


def _lr_sweep(c):
  _net4_b32(c, 0.985)
  c.committee.size = 4
  c.committee.lr0 = (5e-4, 1e-3, 2e-3, 3e-3)  # Per example; 2e-3 is the largest rate known to be stable.


def _ema(ema_decay):
  def preset(c):
    _net4_b32(c, 0.99)
    c.ema_decay = ema_decay
  return preset


def _squared_error(c):
  _net4_b32(c)
  c.loss = "squared_error"


def _mcdnn35(c):
  mcdnn.PRESETS["mcdnn35"](c)  # 35 columns, 5 per input width, B = 16, momentum 0.9, 22 epochs.


def _mlp7_b32(c):
  committee.PRESETS["mlp7_b32"](c)  # Seven members on digit widths 0 (original), 10, 12, ..., 20.
  _net4_b32(c)  # Adds the search's checkpoint settings; net 4 and B = 32 are set already.


RECIPES = {
    "b32": Recipe(
        _net4_b32,
        hypothesis="Linear scaling (0.032 per step at B = 32) tracks online SGD closely enough that the "
        "paper's schedule gives the bare-script plateau: the rate floors at epoch 227, later epochs add "
        "nothing.",
        prediction="0.50 % (0.45-0.57 %); best validation between epochs 150 and 300; ~0.5 s/epoch, so the "
        "800-epoch cap is reached inside 8 minutes with the last ~550 epochs wasted at the floor.",
        predicted={"member 0": 0.0050}),
    "b16": Recipe(
        _batch(16),
        hypothesis="Half the batch at the same per-example rate doubles the updates and the gradient "
        "noise, a step towards online SGD; ~0.9 s/epoch still passes the floor (227) within 8 minutes.",
        prediction="0.47 %; ~500 epochs fit; best validation between epochs 180 and 300.",
        predicted={"member 0": 0.0047}),
    "b8": Recipe(
        _batch(8),
        hypothesis="Closer still to online SGD, but ~1.7 s/epoch leaves ~260 epochs, just past the floor: "
        "the gain from noise is partly spent on fewer epochs.",
        prediction="0.46 %; best validation after epoch 200, near the end of the budget.",
        predicted={"member 0": 0.0046}),
    "decay985": Recipe(
        _decay(0.985),
        hypothesis="The 0.97 schedule anneals by epoch 227 while the budget allows ~800 epochs at B = 32; "
        "decaying by 0.985 spends the budget at useful rates (floor at 457).",
        prediction="0.46 %; best validation between epochs 350 and 500.",
        predicted={"member 0": 0.0046}),
    "decay99": Recipe(
        _decay(0.99),
        hypothesis="Decay 0.99 floors at epoch 687, about what 8 minutes allow alone at B = 32; the "
        "longest useful training of the single nets.",
        prediction="0.45 % alone (best validation after epoch 550); in a run shared with other members "
        "(~0.8 s/epoch, ~550 epochs) it stops before its floor and lands ~0.03 % higher.",
        predicted={"member 0": 0.0045}),
    "lr_sweep": Recipe(
        _lr_sweep,
        hypothesis="At decay 0.985 the best per-example rate is at or above the paper's 1e-3, since the "
        "batch averages gradient noise; 3e-3 probes past the largest known-stable rate. Four members "
        "vmapped cost ~1 s/epoch together, so the committee comes almost free.",
        prediction="members 0.45-0.52 %, best at 1e-3 or 2e-3; committee 0.41 %; ~450 epochs fit.",
        predicted={"committee": 0.0041, "member 0": 0.0050, "member 1": 0.0047, "member 2": 0.0046,
                   "member 3": 0.0048}),
    "ema_999": Recipe(
        _ema(0.999),
        hypothesis="A Polyak average over ~1000 steps (half an epoch) removes only the last steps' noise.",
        prediction="EMA within 0.01 % of the raw weights (0.45 %, as decay99).",
        predicted={"member 0": 0.0045, "ema member 0": 0.0044}),
    "ema_9999": Recipe(
        _ema(0.9999),
        hypothesis="A Polyak average over ~10^4 steps (5 epochs) does the annealing the slow 0.99 schedule "
        "has not yet done, so the averaged weights are better than the raw ones before the floor.",
        prediction="EMA 0.42 % against raw 0.45 %, its best validation reached earlier than the raw one's.",
        predicted={"member 0": 0.0045, "ema member 0": 0.0042}),
    "squared_error": Recipe(
        _squared_error,
        hypothesis="The paper-era loss (±1 targets on scaled-tanh outputs) has vanishing gradients on "
        "confidently wrong digits, so at the same rate it learns the hard digits more slowly than "
        "cross-entropy.",
        prediction="0.55 %, its best validation later than b32's.",
        predicted={"member 0": 0.0055}),
    "mlp7_b32": Recipe(
        _mlp7_b32,
        hypothesis="Members on width-normalised digits (Ciresan et al. 2011) err differently, so their "
        "average gains more than a committee of learning rates; 7 members at ~1.8 s/epoch give ~240 "
        "epochs, past the 0.97 floor.",
        prediction="members 0.50-0.65 % (narrowest widths worst), committee 0.40 %; the 2011 committee's "
        "0.31 % is out of reach in 8 minutes.",
        predicted={"committee": 0.0040}),
    "mcdnn35": Recipe(
        _mcdnn35,
        hypothesis="Columns are small (76,040 weights), so a GPU trains 35 of them side by side at little more "
        "than the cost of one, and the committee of 35 reaches in minutes what the CPU needs ~9 core-hours "
        "for: mcdnn7 reached 0.41 % after 22 epochs on one core, and five columns per input average away "
        "more of each column's errors.",
        prediction="A 35-column B = 16 epoch of 10-25 s with evaluation, so 13-22 of the 22 epochs fit; "
        "columns 0.45-0.80 % (narrow widths worst), committee 0.33 % (0.28-0.40 %); the paper's 0.23 % is "
        "not reached.",
        predicted={"committee": 0.0033},
        model="cnn"),
}


def shrink(c):
  """The CPU form: a small net on a slice of MNIST, 3 epochs; every recipe's own axis is kept (a width
  committee keeps one column per width)."""
  if c.model.name == "cnn":
    c.model.maps = (2, 4)
    c.committee.widths = tuple(dict.fromkeys(c.committee.widths))
    c.committee.size = max(len(c.committee.widths), 1)
  c.model.hidden = (64,)
  c.train_limit = 2_000
  c.eval_limit = 1_000
  c.epochs = 3
  c.checkpoint_every = c.epochs


def get_config(preset: str = "b32", tiny: bool = False) -> ml_collections.ConfigDict:
  model = RECIPES[preset].model if preset in RECIPES else "mlp"
  c = common.select({name: recipe.preset for name, recipe in RECIPES.items()}, preset, model)
  if tiny:
    shrink(c)
  return c
