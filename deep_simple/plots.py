"""Figures: learning curves and the paper's misclassified-digit panel.

Figures are built with matplotlib's `Figure` directly, not pyplot: no display or backend is needed, and
importing this module leaves a notebook's inline backend alone.
"""

import math

import matplotlib.ticker
from matplotlib.figure import Figure
import numpy as np


def learning_curves(history: list, path: str, title: str) -> None:
  """Validation and test error (%) per epoch on a log scale; committees also show their members."""
  epochs = [e["epoch"] for e in history]
  fig = Figure(figsize=(7, 4.5))
  ax = fig.subplots()
  members = len(history[0]["test_error"])
  if members > 1:
    for m in range(members):
      ax.plot(epochs, [100 * e["test_error"][m] for e in history], color="0.75", lw=0.8,
              label="members, test" if m == 0 else None)
  label = "committee" if members > 1 else "net"
  ax.plot(epochs, [100 * e["validation_selected_error"] for e in history], label=f"{label}, validation")
  ax.plot(epochs, [100 * e["test_selected_error"] for e in history], label=f"{label}, test")
  ax.set_yscale("log")
  plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
  ax.yaxis.set_major_formatter(plain)
  ax.yaxis.set_minor_formatter(plain)
  ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
  ax.set_xlabel("epoch")
  ax.set_ylabel("error (%)")
  ax.set_title(title)
  ax.grid(True, which="both", alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def misclassified(images_NxHxW, rows: list, path: str, title: str, columns: int = 12) -> None:
  """Each misclassified digit with its true label and the net's two best guesses, as in the paper.

  The digits are tiled into one image (one `imshow`), which keeps the figure fast for hundreds of digits.
  """
  count = max(len(rows), 1)
  grid_rows = math.ceil(count / columns)
  h, w = np.shape(images_NxHxW)[1:]
  cell_h, cell_w = h + 12, w + 4  # room for the caption above each digit
  mosaic = np.zeros((grid_rows * cell_h, columns * cell_w), np.uint8)
  fig = Figure(figsize=(columns * 0.75, grid_rows * 0.9 + 0.4))
  ax = fig.subplots()
  for k, (index, label, first, second) in enumerate(rows):
    top, left = (k // columns) * cell_h, (k % columns) * cell_w
    mosaic[top + 10:top + 10 + h, left + 2:left + 2 + w] = np.asarray(images_NxHxW[index])
    ax.text(left + cell_w / 2, top + 8, f"{label}: {first} {second}", ha="center", fontsize=6)
  ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
  ax.axis("off")
  ax.set_title(title, fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
