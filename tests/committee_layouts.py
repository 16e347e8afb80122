"""Trains the same committee members under several device layouts; run in a fresh process by committee_test.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m tests.committee_layouts OUT.npz

The device count is fixed when JAX starts its CPU backend, so this cannot run inside a pytest process that
may already have started it with one device. Member m has per-member learning rate LR0[m] whatever the
committee size, so the 3-, 4- and 7-member committees share their first members, and each is trained:
sharded over the 4 devices (7 members padded to 8 slots, 3 members on a mesh of 3), vmapped on one device
(4 members), and all 7 one at a time with plain `train` calls. OUT.npz holds, per run, the members' final
params (`<run>/params/<leaf>`, leaves in tree order), their softmax outputs on the test digits
(`<run>/probs`), and the layout (`<run>/mesh_devices`, `<run>/padded`, `<run>/param_shards`); plus
`test_labels`. It also trains a tiny CNN committee whose members see different digit widths, and two of its
members as member runs (`config.committee.member`), all through the training loop (`cnn_runs`), under
`cnn/<run>/...`.
"""

import os
import sys

import jax
import numpy as np

from deep_simple import committee
from deep_simple import hosts
from deep_simple import loop
from deep_simple import train
from tests import tiny

LR0 = (1e-3, 2e-3, 5e-4, 1.5e-3, 8e-4, 1.2e-3, 3e-3)  # Per example; member m always gets LR0[m].


def config(members: int):
  cfg = tiny.committee(members, train_limit=1_000, eval_limit=500, epochs=2)
  cfg.committee.lr0 = LR0[:members]
  return cfg


def cnn_config(member: int = -1):
  """A tiny CNN committee of 3 on the original digits and widths 12 and 16, or its member run `member`."""
  cfg = tiny.cnn(train_limit=1_000, eval_limit=500, epochs=2, ema_decay=0.99)
  cfg.committee.size, cfg.committee.widths, cfg.committee.lr0 = 3, (0, 12, 16), LR0[:3]
  cfg.committee.member = member
  return cfg


CNN_MEMBER_RUNS = (1, 2)


def cnn_runs(root: str) -> dict:
  """{"cnn/<run>/<array>": ...} of the CNN committee and its member runs, trained by the loop under `root`:
  each run's final params and moving averages (`.../params/<leaf>`, `.../ema/<leaf>`) and its released
  model's test error (`.../released_test_error`)."""
  runs = {**{f"member{m}": cnn_config(m) for m in CNN_MEMBER_RUNS}, "committee": cnn_config()}
  arrays = {}
  for name, cfg in runs.items():
    workdir = os.path.join(root, name)
    results = loop.run(cfg, workdir)
    _, state, _ = loop.restore(workdir)
    for weights in ("params", "ema"):
      leaves = jax.tree.leaves(getattr(state, weights))
      arrays.update({f"cnn/{name}/{weights}/{i}": leaf for i, leaf in enumerate(leaves)})
    arrays[f"cnn/{name}/released_test_error"] = np.asarray(results["released"]["test_error"])
  return arrays


def sharded(cfg, lay: committee.Layout, splits) -> dict:
  """The training loop's committee calls: all members at once, laid on `lay`."""
  images, labels = splits["train"]
  steps = len(labels) // cfg.batch_size
  state = committee.init_members(cfg, lay, steps)
  epoch_fn = committee.epoch_fn(cfg, lay, per_member_images=False)
  images, labels_N = hosts.place(images, lay.replicated), hosts.place(labels, lay.replicated)
  for epoch in range(cfg.epochs):
    state, _ = epoch_fn(state, images, labels_N, committee.member_ids(lay), epoch)
  test_images = hosts.place(splits["test"][0], lay.replicated)
  probs = committee.predict_fn(cfg, lay, per_member_images=False)(state.params, test_images)
  leaves = jax.tree.leaves(committee.real_members(hosts.to_host(state.params), lay))
  return {"params": leaves, "probs": committee.real_members(hosts.to_host(probs), lay),
          "mesh_devices": lay.mesh.size, "padded": lay.padded,
          "param_shards": len(jax.tree.leaves(state.params)[0].addressable_shards)}


def one_at_a_time(cfg, splits) -> dict:
  """Each member alone: its own init key, per-epoch keys and learning rate, no committee code but keys."""
  images, labels = splits["train"]
  steps = len(labels) // cfg.batch_size
  lr0 = committee.member_values(cfg, "lr0", cfg.lr0, cfg.committee.size)
  epoch_fn = jax.jit(train.make_train_epoch(cfg))
  predict = jax.jit(train.make_predict(cfg))
  params, probs = [], []
  for m in range(cfg.committee.size):
    state = train.create_state(committee.member_key(cfg.seed, m, 0), cfg, steps, lr0=lr0[m])
    for epoch in range(cfg.epochs):
      state, _ = epoch_fn(state, images, labels, committee.member_key(cfg.seed, m, 1, epoch))
    params.append(jax.tree.leaves(state.params))
    probs.append(np.asarray(predict(state.params, splits["test"][0])))
  return {"params": [np.stack(leaf) for leaf in zip(*params)], "probs": np.stack(probs),
          "mesh_devices": 1, "padded": cfg.committee.size, "param_shards": 1}


def main(out_path: str) -> None:
  devices = jax.devices()
  if len(devices) != 4:
    raise RuntimeError(f"committee_layouts.py needs 4 devices (XLA_FLAGS), found {len(devices)}")
  splits = loop.load_data(config(7), committee.layout(7))
  runs = {"single7": one_at_a_time(config(7), splits)}
  for members in (3, 4, 7):
    runs[f"devices4_members{members}"] = sharded(config(members), committee.layout(members), splits)
  runs["devices1_members4"] = sharded(config(4), committee.layout(4, devices[:1]), splits)
  arrays = {"test_labels": splits["test"][1]}
  for name, run in runs.items():
    arrays.update({f"{name}/params/{i}": leaf for i, leaf in enumerate(run.pop("params"))})
    arrays.update({f"{name}/{key}": np.asarray(value) for key, value in run.items()})
  arrays.update(cnn_runs(os.path.join(os.path.dirname(out_path), "cnn")))
  np.savez(out_path, **arrays)


if __name__ == "__main__":
  main(sys.argv[1])
