"""Released models: a run's reported weights in one small portable file, and prediction from it.

    model = release.load("results/mcdnn35-cpu/member07/model.npz")  # a corrupt or mismatched file: ReleaseError
    probs_NxK = release.predict(model, images_Nx28x28)               # uint8 MNIST digits -> softmax outputs

A release is an .npz holding the weights of the members a run trained, stacked by member (`params/<layer>/
<name>`, float32), and `release.json`: the run's config (the model family and its fields, the input
preprocessing: digit width per member, padding, input range), which weights they are (raw or moving
average, the epoch) with the validation and test errors they had, and the SHA-256 of the weights.

The weights released are those of the run's best validation epoch, and of the weight set (raw or moving
average) whose best validation error is lower (a tie: the config's `reported_weights`): the validation
digits choose, never the preset. While a run trains, each weight set's best epoch so far is kept as a
candidate (`best_params.npz`, `best_ema.npz` in the workdir, written before that epoch's checkpoint, so a
resumed run rewrites them identically); the finished run releases the winner as `model.npz`.
"""

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import zipfile

from absl import logging
from flax import traverse_util
import jax
import ml_collections
import numpy as np

from deep_simple import committee
from deep_simple import config
from deep_simple import data
from deep_simple import files
from deep_simple import models
from deep_simple import train
from deep_simple import width

FORMAT = "deep_simple.release/1"
FILE = "model.npz"
_META = "release.json"
_PARAMS = "params/"
_INPUT_NOTE = {"mnist": "uint8 28x28 digits, white on black (MNIST)"}


class ReleaseError(ValueError):
  """A release file that cannot be read, fails its SHA-256, or does not fit its config."""


def candidate_path(workdir: str, weights: str) -> str:
  return os.path.join(workdir, f"best_{weights}.npz")


def weights_sha256(arrays: dict) -> str:
  """SHA-256 of named arrays: names, dtypes, shapes and bytes, in name order."""
  digest = hashlib.sha256()
  for name in sorted(arrays):
    array = np.ascontiguousarray(arrays[name])
    digest.update(f"{name}{array.dtype}{array.shape}".encode())
    digest.update(array.reshape(-1).view(np.uint8))
  return digest.hexdigest()


def write(path: str, params_M, meta: dict) -> None:
  """Writes host `params_M` (stacked by member) and `meta` as a release file, whole or not at all."""
  arrays = {_PARAMS + name: np.asarray(leaf, np.float32)
            for name, leaf in traverse_util.flatten_dict(params_M, sep="/").items()}
  meta = {"format": FORMAT, **meta, "sha256": weights_sha256(arrays)}
  with files.replacing(path) as tmp, open(tmp, "wb") as f:
    np.savez(f, **arrays, **{_META: np.asarray(json.dumps(meta))})


def history_key(cfg, weights: str, name: str) -> str:
  """The key of weight set `weights`' measurement `name` in a history entry (the reported set's unprefixed)."""
  return name if weights == cfg.reported_weights else f"{weights}_{name}"


def candidate_meta(cfg, weights: str, entry: dict, misclassified: list) -> dict:
  """What a release says of weight set `weights` at the epoch of history `entry` (its errors, the committee's
  misclassified test digits [index, label, first guess, second guess]) and how to rebuild the model."""
  key = lambda name: history_key(cfg, weights, name)
  members = config.trained_members(cfg)
  widths = tuple(cfg.committee.widths)
  return {
      "config": json.loads(cfg.to_json()),
      "family": cfg.model.name,
      "architecture": models.describe(cfg.model, config.num_classes(cfg)),
      "members": list(members),
      "preprocessing": {"input": _INPUT_NOTE.get(cfg.dataset, f"uint8 images of {cfg.dataset}"),
                        "width": [widths[m] if widths else 0 for m in members],  # 0: the original digits
                        "pad_to_29": cfg.pad_to_29, "input_range": cfg.input_range},
      "weights": weights,
      "epoch": entry["epoch"],
      "validation_error": entry[key("validation_selected_error")],
      "test_error": entry[key("test_selected_error")],
      "member_validation_error": entry[key("validation_error")],
      "member_test_error": entry[key("test_error")],
      "misclassified": misclassified,
  }


def _validation_errors(cfg, weights: str, history: list) -> list:
  return [e[history_key(cfg, weights, "validation_selected_error")] for e in history]


def chosen_weights(cfg, history: list) -> str:
  """The weight set whose best validation error is lower; a tie goes to config.reported_weights."""
  sets = [w for w in config.REPORTED_WEIGHTS if history_key(cfg, w, "validation_selected_error") in history[0]]
  return min(sets, key=lambda w: (min(_validation_errors(cfg, w, history)), w != cfg.reported_weights))


def finish(cfg, history: list, workdir: str) -> dict | None:
  """Releases the chosen weight set's candidate as workdir/model.npz; returns its meta (None, with a
  warning, for a run begun before releases existed, which has no candidates)."""
  weights = chosen_weights(cfg, history)
  epoch = int(np.argmin(_validation_errors(cfg, weights, history))) + 1
  candidate = candidate_path(workdir, weights)
  if not os.path.exists(candidate):
    logging.warning("%s is missing: no model released from %s", candidate, workdir)
    return None
  meta = read_meta(candidate)
  if meta["epoch"] != epoch:
    raise ReleaseError(f"{candidate} holds epoch {meta['epoch']}, but the run's best validation epoch of its "
                       f"{weights} weights is {epoch}")
  with files.replacing(os.path.join(workdir, FILE)) as tmp:
    shutil.copyfile(candidate, tmp)
  return meta


def _read(path: str):
  """(meta, arrays) of a release file; ReleaseError if it cannot be read or fails its SHA-256."""
  try:
    with np.load(path, allow_pickle=False) as npz:
      arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays.pop(_META)))
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
    raise ReleaseError(f"{path}: not a readable release file ({type(e).__name__}: "
                       f"{(str(e).splitlines() or [''])[0][:120]})") from None
  if meta.get("format") != FORMAT:
    raise ReleaseError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
  if weights_sha256(arrays) != meta.get("sha256"):
    raise ReleaseError(f"{path}: the weights fail their SHA-256 (the file is corrupt)")
  return meta, arrays


def read_meta(path: str) -> dict:
  return _read(path)[0]


@dataclasses.dataclass(frozen=True)
class Model:
  """A loaded release: its config, its weights (stacked by member) and what release.json says."""

  cfg: ml_collections.ConfigDict
  params_M: dict
  meta: dict

  @property
  def members(self) -> int:
    return len(self.meta["members"])


def load(path: str) -> Model:
  """The release in `path`; ReleaseError (one line) if it is corrupt or its weights do not fit its config."""
  meta, arrays = _read(path)
  try:
    cfg = config.from_fields(meta["config"])
    config.validate(cfg)
    shapes = models.param_shapes(cfg.model, config.input_shape(cfg), config.num_classes(cfg))
  except (ValueError, KeyError, AttributeError) as e:
    raise ReleaseError(f"{path}: its config cannot build a model ({e})") from None
  expected = {_PARAMS + name: (len(meta["members"]), *s.shape)
              for name, s in traverse_util.flatten_dict(shapes, sep="/").items()}
  got = {name: a.shape for name, a in arrays.items()}
  if got != expected:
    wrong = sorted(n for n in set(got) | set(expected) if got.get(n) != expected.get(n))
    raise ReleaseError(f"{path}: its weights do not fit its config: {wrong[0]} has shape {got.get(wrong[0])}, "
                       f"the model's is {expected.get(wrong[0])}")
  params_M = traverse_util.unflatten_dict({name[len(_PARAMS):]: a for name, a in arrays.items()}, sep="/")
  return Model(cfg, params_M, meta)


def member_inputs(model: Model, images: np.ndarray) -> list:
  """Each member's input: the images as the dataset has them (MNIST: uint8 Nx28x28 digits), width-normalised as
  its member was trained, padded to 29x29 where it was."""
  images = np.asarray(images)
  h, w, c = data.image_shape(model.cfg.dataset, model.cfg.image_size)
  expected = (h, w) if c == 1 else (h, w, c)
  if images.shape[1:] != expected or images.dtype != np.uint8:
    raise ValueError(f"release.predict: expected uint8 Nx{'x'.join(map(str, expected))} images "
                     f"({model.cfg.dataset}); got {images.dtype} {images.shape}")
  pre = model.meta["preprocessing"]
  by_width = {w: width.normalize_width(images, w) if w else images for w in set(pre["width"])}
  return [data.pad_to_29(by_width[w]) if pre["pad_to_29"] else by_width[w] for w in pre["width"]]


@functools.lru_cache(maxsize=None)
def _jitted_predict(fields: str):
  return jax.jit(train.make_predict(ml_collections.ConfigDict(json.loads(fields))))


def member_probs(model: Model, images_Nx28x28: np.ndarray) -> np.ndarray:
  """probs_MxNxK: every member's softmax outputs."""
  # One compilation for all releases of one model (the members of a committee differ in other fields).
  fields = {k: model.cfg[k] for k in ("model", "dataset", "pad_to_29", "image_size", "input_range", "eval_batch")}
  predict = _jitted_predict(json.dumps(ml_collections.ConfigDict(fields).to_dict(), sort_keys=True))
  return np.stack([np.asarray(predict(jax.tree.map(lambda x, m=m: x[m], model.params_M), images))
                   for m, images in enumerate(member_inputs(model, images_Nx28x28))])


def predict(model: Model, images_Nx28x28: np.ndarray) -> np.ndarray:
  """probs_NxK: the model's softmax outputs (a committee's: its members' combined by its rule)."""
  probs_MxNxK = member_probs(model, images_Nx28x28)
  return committee.committee_scores(probs_MxNxK, model.cfg.committee.rule) if model.members > 1 else probs_MxNxK[0]


def splits(model: Model) -> dict:
  """The validation and test digits (uint8 Nx28x28, labels) the model's run measured it on."""
  cfg = model.cfg
  return data.load_splits(cfg.dataset, cfg.protocol, data_dir=cfg.data_dir or None, mirror=cfg.mirror or None,
                          train_limit=cfg.train_limit, eval_limit=cfg.eval_limit,
                          validation_limit=cfg.validation_limit, image_size=cfg.image_size)
