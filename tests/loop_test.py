"""The training loop on real MNIST: outputs, a stated accuracy, exact resume, NaN, bad configs (damaged
checkpoints: checkpoint_test.py)."""

import json
import os
import shutil

import jax
import numpy as np
import pytest

from deep_simple import checkpoint
from deep_simple import data
from deep_simple import loop
from deep_simple import train
from tests import tiny

_tiny = tiny.net


def _refuse(constant):
  raise ValueError(f"{constant} is not JSON")


def _history(workdir):
  """metrics.jsonl, read as strict JSON (no NaN or Infinity)."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line, parse_constant=_refuse) for line in f]


def _without_time(history):
  return [{k: v for k, v in e.items() if k != "seconds"} for e in history]


def test_small_net_learns_real_mnist_and_writes_every_output(tmp_path):
  """128 hidden units, 10,000 distorted digits, 4 epochs: below 13% test error (10.5% measured on CPU)."""
  cfg = _tiny(train_limit=10_000, eval_limit=2_000, epochs=4, lr0=3e-3)
  cfg.model.hidden = (128,)
  results = loop.run(cfg, str(tmp_path))
  assert results["selected"]["test_error_at_best_validation"] < 0.13
  assert results["epochs"] == 4 and results["mode"] == "mini-batch" and results["members"] == 1
  assert (results["train_digits"], results["validation_digits"], results["test_digits"]) == (10_000, 2_000, 2_000)
  assert results["architecture"] == "128-10" and results["parameters_per_member"] == 842 * 128 + 129 * 10
  with open(tmp_path / "results.json") as f:
    assert json.load(f) == json.loads(json.dumps(results))
  history = _history(tmp_path)
  assert [e["epoch"] for e in history] == [1, 2, 3, 4]
  assert history[-1]["validation_error"][0] < history[0]["validation_error"][0]
  # The selected figure is Table 1's "test error at best validation", recomputed from the history.
  best = int(np.argmin([e["validation_selected_error"] for e in history]))
  assert results["selected"]["test_error_at_best_validation"] == history[best]["test_selected_error"]
  misclassified = results["misclassified_at_best_validation"]
  assert misclassified == round(history[best]["test_selected_error"] * 2_000)
  for name in ("learning_curve.png", "misclassified.png", "config.json"):
    assert (tmp_path / name).stat().st_size > 1000
  assert any(f.startswith("events.out.tfevents") for f in os.listdir(tmp_path / "tensorboard"))


def test_resume_is_bit_identical(tmp_path):
  cfg = _tiny(epochs=3)
  loop.run(cfg, str(tmp_path / "straight"))
  loop.run(_tiny(epochs=1), str(tmp_path / "resumed"))
  loop.run(cfg, str(tmp_path / "resumed"))  # extends the same workdir to 3 epochs
  _, straight, record_a = loop.restore(str(tmp_path / "straight"))
  _, resumed, record_b = loop.restore(str(tmp_path / "resumed"))
  jax.tree.map(np.testing.assert_array_equal, train.arrays(straight), train.arrays(resumed))
  assert _without_time(record_a["history"]) == _without_time(record_b["history"])
  assert _without_time(_history(tmp_path / "straight")) == _without_time(_history(tmp_path / "resumed"))


def test_non_finite_loss_stops_with_one_line_and_keeps_last_good_checkpoint(tmp_path):
  cfg = _tiny(epochs=1)
  workdir = str(tmp_path)
  loop.run(cfg, workdir)
  # Poison the weights of the only checkpoint, as a numerical blow-up would, and resume.
  _, state, record = loop.restore(workdir)
  state.params["Dense_0"]["kernel"][0, 0, 0] = np.nan
  shutil.rmtree(os.path.join(workdir, "checkpoints", "1"))
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=2)
  ckpts.save(1, train.arrays(state), record, validation_errors=[0.5])
  ckpts.close()
  with pytest.raises(FloatingPointError, match=r"^non-finite loss at epoch 2, step 1 \(member 0\), "
                                               r"learning rate 0\.00097 per example$"):
    loop.run(_tiny(epochs=2), workdir)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["1"]
  _, kept, kept_record = loop.restore(workdir)
  assert kept_record["epoch"] == 1 and np.isnan(kept.params["Dense_0"]["kernel"][0, 0, 0])


def test_a_diverging_member_is_recorded_and_the_others_train_on(tmp_path):
  workdir = str(tmp_path)
  loop.run(tiny.committee(2, epochs=1, stop_on_nonfinite=False), workdir)
  # Poison member 1's weights in the only checkpoint, as a numerical blow-up would, and train on.
  _, state, record = loop.restore(workdir)
  state.params["Dense_0"]["kernel"][1, 0, 0] = np.nan
  shutil.rmtree(os.path.join(workdir, "checkpoints", "1"))
  ckpts = checkpoint.Checkpoints(os.path.join(workdir, "checkpoints"), keep=2)
  ckpts.save(1, train.arrays(state), record, validation_errors=[0.5])
  ckpts.close()
  results = loop.run(tiny.committee(2, epochs=3, stop_on_nonfinite=False), workdir)
  # The diverged member's loss is null in the files (JSON has no NaN): metrics.jsonl and the checkpoint's record.
  losses_Ex2 = np.asarray([e["train_loss"] for e in _history(tmp_path)], np.float64)
  assert np.all(np.isnan(losses_Ex2[1:, 1])) and np.all(np.isfinite(losses_Ex2[:, 0]))
  assert losses_Ex2[2, 0] < losses_Ex2[0, 0] and results["epochs"] == 3
  _, state, record = loop.restore(workdir)
  assert record["epoch"] == 3 and record["history"][-1]["train_loss"][1] is None
  assert np.isfinite(state.params["Dense_0"]["kernel"][0]).all()


def test_workdir_of_another_config_is_refused_but_not_for_another_data_location(tmp_path):
  loop.run(_tiny(epochs=1), str(tmp_path))
  with pytest.raises(ValueError, match=r"holds a run with a different config \(fields: lr0\)"):
    loop.run(_tiny(epochs=1, lr0=5e-3), str(tmp_path))
  # Where the digits are read from is not what is trained: the run resumes.
  loop.run(_tiny(epochs=2, mirror=str(tmp_path / "elsewhere"), data_dir=os.environ["DEEP_SIMPLE_DATA_DIR"]),
           str(tmp_path))
  assert [e["epoch"] for e in _history(tmp_path)] == [1, 2]


def test_limits_take_fixed_random_subsets_and_paper_validation_is_the_digits_trained(mnist_splits):
  splits = data.load_splits("mnist", "paper", train_limit=5_000, eval_limit=2_000)
  train_images, train_labels = splits["train"]
  all_train, all_test = mnist_splits["train"], mnist_splits["test"]
  assert len(train_labels) == 5_000 and len(splits["validation"][1]) == len(splits["test"][1]) == 2_000
  assert not np.array_equal(train_images, all_train[0][:5_000])  # not the first digits
  # Every validation digit is one of the 5,000 training digits, and every test digit a real test digit.
  trained = {image.tobytes() for image in train_images}
  assert all(image.tobytes() in trained for image in splits["validation"][0])
  test_index = {image.tobytes(): i for i, image in enumerate(all_test[0])}
  picked = [test_index[image.tobytes()] for image in splits["test"][0]]
  assert picked == sorted(picked) and picked[-1] > 9_000  # in order, spread over the whole test set
  np.testing.assert_array_equal(splits["test"][1], all_test[1][picked])
  again = data.load_splits("mnist", "paper", train_limit=5_000, eval_limit=2_000)
  np.testing.assert_array_equal(again["test"][0], splits["test"][0])  # fixed


def test_kept_best_checkpoint_is_the_reported_best_epoch_when_validation_errors_tie(tmp_path):
  """At a rate of zero every epoch ties on validation error: the record reports the first epoch, and the
  checkpoint kept as best must be that one, not the last of the ties."""
  cfg = _tiny(epochs=5, lr0=1e-30, lr_min=0.0, keep_checkpoints=1)
  results = loop.run(cfg, str(tmp_path))
  errors = [e["validation_selected_error"] for e in _history(tmp_path)]
  assert len(set(errors)) == 1 and results["selected"]["best_validation_epoch"] == 1
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["1", "5"]  # the best and the newest


@pytest.mark.parametrize("field, value, message", [
    ("loss", "hinge", "config.loss must be one of"),
    ("protocol", "none", "config.protocol must be one of"),
    ("batch_size", 0, "config.batch_size must be positive"),
    ("lr_decay", 1.5, "lr_decay <= 1"),
])
def test_bad_config_is_rejected_before_anything_is_written(tmp_path, field, value, message):
  with pytest.raises(ValueError, match=message):
    loop.run(_tiny(**{field: value}), str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
