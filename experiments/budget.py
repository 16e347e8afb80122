"""Training within a wall-clock budget: a short probe, then a resume for the epochs that fit.

The probe's first epoch includes compilation and its second gives the steady epoch time. Resuming pays
again what the probe spent outside its epochs (loading, initialising, writing outputs); compilation is not
repeated when JAX's persistent compilation cache is on (`jax_compilation_cache_dir`).
"""

import math
import os
import time

import jax

from deep_simple import loop

PROBE_EPOCHS = 2


def cache_compilations(folder: str) -> None:
  """Resuming a run compiles the same functions again: JAX's persistent cache in `folder` makes that a lookup."""
  jax.config.update("jax_compilation_cache_dir", os.path.join(folder, "jax_cache"))


def fitting_epochs(budget_s: float, probe_wall_s: float, probe_seconds: list, cap: int) -> int:
  """Epochs that fit `budget_s` after a probe whose epochs took `probe_seconds` and `probe_wall_s` in all."""
  restart_s = max(0.0, probe_wall_s - sum(probe_seconds))
  extra = math.floor((budget_s - probe_wall_s - restart_s) / probe_seconds[-1])
  return min(cap, len(probe_seconds) + max(0, extra))


def with_epochs(cfg, epochs: int):
  cfg = cfg.copy_and_resolve_references()
  cfg.epochs = epochs
  return cfg


def train_within(cfg, workdir: str, budget_s: float, on_epoch=None):
  """(the loop's results, timings): `cfg` trained for as many of its epochs as fit `budget_s` (0: all)."""
  seconds = []

  def record(entry, run_cfg):
    seconds.append(entry["seconds"])
    if on_epoch:
      on_epoch(entry, run_cfg)

  start = time.monotonic()
  cap = cfg.epochs
  probe = min(PROBE_EPOCHS, cap)
  results = loop.run(with_epochs(cfg, probe), workdir, record)
  probe_wall_s = time.monotonic() - start
  epochs = fitting_epochs(budget_s, probe_wall_s, seconds, cap) if budget_s else cap
  if epochs > probe:
    results = loop.run(with_epochs(cfg, epochs), workdir, record)
  timing = {"budget_seconds": budget_s, "wall_seconds": time.monotonic() - start, "epoch_cap": cap,
            "probe_epochs": probe, "probe_wall_seconds": probe_wall_s,
            "seconds_per_epoch": seconds[probe - 1] if seconds else None}
  return results, timing
