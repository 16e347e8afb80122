"""Helpers for tests that inspect finished runs: restore a workdir's newest checkpoint as numpy."""

import os

from deep_simple import checkpoint
from deep_simple import committee


def restore_state(cfg, workdir: str):
  """(host state of the real members, record) of the newest readable checkpoint in `workdir`."""
  lay = committee.layout(cfg.committee.size)
  target = committee.real_members(committee.to_host(committee.init_members(cfg, lay, 1)), lay)
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=cfg.keep_checkpoints)
  try:
    return ckpts.restore_latest(target)
  finally:
    ckpts.close()
