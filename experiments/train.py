r"""Trains a net or a committee of nets from a config preset; a workdir that holds a run resumes it.

    python -m experiments.train --config=experiments/configs/paper.py:net4 --workdir=runs/net4
    python -m experiments.train --config=experiments/configs/committee.py:mlp7 --workdir=runs/mlp7 \
        [--config.epochs=20 ...] [--distributed --coordinator_address=HOST0:1234 --num_processes=N --process_id=I]

A committee is a config (committee.size > 1): its members train side by side, spread over the devices.
"""

import os
import sys
import threading

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from deep_simple import data
from deep_simple import loop
from deep_simple import preemption
from deep_simple import workdir
from experiments import cli
from experiments import progress

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
INIT_TIMEOUT = flags.DEFINE_integer("init_timeout", 300, "Seconds a --distributed process waits for all processes "
                                    "to connect to the coordinator before it stops.", lower_bound=1)


def _exit_unless_cancelled(seconds: float, message: str) -> threading.Timer:
  """A started timer that prints `message` and ends the process after `seconds`, though the main thread waits
  inside JAX (which aborts with a C++ stack trace when its own deadline passes)."""
  def stop():
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(1)  # pylint: disable=protected-access

  timer = threading.Timer(seconds, stop)
  timer.daemon = True
  timer.start()
  return timer


def _initialize_cluster() -> None:
  cluster_flags = (COORDINATOR.value, NUM_PROCESSES.value, PROCESS_ID.value)
  if DISTRIBUTED.value:
    timeout = INIT_TIMEOUT.value
    where = f"the coordinator at {COORDINATOR.value}" if COORDINATOR.value else "the coordinator JAX detects"
    this = f" (this is process {PROCESS_ID.value} of {NUM_PROCESSES.value})" if PROCESS_ID.value is not None else ""
    print(f"waiting up to {timeout} s for all processes to connect to {where}{this}", flush=True)
    watchdog = _exit_unless_cancelled(
        timeout, f"error: --distributed: not all processes connected to {where} within --init_timeout={timeout} s; "
        "start every process (process 0 on the coordinator's host) or raise --init_timeout")
    try:
      jax.distributed.initialize(*cluster_flags, initialization_timeout=timeout + 60)
    except (ValueError, RuntimeError) as e:  # e.g. no coordinator given and no cluster detected
      sys.exit(f"error: --distributed: {cli.one_line(e)}")
    finally:
      watchdog.cancel()
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
    with preemption.sigterm_requests_stop():  # also while the data loads: the run stops before it trains
      results = loop.run(cfg, WORKDIR.value, on_epoch=progress.Progress())
  except (ValueError, FloatingPointError, OSError, data.FetchError, workdir.InUseError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  except KeyboardInterrupt:
    # Checkpoints and result files are written whole or not at all; the next start clears what was cut short.
    print(f"interrupted: run the same command to resume from the last checkpoint in {WORKDIR.value}",
          file=sys.stderr)
    sys.exit(130)
  except preemption.Preempted as e:
    cli.exit_preempted(e)
  if jax.process_index() == 0:
    sel = results["selected"]
    print(f"{cfg.name}: test error at best validation {100 * sel['test_error_at_best_validation']:.2f}% "
          f"(epoch {sel['best_validation_epoch']}), best test error {100 * sel['best_test_error']:.2f}%, "
          f"{results['epochs']} epochs in {results['wall_seconds']:.0f}s on {results['device']}; "
          f"outputs in {WORKDIR.value}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
