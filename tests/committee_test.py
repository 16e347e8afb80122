"""Committees on real MNIST: device layouts, output averaging, per-member widths, resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from deep_simple import committee
from deep_simple import data
from deep_simple import loop
from deep_simple import train
from deep_simple import width
from tests import committee_layouts
from tests import tiny

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, mnist_dir):
  """tests/committee_layouts.py's members, trained in a fresh process that has 4 CPU devices."""
  del mnist_dir  # fetched once here, not by the subprocess
  out = tmp_path_factory.mktemp("layouts") / "layouts.npz"
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=4")
  done = subprocess.run([sys.executable, "-m", "tests.committee_layouts", str(out)],
                        cwd=REPO, env=env, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  with np.load(out) as arrays:
    return dict(arrays)


def _run(arrays, name):
  """(param leaves_M..., probs_MxNxK) of one run in committee_layouts.py's output."""
  count = sum(key.startswith(f"{name}/params/") for key in arrays)
  return [arrays[f"{name}/params/{i}"] for i in range(count)], arrays[f"{name}/probs"]


def _errors(probs_MxNxK, labels_N):
  return (probs_MxNxK.argmax(-1) != labels_N).mean(-1)


def test_members_are_the_same_on_any_layout(layouts):
  labels = layouts["test_labels"]
  # The layouts really differ: one member per device, 7 members padded to 8 slots on 4 devices, one device.
  mesh_and_slots = [int(layouts[f"devices4_members{m}/{key}"]) for m in (3, 4, 7)
                    for key in ("mesh_devices", "padded")]
  assert mesh_and_slots == [3, 3, 4, 4, 4, 8]
  assert int(layouts["devices4_members7/param_shards"]) == 4
  assert int(layouts["devices1_members4/mesh_devices"]) == 1
  single_params, single_probs = _run(layouts, "single7")
  single_errors = _errors(single_probs, labels)
  assert np.all(single_errors < 0.6), single_errors  # they learned (chance is 0.9)...
  assert len(set(single_errors.tolist())) > 3  # ... and differ: own keys and learning rates
  assert not np.allclose(single_params[0][0], single_params[0][1], atol=1e-3)
  for name in ("devices4_members3", "devices4_members4", "devices4_members7", "devices1_members4"):
    params, probs = _run(layouts, name)
    members = probs.shape[0]
    assert members == int(name[-1]) and len(params) == len(single_params)
    for leaf, single_leaf in zip(params, single_params):
      # Batched and unbatched matrix products may round differently (measured: 1e-7).
      np.testing.assert_allclose(leaf, single_leaf[:members], rtol=0, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(probs, single_probs[:members], rtol=0, atol=1e-5, err_msg=name)
    # An output rounded differently may flip a near-tie, at most one digit here.
    np.testing.assert_allclose(_errors(probs, labels), single_errors[:members], rtol=0, atol=1 / len(labels))


def _cnn_leaves(arrays, run, weights):
  prefix = f"cnn/{run}/{weights}/"
  return [arrays[f"{prefix}{i}"] for i in range(sum(key.startswith(prefix) for key in arrays))]


def test_a_member_run_is_its_member_of_the_committee(layouts, tmp_path):
  """Members 1 and 2 of a tiny CNN committee (own widths, rates and keys), each trained alone as a member run,
  end bit for bit where the committee's members end, vmapped on the same one device; on 4 devices (member
  runs and the committee sharded, committee_layouts.py) they differ only by rounding."""
  here = committee_layouts.cnn_runs(str(tmp_path))
  for m in committee_layouts.CNN_MEMBER_RUNS:
    for weights in ("params", "ema"):
      alone = _cnn_leaves(here, f"member{m}", weights)
      assert len(alone) == 8 and alone[0].shape[0] == 1  # 4 layers' kernels and biases, of one member
      for leaf, member_leaf in zip(alone, _cnn_leaves(here, "committee", weights)):
        np.testing.assert_array_equal(leaf[0], member_leaf[m])
      # XLA's CPU code differs with the host's device count, and two epochs of ReLU columns amplify its rounding
      # (measured: up to 9e-4 in the weights after 2 epochs).
      for leaf, member_leaf, committee_leaf in zip(alone, _cnn_leaves(layouts, f"member{m}", weights),
                                                   _cnn_leaves(layouts, "committee", weights)):
        np.testing.assert_allclose(leaf[0], member_leaf[0], rtol=0, atol=3e-3)
        np.testing.assert_allclose(leaf[0], committee_leaf[m], rtol=0, atol=3e-3)
    # Counted in digits (of 500): that rounding may flip a near-tie or two.
    released = [round(float(arrays[f"cnn/member{m}/released_test_error"]) * 500) for arrays in (here, layouts)]
    assert abs(released[0] - released[1]) <= 2


def test_committee_scores_average_softmax_outputs_or_count_votes(layouts):
  _, probs_MxNxK = _run(layouts, "single7")
  labels = layouts["test_labels"]
  members, n, classes = probs_MxNxK.shape
  mean_NxK = np.zeros((n, classes))
  for p in probs_MxNxK:
    mean_NxK += p / members
  np.testing.assert_allclose(committee.committee_scores(probs_MxNxK, "mean"), mean_NxK, rtol=1e-6)
  committee_error = (mean_NxK.argmax(-1) != labels).mean()
  assert committee_error < _errors(probs_MxNxK, labels).mean()  # averaging helps these weak members

  voted, ties = [], 0
  for i in range(n):
    counts = np.bincount(probs_MxNxK[:, i].argmax(-1), minlength=classes)
    tied = np.flatnonzero(counts == counts.max())
    ties += len(tied) > 1
    voted.append(tied[np.argmax(mean_NxK[i, tied])])  # a tie goes to the higher mean output
  assert ties > 0 and np.any(np.asarray(voted) != mean_NxK.argmax(-1))  # ties occur; votes are not means
  np.testing.assert_array_equal(committee.committee_scores(probs_MxNxK, "vote").argmax(-1), voted)
  with pytest.raises(ValueError, match="committee.rule"):
    committee.committee_scores(probs_MxNxK, "median")


_config = tiny.committee


def _bounding_box_widths(images_NxHxW):
  ink_NxW = (images_NxHxW > 0).any(axis=1)
  return ink_NxW.shape[1] - ink_NxW.argmax(1) - ink_NxW[:, ::-1].argmax(1)


def test_members_train_and_are_evaluated_on_their_own_widths(tmp_path, mnist_splits):
  cfg = _config(train_limit=512, eval_limit=400, epochs=1)
  cfg.committee.size, cfg.committee.widths = 2, (0, 14)
  lay = committee.layout(2)
  splits = loop.load_data(cfg, lay)
  for name, limit in (("train", 512), ("test", 400)):
    images_Mx_NxHxW, labels = splits[name]
    raw, raw_labels = data.subset(mnist_splits[name], limit)
    assert images_Mx_NxHxW.shape == (lay.padded, limit, 29, 29) and images_Mx_NxHxW.dtype == np.uint8
    np.testing.assert_array_equal(images_Mx_NxHxW[0], data.pad_to_29(raw))
    np.testing.assert_array_equal(images_Mx_NxHxW[1], data.pad_to_29(width.normalize_width(raw, 14)))
    box = _bounding_box_widths(images_Mx_NxHxW[1])
    assert np.all((box == 14) | (box == 13)) and np.mean(box == 14) > 0.9  # a faint edge may round away
    np.testing.assert_array_equal(labels, raw_labels)

  loop.run(cfg, str(tmp_path))
  _, state, record = loop.restore(str(tmp_path))
  images, labels = splits["train"]
  steps = len(labels) // cfg.batch_size
  train_epoch = jax.jit(train.make_train_epoch(cfg))
  for m in range(2):
    # Member m alone on its own digits, with its own keys, ends where the committee's member m ended.
    alone = train.create_state(committee.member_key(cfg.seed, m, 0), cfg, steps)
    alone, _ = train_epoch(alone, images[m], labels, committee.member_key(cfg.seed, m, 1, 0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[m], rtol=0, atol=1e-6),
                 alone.params, state.params)
    test_probs = np.asarray(train.make_predict(cfg)(alone.params, splits["test"][0][m]))
    test_error = (test_probs.argmax(-1) != splits["test"][1]).mean()
    assert abs(record["history"][-1]["test_error"][m] - test_error) <= 1 / 400


def test_members_train_with_their_own_momentum(mnist_splits):
  """Momentum 0 and 0.9 side by side: each member ends where a single net of its momentum ends, member 0 where
  plain SGD without velocity does."""
  cfg = _config(train_limit=512, epochs=1)
  cfg.committee.size, cfg.committee.momentum = 2, (0.0, 0.9)
  lay = committee.layout(2)
  images, labels = loop.load_data(cfg, lay)["train"]
  steps = len(labels) // cfg.batch_size
  state = committee.init_members(cfg, lay, steps)
  np.testing.assert_array_equal(state.opt_state.hyperparams["momentum"], np.float32([0.0, 0.9]))
  state, _ = committee.epoch_fn(cfg, lay, per_member_images=False)(
      state, images, labels, committee.member_ids(lay), 0)
  for m, momentum in enumerate(cfg.committee.momentum):
    single = _config(train_limit=512, epochs=1, momentum=momentum)
    alone = train.create_state(committee.member_key(cfg.seed, m, 0), single, steps)
    assert ("momentum" in alone.opt_state.hyperparams) == (momentum > 0)  # no velocity without momentum
    alone, _ = jax.jit(train.make_train_epoch(single))(alone, images, labels, committee.member_key(cfg.seed, m, 1, 0))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b[m], rtol=0, atol=1e-6), alone.params, state.params)
  assert not np.allclose(state.params["Dense_0"]["kernel"][0], state.params["Dense_0"]["kernel"][1], atol=1e-3)


def _entry_point(workdir, epochs):
  command = [sys.executable, "-m", "experiments.train", "--config=experiments/configs/committee.py:tiny4",
             f"--workdir={workdir}", "--config.train_limit=1000", "--config.eval_limit=500",
             f"--config.epochs={epochs}"]
  return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finished(process):
  out, err = process.communicate(timeout=600)
  assert process.returncode == 0, err[-3000:]
  return out


def _newest_checkpoint(workdir):
  """Epoch of the newest complete checkpoint (Orbax renames a finished one to its epoch), or 0."""
  folder = workdir / "checkpoints"
  names = os.listdir(folder) if folder.is_dir() else []
  return max((int(name) for name in names if name.isdigit()), default=0)


def _history(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in f]


def test_committee_killed_mid_run_resumes_bit_identically(tmp_path, mnist_dir):
  del mnist_dir  # fetched once here, not by the subprocesses
  epochs = 6
  straight = _finished(_entry_point(tmp_path / "straight", epochs))
  killed = _entry_point(tmp_path / "resumed", epochs)
  while _newest_checkpoint(tmp_path / "resumed") < 2:
    assert killed.poll() is None, killed.communicate()[1][-3000:]
    time.sleep(0.02)
  killed.send_signal(signal.SIGKILL)
  killed.communicate()
  assert killed.returncode == -signal.SIGKILL
  assert not (tmp_path / "resumed" / "results.json").exists()  # killed before the end
  resumed = _finished(_entry_point(tmp_path / "resumed", epochs))
  assert "resumed after epoch" in resumed and "resumed after epoch" not in straight

  cfg, state_a, record_a = loop.restore(str(tmp_path / "straight"))
  _, state_b, record_b = loop.restore(str(tmp_path / "resumed"))
  assert record_a["epoch"] == record_b["epoch"] == epochs
  jax.tree.map(np.testing.assert_array_equal, train.arrays(state_a), train.arrays(state_b))
  history = _history(tmp_path / "straight")
  assert len(history) == epochs and history == _history(tmp_path / "resumed")
  results = [json.loads((tmp_path / run / "results.json").read_text()) for run in ("straight", "resumed")]
  for key in ("selected", "per_member", "misclassified_at_best_validation"):
    assert results[0][key] == results[1][key]

  # The committee error the run reports is that of the mean of its members' softmax outputs.
  lay = committee.layout(cfg.committee.size)
  images, labels = loop.load_data(cfg, lay)["test"]
  predict = train.make_predict(cfg)
  probs_MxNxK = np.stack([predict(jax.tree.map(lambda x: x[m], state_a.params), images)
                          for m in range(cfg.committee.size)])
  last = history[-1]
  np.testing.assert_allclose(last["test_error"], _errors(probs_MxNxK, labels), rtol=0, atol=1 / 500)
  mean_error = (probs_MxNxK.mean(0).argmax(-1) != labels).mean()
  assert abs(last["test_selected_error"] - mean_error) <= 1 / 500
  assert last["test_selected_error"] < np.mean(last["test_error"])
