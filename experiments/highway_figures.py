"""The highway study's figures: training loss per depth (Fig. 1 of Srivastava et al. 2015) and the transform
gates of a trained net (the idea of their Fig. 2). Drawn with matplotlib's `Figure`, like deep_simple/plots.py."""

import jax
import matplotlib.ticker
from matplotlib.figure import Figure
import numpy as np

from deep_simple import committee
from deep_simple import config
from deep_simple import inputs
from deep_simple import loop
from deep_simple import models
from deep_simple.models import highway

COLOURS = {"plain": "tab:red", "highway": "tab:blue"}
GATE_DIGITS = 1_000  # Test digits the gates are averaged over.


def best_runs(runs: list, top: int | None) -> list:
  """The best `top` (None: all) of a cell's ranked runs that did not diverge (fewer when fewer did not)."""
  return [r for r in runs if not r["diverged"]][:top]


def training_loss(cells: dict, depths: list, top: int, path: str) -> None:
  """One panel per depth: each kind's best run (solid), the mean of its best `top` runs that did not diverge
  (dashed) and the median of all that did not (dotted). `cells`: {(kind, depth): cell record}, runs ranked best
  first.
  """
  fig = Figure(figsize=(3.2 * len(depths), 3.4))
  axes = np.atleast_1d(fig.subplots(1, len(depths), sharey=True))
  for ax, depth in zip(axes, depths):
    for kind, colour in COLOURS.items():
      if (kind, depth) not in cells:
        continue
      runs = [np.asarray(r["train_loss"], np.float64) for r in best_runs(cells[(kind, depth)]["runs"], None)]
      if not runs:
        continue  # every run diverged
      ax.plot(np.arange(1, len(runs[0]) + 1), runs[0], color=colour, label=f"{kind}, best")
      # A budget may give runs different numbers of epochs: the mean and the median cover the epochs all of
      # their runs trained.
      for curves, summary, style, label in ((runs[:top], np.mean, "--", f"mean of best {len(runs[:top])}"),
                                            (runs, np.median, ":", f"median of {len(runs)}")):
        common = min(len(curve) for curve in curves)
        ax.plot(np.arange(1, common + 1), summary([curve[:common] for curve in curves], axis=0), color=colour,
                ls=style, lw=1, label=f"{kind}, {label}")
    ax.set_yscale("log")
    ax.set_title(f"depth {depth}")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(True, which="both", alpha=0.3)
  axes[0].set_ylabel("training cross-entropy")
  axes[0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def gates(workdir: str, member: int, path: str, title: str) -> None:
  """Mean transform gate T(x) of member `member` of the run in `workdir`, over the run's first test digits:
  per layer (left) and per layer and unit (right)."""
  cfg, state, _ = loop.restore(workdir)
  model = models.build(cfg.model, config.num_classes(cfg))
  images = loop.load_data(cfg, committee.layout(cfg.committee.size))["test"][0][:GATE_DIGITS]
  params = jax.tree.map(lambda x: x[member], state.params)
  gates_LxBxW = np.asarray(highway.transform_gates(model, params, inputs.Inputs.from_config(cfg).to_model(images)))
  per_unit_LxW = gates_LxBxW.mean(axis=1)
  layers = np.arange(1, len(per_unit_LxW) + 1)
  fig = Figure(figsize=(9, 4))
  left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.3]})
  left.plot(layers, per_unit_LxW.mean(axis=1), marker=".")
  left.set_xlabel("highway layer")
  left.set_ylabel("mean T(x)")
  left.grid(True, alpha=0.3)
  image = right.imshow(per_unit_LxW.T, aspect="auto", cmap="viridis", vmin=0, interpolation="nearest",
                       extent=(0.5, len(layers) + 0.5, per_unit_LxW.shape[1] - 0.5, -0.5))
  right.set_xlabel("highway layer")
  right.set_ylabel("unit")
  fig.colorbar(image, ax=right, label="mean T(x) over digits")
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=120)

