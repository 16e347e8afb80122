"""Classification, the training loop's default task (loop.CLASSIFY): the model trained on the labels and
measured by its errors on the validation and test digits. The unsupervised pre-training stages are the other
task (deep_simple/pretrain/unsupervised.py).
"""

import jax

from deep_simple import committee
from deep_simple import hosts
from deep_simple import release
from deep_simple import report


def _error_rates(probs_MxNxK, labels_N):
  return (probs_MxNxK.argmax(-1) != labels_N).mean(axis=-1)


def _evaluate(params_M, predict, splits, lay, rule):
  """Per-member and committee error rates, and the test scores (committee and members) used for the
  best-epoch records."""
  entry = {}
  for name in ("validation", "test"):
    images, labels = splits[name]
    probs_MxNxK = committee.real_members(hosts.to_host(predict(params_M, images)), lay)
    entry[f"{name}_error"] = _error_rates(probs_MxNxK, labels).tolist()
    scores_NxK = committee.committee_scores(probs_MxNxK, rule) if lay.members > 1 else probs_MxNxK[0]
    entry[f"{name}_selected_error"] = float((scores_NxK.argmax(-1) != labels).mean())
  return entry, scores_NxK, probs_MxNxK


def make_evaluate(cfg, lay: committee.Layout, eval_splits: dict, workdir: str):
  """The task's measurements: every member's and the committee's validation and test errors of the reported
  weights (config.reported_weights; the other weights' under the prefix "ema_" or "params_"), the record
  of the best validation epoch with its misclassified test digits, each member's test-digit correctness at its
  own best validation epoch, and each weight set's best epoch so far as a release candidate
  (deep_simple/release.py)."""
  predict = committee.predict_fn(cfg, lay, bool(cfg.committee.widths))  # members see their own widths
  test_labels = eval_splits["test"][1]

  def keep_if_best(weights: str, params_M, test_scores, entry: dict, history: list) -> None:
    key = release.history_key(cfg, weights, "validation_selected_error")
    if history and entry[key] >= min(e[key] for e in history):
      return
    params_M = committee.real_members(hosts.to_host(params_M), lay)  # every process takes part
    if jax.process_index() == 0:
      meta = release.candidate_meta(cfg, weights, entry, report.misclassified(test_scores, test_labels))
      release.write(release.candidate_path(workdir, weights), params_M, meta)

  def evaluate(state, entry: dict, record: dict) -> None:
    reported, other, prefix = ((state.ema, state.params, "params_") if cfg.reported_weights == "ema"
                               else (state.params, state.ema, "ema_"))
    evaluated, test_scores, test_probs = _evaluate(reported, predict, eval_splits, lay, cfg.committee.rule)
    entry.update(evaluated)
    keep_if_best(cfg.reported_weights, reported, test_scores, entry, record["history"])
    if other is not None:
      beside, other_scores, _ = _evaluate(other, predict, eval_splits, lay, cfg.committee.rule)
      entry.update({f"{prefix}{k}": v for k, v in beside.items()})
      keep_if_best(prefix[:-1], other, other_scores, entry, record["history"])
    if record.get("best") is None or entry["validation_selected_error"] < record["best"]["validation_error"]:
      record["best"] = report.best_record(entry, test_scores, test_labels)
    report.update_member_bests(record, entry, test_probs, test_labels)

  return evaluate


def validation_error(entry: dict) -> float:
  """The epoch's validation error that picks the checkpoint kept as best: the committee's (a single net's)."""
  return entry["validation_selected_error"]


def summarise(cfg, record: dict, workdir: str, splits: dict) -> dict:
  """The run's results (report.summarise); process 0 also writes them, the released model and the figures."""
  results = report.summarise(cfg, record, {name: len(labels) for name, (_, labels) in splits.items()})
  if jax.process_index() == 0:
    released = release.finish(cfg, record["history"], workdir)
    if released:
      results["released"] = {key: released[key] for key in ("weights", "epoch", "validation_error", "test_error")}
    report.write_outputs(cfg, record, results, splits["test"], workdir)
  return results
