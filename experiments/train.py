r"""Trains a net or a committee of nets from a config preset; a workdir that holds a run resumes it.

    python -m experiments.train --config=experiments/configs/paper.py:net4 --workdir=runs/net4
    python -m experiments.train --config=experiments/configs/committee.py:mlp7 --workdir=runs/mlp7 \
        [--config.epochs=20 ...] [--distributed --coordinator_address=HOST0:1234 --num_processes=N --process_id=I]

A committee is a config (committee.size > 1): its members train side by side, spread over the devices.
"""

import sys
import time

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from deep_simple import loop
from deep_simple import workdir
from experiments import cli

CONFIG = config_flags.DEFINE_config_file("config", cli.config_path("paper.py:quick"), "Config file and preset.",
                                         lock_config=True)
WORKDIR = flags.DEFINE_string("workdir", None, "Run folder; a folder that already holds a run resumes it.",
                              required=True)
COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None,
    "host:port of process 0, to train over several hosts (jax.distributed); with --num_processes and "
    "--process_id. Left unset on a single host or where JAX finds the cluster itself (TPU pods, SLURM).")
NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-host run.")
PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process' index in a multi-host run.")
DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() with the flags above "
                                "(or with nothing, where JAX detects the cluster).")


class Progress:
  """One bar per run, advanced once per epoch, with the epoch's errors and the ETA."""

  def __init__(self, width: int = 30):
    self._width = width
    self._start = time.monotonic()
    self._first_epoch = None

  def __call__(self, entry: dict, cfg) -> None:
    if jax.process_index() != 0:
      return
    epoch, total = entry["epoch"], cfg.epochs
    if self._first_epoch is None:
      self._first_epoch = epoch - 1
      if self._first_epoch:
        print(f"resumed after epoch {self._first_epoch} from the checkpoint in the workdir", flush=True)
    done = epoch - self._first_epoch
    eta = (time.monotonic() - self._start) / done * (total - epoch)
    filled = round(self._width * epoch / total)
    bar = "#" * filled + "." * (self._width - filled)
    print(f"[{bar}] epoch {epoch}/{total}  loss {sum(entry['train_loss']) / len(entry['train_loss']):.4f}"
          f"  validation {100 * entry['validation_selected_error']:.2f}%"
          f"  test {100 * entry['test_selected_error']:.2f}%"
          f"  {entry['seconds']:.1f}s/epoch  ETA {_clock(eta)}", flush=True)


def _clock(seconds: float) -> str:
  minutes, s = divmod(int(seconds), 60)
  return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"


def _initialize_cluster() -> None:
  cluster_flags = (COORDINATOR.value, NUM_PROCESSES.value, PROCESS_ID.value)
  if DISTRIBUTED.value:
    try:
      jax.distributed.initialize(*cluster_flags)
    except (ValueError, RuntimeError) as e:  # e.g. no coordinator given and no cluster detected
      sys.exit(f"error: --distributed: {cli.one_line(e)}")
  elif any(value is not None for value in cluster_flags):
    # Without it every host would train the whole committee alone, all in the same workdir.
    sys.exit("error: --coordinator_address, --num_processes and --process_id need --distributed")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  cli.quiet_logging()
  try:
    cfg = CONFIG.value
  except (ValueError, AttributeError) as e:  # a config file that failed to load
    sys.exit(f"error: {cli.one_line(e)}")
  _initialize_cluster()
  try:
    results = loop.run(cfg, WORKDIR.value, on_epoch=Progress())
  except (ValueError, FloatingPointError, OSError, workdir.InUseError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  if jax.process_index() == 0:
    sel = results["selected"]
    print(f"{cfg.name}: test error at best validation {100 * sel['test_error_at_best_validation']:.2f}% "
          f"(epoch {sel['best_validation_epoch']}), best test error {100 * sel['best_test_error']:.2f}%, "
          f"{results['epochs']} epochs in {results['wall_seconds']:.0f}s on {results['device']}; "
          f"outputs in {WORKDIR.value}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
