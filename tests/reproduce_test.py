"""experiments.reproduce as a real process on real MNIST: the table beside each run's results.json, bad flags."""

import datetime
import json
import os
import subprocess
import sys

import pytest

from deep_simple import stats

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Narrow nets on a slice of MNIST: every run is seconds of training.
TINY = ("--hidden_scale=0.05", "--batch_size=32", "--train_limit=1000", "--eval_limit=500", "--epochs=3")
# The paper's columns, from ../shared/PAPER.md: Table 1 of Ciresan et al. 2010 and the 2011 committee.
PAPER = {
    "net1": {"label": "2010 net 1", "test_error_at_best_validation": 0.0049, "best_test_error": 0.0044,
             "hours": 23.4, "weights_m": 1.34},
    "net5": {"label": "2010 net 5", "test_error_at_best_validation": 0.0044, "best_test_error": 0.0043,
             "hours": 107.7, "weights_m": 8.86},
    "mlp7": {"label": "2011 committee of 7 MLPs", "test_error_at_best_validation": 0.0031,
             "best_test_error": None, "hours": None, "weights_m": None},
}


def _reproduce(tmp_path, *args):
  return subprocess.run([sys.executable, "-m", "experiments.reproduce", f"--out={tmp_path / 'out'}",
                         f"--workdir_root={tmp_path / 'runs'}", *args],
                        cwd=REPO, capture_output=True, text=True, check=False)


def _reproduced(tmp_path, *args):
  done = _reproduce(tmp_path, *args)
  assert done.returncode == 0, done.stderr
  with open(tmp_path / "out" / "table1.json") as f:
    return done, json.load(f)


@pytest.fixture(scope="module")
def extended(tmp_path_factory, mnist_dir):
  """Net 1 and the 7-MLP committee, each with time for all 3 epochs: the probe's 2, then a resume."""
  del mnist_dir  # fetched once here, not by the subprocess
  tmp_path = tmp_path_factory.mktemp("reproduce")
  return tmp_path, *_reproduced(tmp_path, "--presets=net1", "--committee=mlp7", "--budget_minutes=30", *TINY)


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory, mnist_dir):
  """Net 5 alone, with a budget too short to go past the probe."""
  del mnist_dir
  tmp_path = tmp_path_factory.mktemp("reproduce")
  return tmp_path, *_reproduced(tmp_path, "--presets=net5", "--committee=none", "--budget_minutes=0.001", *TINY)


def _results(row):
  with open(os.path.join(REPO, row["workdir"], "results.json")) as f:  # relative to the command's folder
    return json.load(f)


def test_writes_the_table_and_the_figures_and_nothing_else(extended):
  tmp_path, _, table = extended
  assert [r["run"] for r in table["rows"]] == ["net1", "mlp7"]
  figures = {f"{run}_{figure}.png" for run in ("net1", "mlp7") for figure in ("learning_curve", "misclassified")}
  metrics = {f"{run}_metrics.jsonl" for run in ("net1", "mlp7")}
  assert set(os.listdir(tmp_path / "out")) == {"table1.md", "table1.json"} | figures | metrics
  for name in figures:
    assert (tmp_path / "out" / name).stat().st_size > 1000
  for row in table["rows"]:
    assert not os.path.isabs(row["workdir"])
    with open(tmp_path / "out" / row["metrics"]) as f, open(os.path.join(REPO, row["workdir"], "metrics.jsonl")) as g:
      assert f.read() == g.read()


@pytest.mark.parametrize("fixture, run, epochs, members, hidden", [
    ("extended", "net1", 3, 1, [50, 25]),
    ("extended", "mlp7", 3, 7, [125, 100, 75, 50, 25]),
    ("budgeted", "net5", 2, 1, [50] * 9),
])
def test_rows_hold_the_papers_numbers_and_the_runs_results(request, fixture, run, epochs, members, hidden):
  _, _, table = request.getfixturevalue(fixture)
  row = next(r for r in table["rows"] if r["run"] == run)
  results = _results(row)
  assert row["paper"] == PAPER[run]
  for key in ("test_error_at_best_validation", "best_test_error", "best_validation_epoch", "validation_error"):
    assert row[key] == results["selected"][key]
  correct = stats.unpack_correct(row["test_correct"], row["test_digits"])
  assert (~correct).sum() == row["misclassified_at_best_validation"]
  for key in ("misclassified_at_best_validation", "epochs", "batch_size", "mode", "architecture", "members",
              "device", "device_count", "date", "train_digits", "test_digits"):
    assert row[key] == results[key]
  assert row["weights_per_member"] == results["parameters_per_member"]
  assert row["train_seconds"] == results["wall_seconds"] and row["run_seconds"] > row["train_seconds"]
  assert (row["epochs"], row["members"], row["architecture"]) == (epochs, members, "-".join(map(str, hidden + [10])))
  assert (row["batch_size"], row["mode"], row["train_digits"], row["test_digits"]) == (32, "mini-batch", 1000, 500)
  assert row["date"] == datetime.date.today().isoformat() and row["device"] == "cpu"
  # 29x29 = 841 inputs and a bias per unit, as in the paper's weight counts.
  sizes = [841, *hidden, 10]
  assert row["weights_per_member"] == sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def test_markdown_rows_fill_every_column(extended):
  tmp_path, done, table = extended
  with open(tmp_path / "out" / "table1.md") as f:
    text = f.read()
  assert f"    {table['command']}\n" in text and table["command"].startswith("python -m experiments.reproduce ")
  assert "--committee=mlp7" in table["command"] and text in done.stdout
  lines = [line for line in text.splitlines() if line.startswith("|")]
  header, rows = lines[0], lines[2:]
  assert len(rows) == 2
  columns = header.count("|") - 1
  for line in rows:
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert len(cells) == columns and all(cells)
  net1 = [c.strip() for c in rows[0].strip("|").split("|")]
  row = table["rows"][0]
  assert net1[:5] == ["net1", "2010 net 1", "50-25-10", "1.34 M", f"{row['weights_per_member'] / 1e6:.2f} M"]
  assert net1[5:8] == ["0.49%", stats.format_error(row["test_error_at_best_validation"], 500), "0.44%"]
  assert net1[-1] == "[curve](net1_learning_curve.png), [errors](net1_misclassified.png)"
  mlp7 = [c.strip() for c in rows[1].strip("|").split("|")]
  assert mlp7[2] == "7 × 125-100-75-50-25-10" and mlp7[7] == "not reported"


@pytest.mark.parametrize("args, message", [
    (("--presets=net9",), "error: --presets: unknown preset 'net9'; choose from net1, "),
    (("--presets=net1", "--committee=mlp3"), "error: --committee: unknown preset 'mlp3'; choose from mlp7, "),
    (("--presets=", "--committee=none"), "error: --presets is empty and --committee=none: nothing to run"),
    (("--presets=net1", "--batch_size=0"), "error: net1: config.batch_size must be positive; got 0 (from the "),
    (("--presets=net1", "--hidden_scale=0"), "error: --hidden_scale must be positive; got 0.0"),
    (("--presets=net1", "--budget_minutes=-1"), "error: --budget_minutes must be >= 0 (0: no limit); got -1.0"),
])
def test_bad_flags_end_in_one_line_before_anything_is_written(tmp_path, args, message):
  done = _reproduce(tmp_path, *args)
  assert done.returncode == 1 and done.stderr.startswith(message) and done.stderr.count("\n") == 1
  assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_the_same_command_resumes_and_another_never_overwrites_the_table(budgeted):
  tmp_path, _, table = budgeted
  # The same command again (e.g. after a preemption): its finished runs are kept, nothing is trained again.
  _, again = _reproduced(tmp_path, "--presets=net5", "--committee=none", "--budget_minutes=0.001", *TINY)
  assert again == table
  done = _reproduce(tmp_path, "--presets=net1", "--committee=none", *TINY)
  assert done.returncode == 1 and done.stderr.startswith(
      f"error: {tmp_path / 'out' / 'table1.json'} holds the results of another command (python -m experiments.")
  assert len(done.stderr.splitlines()) == 1
  with open(tmp_path / "out" / "table1.json") as f:
    assert json.load(f) == table
