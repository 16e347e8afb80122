"""Figures: learning curves and the paper's misclassified-digit panel (matplotlib, no display needed)."""

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np


def learning_curves(history: list, path: str, title: str) -> None:
  """Validation and test error (%) per epoch on a log scale; committees also show their members."""
  epochs = [e["epoch"] for e in history]
  fig, ax = plt.subplots(figsize=(7, 4.5))
  members = len(history[0]["test_error"])
  if members > 1:
    for m in range(members):
      ax.plot(epochs, [100 * e["test_error"][m] for e in history], color="0.75", lw=0.8,
              label="members, test" if m == 0 else None)
  label = "committee" if members > 1 else "net"
  ax.plot(epochs, [100 * e["validation_selected_error"] for e in history], label=f"{label}, validation")
  ax.plot(epochs, [100 * e["test_selected_error"] for e in history], label=f"{label}, test")
  ax.set_yscale("log")
  ax.set_xlabel("epoch")
  ax.set_ylabel("error (%)")
  ax.set_title(title)
  ax.grid(True, which="both", alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)


def misclassified(images_NxHxW, rows: list, path: str, title: str, columns: int = 10) -> None:
  """Each misclassified digit with its true label and the net's two best guesses, as in the paper."""
  count = max(len(rows), 1)
  grid_rows = math.ceil(count / columns)
  fig, axes = plt.subplots(grid_rows, columns, figsize=(columns * 1.1, grid_rows * 1.35 + 0.5),
                           squeeze=False)
  for ax in axes.flat:
    ax.axis("off")
  for ax, (index, label, first, second) in zip(axes.flat, rows):
    ax.imshow(np.asarray(images_NxHxW[index]), cmap="gray_r", vmin=0, vmax=255)
    ax.set_title(f"{label}: {first} {second}", fontsize=8)
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
