"""What a run leaves behind: metrics.jsonl, TensorBoard scalars, results.json and the figures."""

import datetime
import math
import os

import jax
import numpy as np
from tensorboardX import SummaryWriter

from deep_simple import config
from deep_simple import files
from deep_simple import models
from deep_simple import plots
from deep_simple import stats


class MetricsWriter:
  """One JSON line and a set of TensorBoard scalars per epoch.

  On resume, metrics.jsonl is rewritten from the checkpoint's history, so epochs re-run after a crash are
  not listed twice, and a line cut short by a crash is gone.
  """

  def __init__(self, workdir: str, history: list):
    self._path = os.path.join(workdir, "metrics.jsonl")
    files.write_atomic(self._path, "".join(files.to_json(entry) + "\n" for entry in history))
    self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write(self, entry: dict) -> None:
    with files.naming(self._path), open(self._path, "a") as f:
      f.write(files.to_json(entry) + "\n")
    for key, value in entry.items():
      for member, v in enumerate(value if isinstance(value, list) else [value]):
        tag = f"{key}/member{member}" if isinstance(value, list) else key
        if math.isfinite(v):  # A diverged member's NaN loss stays in metrics.jsonl only.
          self._tb.add_scalar(tag, v, entry["epoch"])
    self._tb.flush()

  def close(self) -> None:
    self._tb.close()


def misclassified(test_scores_NxK: np.ndarray, test_labels_N: np.ndarray) -> list:
  """[test index, true label, first guess, second guess] for every misclassified digit."""
  order_NxK = np.argsort(-test_scores_NxK, axis=-1)
  wrong = np.flatnonzero(order_NxK[:, 0] != test_labels_N)
  return [[int(i), int(test_labels_N[i]), int(order_NxK[i, 0]), int(order_NxK[i, 1])] for i in wrong]


def best_record(entry: dict, test_scores_NxK: np.ndarray, test_labels_N: np.ndarray) -> dict:
  """The selected model's record at a new best validation epoch, with its misclassified test digits."""
  wrong = misclassified(test_scores_NxK, test_labels_N)
  correct_N = np.ones(len(test_labels_N), bool)
  correct_N[[i for i, *_ in wrong]] = False
  return {
      "epoch": entry["epoch"],
      "validation_error": entry["validation_selected_error"],
      "test_error": entry["test_selected_error"],
      "test_correct": stats.pack_correct(correct_N),
      "misclassified": wrong,
  }


def update_member_bests(record: dict, entry: dict, test_probs_MxNxK: np.ndarray, test_labels_N: np.ndarray):
  """Keeps each member's test-digit correctness at its own best validation epoch (the earliest of ties), so
  that any two members or runs on the same test digits can be compared digit by digit (stats.mcnemar)."""
  bests = record.setdefault("member_best", [None] * len(entry["validation_error"]))
  for m, error in enumerate(entry["validation_error"]):
    if bests[m] is None or error < bests[m]["validation_error"]:
      bests[m] = {"epoch": entry["epoch"], "validation_error": error,
                  "test_correct": stats.pack_correct(test_probs_MxNxK[m].argmax(-1) == test_labels_N)}


def _with_correctness(columns: dict, best) -> dict:
  """Table 1's columns with the test digits' correctness at that epoch, where the record kept it (a run
  resumed from a checkpoint of older code may not have it for its best epoch)."""
  if best and best.get("epoch") == columns["best_validation_epoch"] and "test_correct" in best:
    columns["test_correct"] = best["test_correct"]
  return columns


def table_columns(validation_errors, test_errors) -> dict:
  """Table 1's columns: test error at the epoch of best validation error, and the best test error."""
  val, test = np.asarray(validation_errors), np.asarray(test_errors)
  best = int(np.argmin(val))  # the first epoch reaching the minimum
  return {"best_validation_epoch": best + 1, "validation_error": float(val[best]),
          "test_error_at_best_validation": float(test[best]), "best_test_error": float(test.min())}


def summarise(cfg, record: dict, digits: dict) -> dict:
  """results.json: Table 1's columns per member and for the selected model, and what produced them.

  `digits`: the numbers of training, validation and test digits the run used.
  """
  history = record["history"]
  column = lambda key: np.asarray([e[key] for e in history])
  classes = config.num_classes(cfg)
  results = {
      "name": cfg.name,
      "dataset": cfg.dataset,
      "protocol": cfg.protocol,
      "model": cfg.model.to_dict(),
      "architecture": models.describe(cfg.model, classes),
      "parameters_per_member": models.count_params(cfg.model, config.input_shape(cfg), classes),
      "members": len(config.trained_members(cfg)),
      "committee_member": cfg.committee.member,
      "epochs": record["epoch"],
      "batch_size": cfg.batch_size,
      "mode": "online" if cfg.batch_size == 1 else "mini-batch",
      "train_digits": digits["train"],
      "validation_digits": digits["validation"],
      "test_digits": digits["test"],
      "wall_seconds": float(column("seconds").sum()),
      "device": jax.devices()[0].device_kind,
      "device_count": jax.device_count(),
      "date": datetime.date.today().isoformat(),
      "selected": _with_correctness(
          table_columns(column("validation_selected_error"), column("test_selected_error")), record["best"]),
      "per_member": [_with_correctness(table_columns(v, t), best) for v, t, best in
                     zip(column("validation_error").T, column("test_error").T,
                         record.get("member_best") or [None] * cfg.committee.size)],
  }
  results["reported_weights"] = cfg.reported_weights
  for other in ("ema", "params"):  # the weights evaluated beside the reported ones
    if f"{other}_validation_error" in history[0]:
      results[f"{other}_per_member"] = [table_columns(v, t) for v, t in zip(
          column(f"{other}_validation_error").T, column(f"{other}_test_error").T)]
  results["misclassified_at_best_validation"] = len(record["best"]["misclassified"])
  return results


def write_outputs(cfg, record: dict, results: dict, test_split, workdir: str) -> None:
  """results.json and the figures, each whole or not at all."""
  files.write_atomic(os.path.join(workdir, "results.json"), files.to_json(results, indent=2))
  with files.replacing(os.path.join(workdir, "learning_curve.png")) as path:
    plots.learning_curves(record["history"], path, title=f"{cfg.name}: error per epoch")
  images, labels = test_split
  images = images[0] if tuple(cfg.committee.widths) else images  # members' own widths: the first member's input
  with files.replacing(os.path.join(workdir, "misclassified.png")) as path:
    plots.misclassified(images, record["best"]["misclassified"], path,
                        title=f"{cfg.name}: the {len(record['best']['misclassified'])} misclassified test digits "
                              f"at epoch {record['best']['epoch']} (true label, first and second guess)")
