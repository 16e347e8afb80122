"""A run folder (workdir) holds one run, trained by one process at a time.

    with workdir.lock(path):                       # a second process is refused in one line
      workdir.check_same_run(fields, saved, path)  # a run of another config is refused in one line
      workdir.write_config(cfg, path)

A run's identity is what is trained: every config field but `epochs` (a run may be extended, never cut short)
and the fields that only say where the data is read from (config.LOCATION_FIELDS) or how the run is executed
(config.EXECUTION_FIELDS). The loop compares it with the config recorded in the newest checkpoint, so
config.json is only a readable copy, rewritten by every run; without a usable checkpoint, config.json or
results.json say what the run is (`earlier_fields`).
"""

import contextlib
import errno
import fcntl
import json
import os
import socket

from absl import logging
import jax

from deep_simple import config
from deep_simple import files
from deep_simple import hosts


class InUseError(RuntimeError):
  """Another process trains in the workdir."""


@contextlib.contextmanager
def lock(workdir: str):
  """Holds `workdir` for this run (process 0 holds it for a multi-host run); refuses it if another holds it.

  The lock is the kernel's advisory lock (flock) on `workdir/lock`: a process that dies, even by SIGKILL,
  releases it, so a lock left by a dead run is never in the way. The file names the holder (pid and host)
  for the refusal's message. On a file system without locks the run goes on unlocked, with a warning.
  """
  path = os.path.join(workdir, "lock")
  held, refusal = None, None
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    held = open(path, "a+")
    try:
      fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
      held.truncate(0)
      held.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
      held.flush()
    except BlockingIOError:
      held.seek(0)
      holder = held.read().strip() or "another process"
      refusal = (f"workdir {workdir} is in use by {holder} (lock file {path}); wait for that run or use another "
                 "--workdir")
      held.close()
      held = None
    except OSError as e:
      held.close()
      held = None
      if e.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
        raise
      logging.warning("cannot lock %s (%s): nothing stops another run from writing into it", path, e.strerror)
  if not hosts.from_process0(refusal is None):
    raise InUseError(refusal or f"workdir {workdir} is in use by another run (process 0 could not lock it)")
  try:
    yield
  finally:
    if held is not None:
      held.truncate(0)
      held.close()  # releases the lock


def claim(path: str):
  """The open lock file `path`, locked by this process (flock, released when it is closed or the process dies),
  or None when another process holds it: how parallel processes share out pieces of one job."""
  held = open(path, "a+")
  try:
    fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    held.close()
    return None
  held.truncate(0)
  held.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
  held.flush()
  return held


def identity(fields: dict, prefix: str = "") -> dict:
  """What a run folder is a run of, as {"model.hidden": value, ...}: the config's fields (a JSON dict) without
  `epochs`, the data's location and how the run is executed."""
  out = {}
  for name, value in fields.items():
    if not prefix and name in ("epochs", *config.LOCATION_FIELDS, *config.EXECUTION_FIELDS):
      continue
    out.update(identity(value, f"{prefix}{name}.") if isinstance(value, dict) else {prefix + name: value})
  return out


def check_same_run(fields: dict, saved: dict, workdir: str, saved_only: bool = False) -> None:
  """One-line ValueError unless config fields `fields` (a JSON dict) train the run whose fields were `saved`;
  `saved_only`: compares only the fields `saved` holds (those `earlier_fields` found)."""
  current, saved = identity(fields), identity(saved)
  # A field added to the config since the run began counts as its default, the behaviour the run had.
  defaults = identity(json.loads(config.base_config(fields["model"]["name"]).to_json()))
  compared = set(saved) if saved_only else set(saved) | set(current)
  changed = sorted(k for k in compared if saved.get(k, defaults.get(k)) != current.get(k))
  if changed:
    raise ValueError(f"workdir {workdir} holds a run with a different config (fields: {', '.join(changed)}); "
                     "use a new --workdir")


def check_epochs(epochs: int, trained: int, workdir: str) -> None:
  """One-line ValueError when config.epochs asks for fewer epochs than the run in `workdir` has trained."""
  if epochs < trained:
    raise ValueError(f"workdir {workdir} holds a run trained for {trained} epochs; config.epochs = {epochs} is "
                     f"fewer: ask for {trained} or more, or use a new --workdir")


def earlier_fields(workdir: str):
  """The config fields of the run whose files `workdir` holds without a usable checkpoint: config.json's, or
  else those results.json records; None where neither is."""
  config_json, results_json = (os.path.join(workdir, name) for name in ("config.json", "results.json"))
  if os.path.exists(config_json):
    with open(config_json) as f:
      return json.load(f)
  if os.path.exists(results_json):
    with open(results_json) as f:
      results = json.load(f)
    return {"name": results["name"], "dataset": results["dataset"], "protocol": results["protocol"],
            "model": results["model"], "batch_size": results["batch_size"],
            "committee": {"size": results["members"]}}
  return None


def write_config(cfg, workdir: str) -> None:
  """config.json: the run's config as JSON (process 0 writes it)."""
  if jax.process_index() == 0:
    files.write_atomic(os.path.join(workdir, "config.json"), cfg.to_json(indent=2))
