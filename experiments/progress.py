"""The progress line that every entry point prints while it trains, on process 0; a study's runs carry their
name in front ("net1: [###...").

    [#########.....................] epoch 3/10  loss 0.0712  validation 2.10%  test 2.35%  4.2s/epoch  ETA 0:00:29

The measurements are those of the epoch's history entry: the training loss (the mean of the members whose loss
is finite, and how many diverged), a classifier's validation and test errors (the committee's or the single
net's), a pre-training stage's reconstruction error of the validation digits.
"""

import time

import jax
import numpy as np


class Progress:
  """`on_epoch` of loop.run and budget.train_within: a bar per run, advanced every epoch; prints every
  `every`-th epoch, the first it sees and the last, and says when the run resumed from a checkpoint."""

  def __init__(self, name: str = "", every: int = 1, width: int = 30):
    self._prefix = f"{name}: " if name else ""
    self._every = every
    self._width = width
    self._first = None  # (epoch, end time) of the first epoch seen: the ETA counts from it, past compilation

  def __call__(self, entry: dict, cfg) -> None:
    if jax.process_index() != 0:
      return
    epoch, total, now = entry["epoch"], cfg.epochs, time.monotonic()
    if self._first is None:
      self._first = (epoch, now)
      if epoch > 1:
        print(f"{self._prefix}resumed after epoch {epoch - 1} from the checkpoint in the workdir", flush=True)
    first_epoch, first_time = self._first
    if epoch % self._every and epoch not in (first_epoch, total):
      return
    per_epoch = (now - first_time) / (epoch - first_epoch) if epoch > first_epoch else entry["seconds"]
    filled = round(self._width * epoch / total)
    bar = "#" * filled + "." * (self._width - filled)
    print(f"{self._prefix}[{bar}] epoch {epoch}/{total}  {_measured(entry)}  {entry['seconds']:.1f}s/epoch  "
          f"ETA {_clock(per_epoch * (total - epoch))}", flush=True)


def _measured(entry: dict) -> str:
  losses = np.asarray(entry["train_loss"], np.float64)
  finite = losses[np.isfinite(losses)]
  parts = [f"loss {finite.mean():.4f}" if finite.size else "loss -"]
  if finite.size < losses.size:
    parts.append(f"{losses.size - finite.size} of {losses.size} diverged")
  if "validation_selected_error" in entry:
    parts += [f"validation {entry['validation_selected_error']:.2%}", f"test {entry['test_selected_error']:.2%}"]
  if "validation_reconstruction_error" in entry:
    parts.append(f"reconstruction error {np.mean(entry['validation_reconstruction_error']):.4f}")
  return "  ".join(parts)


def _clock(seconds: float) -> str:
  minutes, s = divmod(int(seconds), 60)
  return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"
