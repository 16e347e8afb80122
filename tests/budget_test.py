"""Training within a budget: the epochs that fit after the probe, and a real budgeted run."""

import json

import pytest

from experiments import budget
from tests import tiny


@pytest.mark.parametrize("budget_s, probe_wall, expected", [
    (100.0, 12.0, 80),  # 12 s probe = 2 s of epochs + 10 s outside them, paid again on resume
    (100.0, 60.0, 2),  # no room after the probe and the restart
    (1000.0, 12.0, 500)])  # the config's cap
def test_fitting_epochs(budget_s, probe_wall, expected):
  assert budget.fitting_epochs(budget_s, probe_wall, [1.0, 1.0], cap=500) == expected


@pytest.mark.parametrize("min_epochs, expected", [(10, 10), (2, 2), (900, 500)])
def test_fitting_epochs_gives_at_least_the_minimum_within_the_cap(min_epochs, expected):
  assert budget.fitting_epochs(100.0, 60.0, [1.0, 1.0], cap=500, min_epochs=min_epochs) == expected


def test_train_within_probes_then_resumes_to_the_cap(tmp_path):
  cfg = tiny.net(epochs=3)
  seen = []
  results, timing = budget.train_within(cfg, str(tmp_path), budget_s=3600,
                                        on_epoch=lambda entry, _: seen.append(entry["epoch"]))
  assert seen == [1, 2, 3] and results["epochs"] == 3
  assert timing["probe_epochs"] == 2 and timing["epoch_cap"] == 3
  assert timing["wall_seconds"] >= timing["probe_wall_seconds"] > 0
  with open(tmp_path / "config.json") as f:
    assert json.load(f)["epochs"] == 3  # the workdir now holds the extended run


def test_a_run_past_its_probe_resumes_to_the_epochs_it_planned(tmp_path):
  seen = []
  _, timing = budget.train_within(tiny.net(epochs=3), str(tmp_path), budget_s=3600)
  assert timing["planned_epochs"] == 3
  # Run again with a budget that would not go past the probe: the plan stands, nothing is trained.
  results, again = budget.train_within(tiny.net(epochs=5), str(tmp_path), budget_s=1e-3,
                                       on_epoch=lambda entry, _: seen.append(entry["epoch"]))
  assert seen == [] and results["epochs"] == 3 and again["planned_epochs"] == 3
  with open(tmp_path / budget.PLAN) as f:
    assert json.load(f)["probe_epochs"] == 2
