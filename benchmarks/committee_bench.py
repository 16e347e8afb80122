"""Epoch time of a committee trained in one jitted call against its members trained one after another.

    python -m benchmarks.committee_bench [--size=quick|cpu|gpu] [--repeats=N]

Committee: `committee.epoch_fn` trains all M members (stacked, vmapped, laid out over the devices present) for
one epoch, distortion included, in one call. Peers, in the same run on the same digits: the single-net path of
the training loop (the same `epoch_fn` over a one-member layout), once for one member, and M times in a row
for M members. Ratios are committee time over peer time: against one member they say what the extra members
cost, against M members in a row what training them together saves (< 1: the committee is faster).
"""

import dataclasses
import itertools
import sys

import jax
import numpy as np

from benchmarks import common
from deep_simple import committee
from deep_simple import hosts


@dataclasses.dataclass(frozen=True)
class Size:
  preset: str  # experiments/configs/paper.py preset that gives the net...
  hidden: tuple  # ...unless these layers replace it (small machines).
  digits: int
  members: tuple
  batch_size: int = 32


SIZES = {
    "quick": Size("net1", (32,), 256, (1, 2)),
    "cpu": Size("net1", (300, 100), 3_200, (1, 2, 4, 7)),
    "gpu": Size("net4", (), 60_000, (1, 2, 4, 7)),
}
REPEATS = {"quick": 1, "cpu": 3, "gpu": 3}
COLUMNS = ["case", "net", "digits", "devices", "committee s", "committee median s", "peer", "peer s", "ratio"]


def config(size: Size, members: int):
  cfg = common.net_config(size.preset, size.hidden, size.batch_size)
  cfg.committee.size = members
  return cfg


class Trainer:
  """One compiled committee epoch over fixed digits; `epoch(state, member_ids)` blocks until it is done."""

  def __init__(self, cfg, images_NxHxW, labels_N):
    self.cfg = cfg
    self.layout = committee.layout(cfg.committee.size)
    self.steps = len(labels_N) // cfg.batch_size
    self._fn = committee.epoch_fn(cfg, self.layout, per_member_images=False)
    self._images, self._labels = hosts.place((images_NxHxW, labels_N), self.layout.replicated)
    self._epochs = itertools.count()

  def init(self):
    return committee.init_members(self.cfg, self.layout, self.steps)

  def epoch(self, state, member_ids):
    state, metrics = self._fn(state, self._images, self._labels, member_ids, next(self._epochs))
    jax.block_until_ready((state, metrics))
    return state


def committee_epoch(trainer: Trainer):
  """A function that trains every member of `trainer` for one epoch per call."""
  state, ids = trainer.init(), committee.member_ids(trainer.layout)

  def run():
    nonlocal state
    state = trainer.epoch(state, ids)

  return run


def epochs_in_a_row(single: Trainer, members: int):
  """A function that trains members 0..M-1 one after another, each with its own state and distortions."""
  states = [single.init() for _ in range(members)]
  ids = [hosts.place(np.array([m], np.int32), single.layout.by_member) for m in range(members)]

  def run():
    for m in range(members):
      states[m] = single.epoch(states[m], ids[m])

  return run


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  size = SIZES[args.size]
  images, labels = common.train_digits(size.digits)
  single = Trainer(config(size, 1), images, labels)
  one = committee_epoch(single)
  net = common.net_name(single.cfg)
  rows = []
  for members in size.members:
    trainer = single if members == 1 else Trainer(config(size, members), images, labels)
    runs = {"committee": one}  # A committee of one is the single-net path: the baseline.
    if members > 1:
      runs = {"committee": committee_epoch(trainer), "1 member": one,
              f"{members} members in a row": epochs_in_a_row(single, members)}
    seconds = common.timed(runs, args.repeats)
    base = {"case": f"{members} member{'s' * (members > 1)}, B={size.batch_size}", "members": members,
            "net": net, "digits": single.steps * size.batch_size, "devices": trainer.layout.mesh.size,
            "committee s": seconds["committee"]["best"], "committee median s": seconds["committee"]["median"]}
    peers = list(runs)[1:]
    rows += [dict(base, peer=peer, **{"peer s": seconds[peer]["best"],
                                      "ratio": seconds["committee"]["best"] / seconds[peer]["best"]})
             for peer in peers] or [dict(base, peer="(the baseline)")]
  common.print_table(f"Committee epoch, {args.size} size: M members in one call vs single-member runs", rows,
                     COLUMNS, notes=[
                         "s: best of the timed epochs (warm), seconds per epoch of all M members.",
                         "ratio: committee s over peer s, same run, same digits, timed in turns "
                         "(< 1: committee faster).",
                     ])
  return common.save_rows(args, rows)


if __name__ == "__main__":
  main(sys.argv[1:])
