"""Released models: a finished run's model file reproduces its reported test error; corrupt or mismatched
files are refused in one line; the CLI classifies PNG files."""

import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from deep_simple import loop
from deep_simple import release
from tests import tiny

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def member_run_config(member: int = 1, **overrides):
  """Member `member` of a tiny CNN committee on the original digits and widths 12 and 16, with a moving average."""
  cfg = tiny.cnn(train_limit=1_000, eval_limit=500, epochs=3, ema_decay=0.99, **overrides)
  cfg.committee.size, cfg.committee.widths, cfg.committee.member = 3, (0, 12, 16), member
  return cfg


@pytest.fixture(scope="module")
def finished(tmp_path_factory, mnist_dir):
  del mnist_dir
  workdir = str(tmp_path_factory.mktemp("member1"))
  results = loop.run(member_run_config(), workdir)
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    history = [json.loads(line) for line in f]
  return workdir, results, history


def test_the_released_model_reproduces_the_runs_reported_test_error(finished):
  workdir, results, history = finished
  model = release.load(os.path.join(workdir, release.FILE))
  meta = model.meta
  # The weight set and epoch are the validation digits' choice.
  best = {w: min((e[release.history_key(model.cfg, w, "validation_selected_error")], e["epoch"]) for e in history)
          for w in ("params", "ema")}
  chosen = min(best, key=lambda w: (best[w][0], w != model.cfg.reported_weights))
  assert (meta["weights"], meta["epoch"], meta["validation_error"]) == (chosen, best[chosen][1], best[chosen][0])
  assert results["released"] == {key: meta[key] for key in ("weights", "epoch", "validation_error", "test_error")}
  assert meta["members"] == [1] and meta["preprocessing"]["width"] == [12]
  assert model.params_M["Conv_0"]["kernel"].shape[0] == 1  # one member
  entry = history[meta["epoch"] - 1]
  assert meta["test_error"] == entry[release.history_key(model.cfg, meta["weights"], "test_selected_error")]

  splits = release.splits(model)
  for name in ("validation", "test"):
    images, labels = splits[name]
    probs_NxK = release.predict(model, images)
    np.testing.assert_allclose(probs_NxK.sum(-1), 1, rtol=1e-5)
    error = float((probs_NxK.argmax(-1) != labels).mean())
    assert error == meta[f"{name}_error"], name
  wrong = np.flatnonzero(probs_NxK.argmax(-1) != labels)
  assert [m[0] for m in meta["misclassified"]] == wrong.tolist()  # digit for digit


def _refusal(path):
  with pytest.raises(release.ReleaseError) as refused:
    release.load(path)
  message = str(refused.value)
  assert "\n" not in message and path in message
  return message


def test_a_corrupt_or_mismatched_release_is_refused_in_one_line(finished, tmp_path):
  workdir, _, _ = finished
  good = os.path.join(workdir, release.FILE)
  blob = bytearray(open(good, "rb").read())

  flipped = str(tmp_path / "flipped.npz")
  blob_flipped = bytearray(blob)
  blob_flipped[len(blob) // 2] ^= 0xFF  # inside the weights
  open(flipped, "wb").write(blob_flipped)
  assert "not a readable release" in _refusal(flipped) or "SHA-256" in _refusal(flipped)

  truncated = str(tmp_path / "truncated.npz")
  open(truncated, "wb").write(blob[:len(blob) // 3])
  assert "not a readable release" in _refusal(truncated)

  # Weights that pass their checksum but belong to another model: the config says 6 maps in the first layer.
  model = release.load(good)
  meta = {k: v for k, v in model.meta.items() if k not in ("format", "sha256")}
  meta["config"]["model"]["maps"] = [6, 8]
  mismatched = str(tmp_path / "mismatched.npz")
  release.write(mismatched, model.params_M, meta)
  assert "do not fit its config" in _refusal(mismatched)

  # The command line says it in one `error:` line.
  done = subprocess.run([sys.executable, "-m", "experiments.classify", f"--model={flipped}", "any.png"], cwd=REPO,
                        capture_output=True, text=True, check=False)
  assert done.returncode == 1 and done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_the_cli_classifies_png_files_as_predict_does(finished, tmp_path):
  workdir, _, _ = finished
  model = release.load(os.path.join(workdir, release.FILE))
  images, _ = release.splits(model)["test"]
  paths = []
  for i in range(4):
    digit = images[i] if i % 2 else 255 - images[i]  # dark on light is inverted
    paths.append(str(tmp_path / f"digit{i}.png"))
    Image.fromarray(digit).save(paths[-1])
  done = subprocess.run([sys.executable, "-m", "experiments.classify", f"--model={workdir}/model.npz", *paths],
                        cwd=REPO, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  guesses = [int(line.split(": ")[1].split()[0]) for line in done.stdout.splitlines()]
  assert guesses == release.predict(model, images[:4]).argmax(-1).tolist()
  Image.fromarray(np.zeros((20, 20), np.uint8)).save(tmp_path / "small.png")
  done = subprocess.run([sys.executable, "-m", "experiments.classify", f"--model={workdir}/model.npz",
                         str(tmp_path / "small.png")], cwd=REPO, capture_output=True, text=True, check=False)
  assert done.returncode == 1 and "expected 28x28 pixels" in done.stderr


def test_a_model_released_before_images_had_channels_loads_and_misclassifies_the_same_digits(mnist_splits):
  # Released by an earlier version (its config lacks the fields added since), run on B x 29 x 29 digits then:
  # the same test digits wrong now, digit for digit.
  model = release.load(os.path.join(REPO, "results", "mcdnn35-cpu", "member00", release.FILE))
  assert "image_size" not in model.meta["config"] and model.cfg.model.padding == "valid"
  images, labels = mnist_splits["test"]
  wrong = np.flatnonzero(release.predict(model, images).argmax(-1) != labels)
  assert wrong.tolist() == [m[0] for m in model.meta["misclassified"]]
