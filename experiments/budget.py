"""Training within a wall-clock budget: a short probe, then a resume for the epochs that fit.

The probe's first epoch includes compilation and its second gives the steady epoch time. Resuming pays
again what the probe spent outside its epochs (loading, initialising, writing outputs); compilation is not
repeated when JAX's persistent compilation cache is on (`jax_compilation_cache_dir`).

The epochs decided after the probe are written to the workdir (budget.json): a run interrupted after that
resumes to the same epochs, so it ends as the uninterrupted run would have.
"""

import json
import math
import os
import time

import jax

from deep_simple import loop

PROBE_EPOCHS = 2
PLAN = "budget.json"  # In the workdir: the epochs decided after the probe, and the probe's timings.


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
  """(the loop's results, timings): `cfg` trained for as many of its epochs as fit `budget_s` (0: all).

  A workdir whose probe is over resumes to the epochs decided then, whatever `budget_s` is now.
  """
  seconds = []

  def record(entry, run_cfg):
    seconds.append(entry["seconds"])
    if on_epoch:
      on_epoch(entry, run_cfg)

  start = time.monotonic()
  plan_path = os.path.join(workdir, PLAN)
  if os.path.exists(plan_path):
    with open(plan_path) as f:
      plan = json.load(f)
    results = loop.run(with_epochs(cfg, plan["planned_epochs"]), workdir, record)
  else:
    cap = cfg.epochs
    probe = min(PROBE_EPOCHS, cap)
    results = loop.run(with_epochs(cfg, probe), workdir, record)
    probe_wall_s = time.monotonic() - start
    # A probe finished before an interruption timed no epoch now: its epochs' mean time stands in.
    probe_seconds = seconds or [results["wall_seconds"] / results["epochs"]]
    epochs = fitting_epochs(budget_s, probe_wall_s, probe_seconds, cap) if budget_s else cap
    plan = {"budget_seconds": budget_s, "epoch_cap": cap, "planned_epochs": epochs, "probe_epochs": probe,
            "probe_wall_seconds": probe_wall_s, "seconds_per_epoch": probe_seconds[-1]}
    with open(plan_path + ".tmp", "w") as f:
      json.dump(plan, f)
    os.replace(plan_path + ".tmp", plan_path)
    if epochs > probe:
      results = loop.run(with_epochs(cfg, epochs), workdir, record)
  return results, {**plan, "wall_seconds": time.monotonic() - start}
