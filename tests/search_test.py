"""experiments.search as a real process on real MNIST: tiny recipes, their records, the summary, bad input."""

import datetime
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deep_simple import stats
from experiments import budget
from experiments import search
from experiments.configs import search as recipes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _search(out, *args):
  return subprocess.run([sys.executable, "-m", "experiments.search", "--tiny", f"--out={out}", *args],
                        cwd=REPO, capture_output=True, text=True, check=False)


def _searched(out, *args):
  done = _search(out, *args)
  assert done.returncode == 0, done.stderr
  return out


@pytest.fixture(scope="module")
def extended(tmp_path_factory, mnist_dir):
  """A 4-member learning-rate committee and an EMA run, each given time for all 3 of its epochs."""
  del mnist_dir  # fetched once here, not by the subprocess
  return _searched(tmp_path_factory.mktemp("search") / "out", "--recipes=lr_sweep,ema_9999",
                   "--budget_minutes=30")


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory, mnist_dir):
  """Two single nets that differ only in their decay, with a budget too short to go past the probe."""
  del mnist_dir
  return _searched(tmp_path_factory.mktemp("search") / "out", "--recipes=b32,decay99",
                   "--budget_minutes=0.001")


def _record(out, recipe):
  with open(out / f"{recipe}.json") as f:
    return json.load(f)


def _metrics(record):
  with open(os.path.join(REPO, record["workdir"], "metrics.jsonl")) as f:  # relative to the command's folder
    return [json.loads(line) for line in f]


def _history_columns(history, model):
  """(validation, test) errors per epoch of a model row, read straight from the run's history."""
  if model["model"] == "committee":
    return ([e["validation_selected_error"] for e in history], [e["test_selected_error"] for e in history])
  prefix = "ema_" if model["model"].startswith("ema ") else ""
  m = model["run_member"]
  return ([e[f"{prefix}validation_error"][m] for e in history], [e[f"{prefix}test_error"][m] for e in history])


def test_writes_one_record_per_recipe_and_a_summary(extended, budgeted):
  assert sorted(os.listdir(extended)) == ["ema_9999.json", "lr_sweep.json", "runs", "summary.md"]
  assert sorted(os.listdir(budgeted)) == ["b32.json", "decay99.json", "runs", "summary.md"]


@pytest.mark.parametrize("fixture, recipe", [("extended", "lr_sweep"), ("extended", "ema_9999"),
                                             ("budgeted", "b32"), ("budgeted", "decay99")])
def test_record_matches_the_runs_metrics(request, fixture, recipe):
  record = _record(request.getfixturevalue(fixture), recipe)
  history = _metrics(record)
  assert record["history"] == history
  assert [e["epoch"] for e in history] == list(range(1, record["epochs"] + 1))
  assert record["config"]["epochs"] == record["epochs"]
  assert record["config"]["model"]["hidden"] == [64] and record["tiny"]
  assert record["device"] == "cpu" and record["date"] == datetime.date.today().isoformat()
  assert record["train_seconds"] == pytest.approx(sum(e["seconds"] for e in history))
  assert record["wall_seconds"] > record["train_seconds"]
  assert record["selected"] == record["models"][0]
  for model in record["models"]:
    validation, test = map(np.asarray, _history_columns(history, model))
    best = int(np.flatnonzero(validation == validation.min())[0])
    assert model["best_validation_epoch"] == best + 1
    assert model["validation_error"] == validation[best]
    assert model["test_error_at_best_validation"] == test[best]
    assert model["best_test_error"] == test.min()


def test_lr_sweep_trains_its_rates_side_by_side(extended):
  record = _record(extended, "lr_sweep")
  cfg = recipes.get_config("lr_sweep", tiny=True)
  assert record["run"] == "lr_sweep" and record["run_members"] == [0, 1, 2, 3]
  assert [m["model"] for m in record["models"]] == ["committee"] + [f"member {k}" for k in range(4)]
  assert [m["lr0"] for m in record["models"][1:]] == list(cfg.committee.lr0)
  for entry in record["history"]:
    expected = [lr0 * cfg.lr_decay ** (entry["epoch"] - 1) for lr0 in cfg.committee.lr0]  # per example
    np.testing.assert_allclose(entry["lr"], expected, rtol=1e-5)


def test_ema_weights_are_evaluated_beside_the_raw_ones(extended):
  record = _record(extended, "ema_9999")
  assert record["config"]["ema_decay"] == 0.9999
  raw, ema = record["models"]
  assert (raw["model"], ema["model"]) == ("member 0", "ema member 0")
  assert ema["validation_error"] != raw["validation_error"]


def test_the_budget_sets_the_epochs(extended, budgeted):
  for recipe in ("lr_sweep", "ema_9999"):
    record = _record(extended, recipe)
    assert record["epochs"] == record["epoch_cap"] == 3 > record["probe_epochs"]
  for recipe in ("b32", "decay99"):
    record = _record(budgeted, recipe)
    assert record["epochs"] == record["probe_epochs"] == budget.PROBE_EPOCHS < record["epoch_cap"]


def test_single_nets_differing_in_rates_share_one_run(budgeted):
  b32, decay99 = _record(budgeted, "b32"), _record(budgeted, "decay99")
  assert b32["run"] == decay99["run"] == "b32+decay99"
  assert (b32["run_members"], decay99["run_members"]) == ([0], [1])
  assert [m["model"] for m in decay99["models"]] == ["member 0"]  # a shared run's committee is no recipe's
  assert decay99["config"]["committee"]["lr_decay"] == [0.97, 0.99]
  assert decay99["history"][1]["lr"][1] == pytest.approx(1e-3 * 0.99, rel=1e-5)  # per example


def test_plan_groups_only_single_nets_that_differ_in_rates():
  runs = search.plan(["b32", "lr_sweep", "decay985", "ema_999", "decay99", "b16", "ema_9999"], tiny=False)
  assert [(r.name, r.members) for r in runs] == [
      ("b32+decay985+decay99", {"b32": (0,), "decay985": (1,), "decay99": (2,)}),
      ("lr_sweep", {"lr_sweep": (0, 1, 2, 3)}), ("ema_999", {"ema_999": (0,)}), ("b16", {"b16": (0,)}),
      ("ema_9999", {"ema_9999": (0,)})]
  assert tuple(runs[0].cfg.committee.lr_decay) == (0.97, 0.985, 0.99)


def _summary_rows(out):
  lines = (out / "summary.md").read_text().splitlines()
  start = lines.index("|---|---|---|---|---|---|---|---|---|") + 1
  return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start:]]


def test_summary_lists_every_model_ranked_by_validation(extended):
  rows = _summary_rows(extended)
  records = {r: _record(extended, r) for r in ("lr_sweep", "ema_9999")}
  expected = {(f"{r} (tiny)", m["model"]): m for r, record in records.items() for m in record["models"]}
  assert len(rows) == len(expected)
  validation = []
  for recipe, model, val, test_at_best, best_test, epoch, epochs, _, predicted in rows:
    m = expected[recipe, model.split(" (")[0]]
    assert (val, test_at_best, best_test) == (f"{m['validation_error']:.3%}",
                                              stats.format_error(m["test_error_at_best_validation"],
                                                                 records[recipe.split()[0]]["test_digits"]),
                                              f"{m['best_test_error']:.2%}")
    assert (int(epoch), int(epochs), predicted) == (m["best_validation_epoch"], 3, "-")
    validation.append(m["validation_error"])
  assert validation == sorted(validation)


def test_unknown_recipe_is_a_one_line_error(tmp_path):
  done = _search(tmp_path / "out", "--recipes=b32,nope")
  assert done.returncode != 0
  assert done.stderr.strip() == ("error: --recipes: unknown recipe 'nope'; choose from "
                                 + ", ".join(recipes.RECIPES))
  assert not (tmp_path / "out").exists()


def test_a_finished_recipe_is_kept_and_another_config_never_overwrites_it(extended):
  before = (extended / "lr_sweep.json").read_bytes()
  # The same recipes again (e.g. after a preemption): nothing left to train, the records stay as they are.
  assert _search(extended, "--recipes=lr_sweep,ema_9999", "--budget_minutes=30").returncode == 0
  assert (extended / "lr_sweep.json").read_bytes() == before
  full_size = subprocess.run([sys.executable, "-m", "experiments.search", f"--out={extended}", "--recipes=lr_sweep"],
                             cwd=REPO, capture_output=True, text=True, check=False)
  assert full_size.returncode == 1 and full_size.stderr.splitlines() == [
      f"error: {extended / 'lr_sweep.json'} already holds a result of another config; choose another --out"]
  assert (extended / "lr_sweep.json").read_bytes() == before
