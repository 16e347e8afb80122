"""Training within a wall-clock budget: a short probe, then a resume for the epochs that fit.

The probe's first epoch includes compilation and its second gives the steady epoch time. Resuming pays
again what the probe spent outside its epochs (loading, initialising, writing outputs); compilation is not
repeated when JAX's persistent compilation cache is on (experiments/cli.py turns it on for the studies).
`staged_fit` does the same for every stage of a method (deep_simple.pretrain.stages), within shares of one budget.

The epochs decided after the probe are written to the workdir (budget.json): a run interrupted after that
resumes to the same epochs, so it ends as the uninterrupted run would have.
"""

import json
import math
import os
import time

import numpy as np

from deep_simple import files
from deep_simple import loop
from deep_simple.pretrain import stages

PROBE_EPOCHS = 2
PLAN = "budget.json"  # In the workdir: the epochs decided after the probe, and the probe's timings.


def fitting_epochs(budget_s: float, probe_wall_s: float, probe_seconds: list, cap: int, min_epochs: int = 0) -> int:
  """Epochs that fit `budget_s` after a probe whose epochs took `probe_seconds` and `probe_wall_s` in all,
  and at least `min_epochs` (runs compared with each other get at least that effort, over budget if need be)."""
  restart_s = max(0.0, probe_wall_s - sum(probe_seconds))
  extra = math.floor((budget_s - probe_wall_s - restart_s) / probe_seconds[-1])
  return min(cap, max(min_epochs, len(probe_seconds) + max(0, extra)))


def with_epochs(cfg, epochs: int):
  cfg = cfg.copy_and_resolve_references()
  cfg.epochs = epochs
  return cfg


def train_within(cfg, workdir: str, budget_s: float, on_epoch=None, min_epochs: int = 0):
  """(the loop's results, timings): `cfg` trained for as many of its epochs as fit `budget_s` (0: all), and at
  least `min_epochs`.

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
    epochs = fitting_epochs(budget_s, probe_wall_s, probe_seconds, cap, min_epochs) if budget_s else cap
    plan = {"budget_seconds": budget_s, "epoch_cap": cap, "planned_epochs": epochs, "probe_epochs": probe,
            "probe_wall_seconds": probe_wall_s, "seconds_per_epoch": probe_seconds[-1]}
    files.write_atomic(plan_path, json.dumps(plan))
    if epochs > probe:
      results = loop.run(with_epochs(cfg, epochs), workdir, record)
  return results, {**plan, "wall_seconds": time.monotonic() - start}


# A stage first extends its probe by this fraction of the epochs its share seems to allow, then by all that
# its share allows at the mean time of its epochs so far: one noisy epoch time cannot overrun the budget.
FIRST_EXTENSION = 0.75


def stage_epochs(history: list, share_s: float, cap: int, fraction: float = 1.0) -> int:
  """The epochs a stage trains in all: those it has, and `fraction` of those that fit what is left of
  `share_s` at the mean charged time of its epochs after the first (at most `cap`)."""
  seconds = stages.charged(history)
  steady = float(np.mean(seconds[1:] or seconds))
  more = math.floor(fraction * (share_s - sum(seconds)) / steady)
  return min(cap, len(history) + max(0, more))


def staged_fit(budget_s: float, share: float, layers: int):
  """`fit` for stages.run: greedy stages get share * budget_s / layers each, fine-tuning what they left.

  A stage trains the probe's epochs, then extends twice (`FIRST_EXTENSION`). The decisions read the epoch
  times recorded in the stage's checkpoints, so an interrupted stage resumes to the epochs the uninterrupted
  one chose.
  """

  def fit(stage, train, done):
    share_s = share * budget_s / layers if stage.layer else budget_s - sum(s["seconds"] for s in done)
    cap = stage.cfg.epochs
    summary = train(with_epochs(stage.cfg, min(PROBE_EPOCHS, cap)))
    decided = len(summary["history"][:PROBE_EPOCHS])
    for fraction in (FIRST_EXTENSION, 1.0):
      # Each decision reads the epochs the previous one decided, also when the stage trained more before
      # an interruption.
      decided = stage_epochs(summary["history"][:decided], share_s, cap, fraction)
      if decided > summary["epochs"]:
        summary = train(with_epochs(stage.cfg, decided))
    return summary

  return fit
