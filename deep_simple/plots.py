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


def digit_grid(images_NxHxW, path: str, title: str = "", captions=None, columns: int = 12) -> None:
  """Digits tiled row by row into one image (one `imshow`: fast for hundreds), each under its caption.

  Pixels are uint8 (0-255) or floating in [0, 1]; ink is drawn black on white. Colour images (NxHxWx3) are drawn
  as they are, on white.
  """
  images_NxHxW = np.asarray(images_NxHxW)
  if images_NxHxW.ndim == 4 and images_NxHxW.shape[-1] != 3:  # not RGB: the mean of the channels
    images_NxHxW = images_NxHxW.mean(-1).astype(images_NxHxW.dtype)
  count = max(len(images_NxHxW), 1)
  grid_rows = math.ceil(count / columns)
  h, w = images_NxHxW.shape[1:3]
  colour = images_NxHxW.ndim == 4
  top_margin = 10 if captions is not None else 1  # room for the caption above each digit
  cell_h, cell_w = h + top_margin + 2, w + 4
  mosaic = np.full((grid_rows * cell_h, columns * cell_w, *images_NxHxW.shape[3:]), float(colour), np.float32)
  fig = Figure(figsize=(columns * cell_w / 40, grid_rows * cell_h / 40 + 0.4))
  ax = fig.subplots()
  peak = 255.0 if images_NxHxW.dtype == np.uint8 else 1.0
  for k, image in enumerate(images_NxHxW):
    top, left = (k // columns) * cell_h, (k % columns) * cell_w
    mosaic[top + top_margin:top + top_margin + h, left + 2:left + 2 + w] = image / peak
    if captions is not None and captions[k]:
      ax.text(left + cell_w / 2, top + top_margin - 2, captions[k], ha="center", fontsize=6)
  ax.imshow(mosaic, **({} if colour else dict(cmap="gray_r", vmin=0, vmax=1)), interpolation="nearest")
  ax.axis("off")
  if title:
    ax.set_title(title, fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def misclassified(images_NxHxW, rows: list, path: str, title: str) -> None:
  """Each misclassified digit with its true label and the net's two best guesses, as in the paper.

  `rows`: [test index, true label, first guess, second guess] per digit.
  """
  digit_grid(np.asarray(images_NxHxW)[[index for index, *_ in rows]], path, title,
             captions=[f"{label}: {first} {second}" for _, label, first, second in rows])


def error_against_time(curves: list, path: str, title: str) -> None:
  """Validation error (%, log scale) against wall time (s), every curve on one axis.

  `curves`: dicts with `label`, `color`, `linestyle`, `seconds` and `error` (points of the run's final stage),
  and optionally `earlier` ([(seconds, error)] of earlier stages with an error of their own, drawn thin) and
  `start` (the second at which the final stage began, marked when > 0).
  """
  fig = Figure(figsize=(8, 5))
  ax = fig.subplots()
  for c in curves:
    for seconds, error in c.get("earlier", []):
      ax.plot(seconds, [100 * e for e in error], color=c["color"], linestyle=c["linestyle"], lw=0.7, alpha=0.6)
    ax.plot(c["seconds"], [100 * e for e in c["error"]], color=c["color"], linestyle=c["linestyle"], lw=1.4,
            label=c["label"])
    if c.get("start"):
      ax.plot([c["start"]], [100 * c["error"][0]], marker="o", color=c["color"], ms=4)
  ax.set_yscale("log")
  plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
  ax.yaxis.set_major_formatter(plain)
  ax.yaxis.set_minor_formatter(plain)
  ax.set_xlabel("wall time (s)")
  ax.set_ylabel("validation error (%)")
  ax.set_title(title, fontsize=9)
  ax.grid(True, which="both", alpha=0.3)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def first_layer_features(kernel_DxH: np.ndarray, path: str, title: str, count: int = 48) -> None:
  """The first `count` units' input weights as images (D = S x S pixels), each scaled to its largest |w|:
  mid-grey is 0, dark positive, light negative."""
  side = math.isqrt(kernel_DxH.shape[0])
  units_HxSxS = np.asarray(kernel_DxH).T[:count].reshape(-1, side, side)
  peak_H = np.abs(units_HxSxS).max(axis=(1, 2), keepdims=True)
  digit_grid(0.5 + 0.5 * units_HxSxS / np.where(peak_H > 0, peak_H, 1), path, title)
