"""What results.json records beyond the error rates: the test digits' correctness at the best validation
epoch, for the selected model and every member, on real MNIST."""

import json
import os

import numpy as np

from deep_simple import loop
from deep_simple import stats
from tests import tiny


def test_results_hold_each_models_test_digit_correctness_at_its_best_validation_epoch(tmp_path):
  results = loop.run(tiny.committee(3, epochs=3), str(tmp_path))
  with open(tmp_path / "metrics.jsonl") as f:
    history = [json.loads(line) for line in f]
  n = results["test_digits"]
  for columns, test_errors in [(results["selected"], [e["test_selected_error"] for e in history])] + [
      (results["per_member"][m], [e["test_error"][m] for e in history]) for m in range(3)]:
    correct = stats.unpack_correct(columns["test_correct"], n)
    assert (~correct).mean() == columns["test_error_at_best_validation"]
    assert columns["test_error_at_best_validation"] == test_errors[columns["best_validation_epoch"] - 1]
  # The committee's wrong digits are the ones misclassified.png shows.
  _, _, record = loop.restore(str(tmp_path))
  wrong = np.flatnonzero(~stats.unpack_correct(results["selected"]["test_correct"], n))
  assert wrong.tolist() == [i for i, *_ in record["best"]["misclassified"]]
  assert os.path.exists(tmp_path / "misclassified.png")
