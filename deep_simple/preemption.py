"""SIGTERM as a preemption: what schedulers (SLURM, Kubernetes, preemptible cloud VMs) send before a kill.

    with preemption.sigterm_requests_stop() as stop:
      for epoch in ...:
        ...               # a SIGTERM here only sets stop.requested
        if stop.requested:
          save(); raise preemption.Preempted(...)

The training loop stops at its next safe point (the epoch in progress finished and checkpointed), so no work
but that epoch's remainder is lost; the entry points then exit with EXIT_STATUS.
"""

import contextlib
import signal
import threading

# 128 + SIGTERM, the status of a process SIGTERM ended unhandled: a scheduler's rule "requeue on 143" then holds
# whether the signal came before the handler was installed (nothing to save yet) or after.
EXIT_STATUS = 128 + signal.SIGTERM


class Preempted(Exception):
  """A SIGTERM stopped the run at a safe point; its message says what was saved and how to resume."""


class Stop:
  """Whether a SIGTERM arrived since the outermost block began."""

  requested = False


_STOP = Stop()


def _request(signum, frame):
  del signum, frame
  _STOP.requested = True


@contextlib.contextmanager
def sigterm_requests_stop():
  """Yields a `Stop` that a SIGTERM sets instead of ending the process. Only in the main thread and where
  SIGTERM's default action is installed (a program with its own handler keeps it); restored afterwards. Blocks
  nest: an entry point's block covers the loading and the gaps between a study's runs, the loop's own shares
  its `Stop`."""
  installed = signal.getsignal(signal.SIGTERM)
  if installed is _request:
    yield _STOP
    return
  if threading.current_thread() is not threading.main_thread() or installed is not signal.SIG_DFL:
    yield Stop()
    return
  _STOP.requested = False
  signal.signal(signal.SIGTERM, _request)
  try:
    yield _STOP
  finally:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
