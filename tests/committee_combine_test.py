"""experiments.committee: released members rebuilt, checked against their runs, and combined."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from deep_simple import committee
from deep_simple import loop
from deep_simple import release
from experiments.configs import mcdnn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def members(tmp_path_factory, mnist_dir):
  """Member runs 0-2 of the tiny3 preset (original digits, widths 12 and 16), 2 epochs each."""
  del mnist_dir
  root = tmp_path_factory.mktemp("members")
  for m in range(3):
    cfg = mcdnn.get_config("tiny3")
    cfg.epochs, cfg.committee.member = 2, m
    loop.run(cfg, str(root / f"member{m:02d}"))
  return root


def _combine(members_flag, out):
  return subprocess.run([sys.executable, "-m", "experiments.committee", f"--members={members_flag}", f"--out={out}",
                         "--orders=5"], cwd=REPO, capture_output=True, text=True, check=False)


def test_combine_checks_every_member_and_writes_every_file(members, tmp_path):
  done = _combine(f"{members}/member*", tmp_path)
  assert done.returncode == 0, done.stderr[-3000:]
  assert sorted(os.listdir(tmp_path)) == ["error_vs_members.png", "misclassified.png", "table.json", "table.md"]
  table = json.loads((tmp_path / "table.json").read_text())
  models = [release.load(str(members / f"member{m:02d}" / "model.npz")) for m in range(3)]
  assert [row["width"] for row in table["members"]] == [0, 12, 16]
  for row, model in zip(table["members"], models):
    assert row["check"] == {"newly_wrong": [], "newly_right": []}  # digit for digit as its run reported
    assert row["test_error"] == row["reported_test_error"] == model.meta["test_error"]
  images, labels = release.splits(models[0])["test"]
  probs_MxNxK = np.stack([release.predict(model, images) for model in models])
  expected = float((committee.committee_scores(probs_MxNxK).argmax(-1) != labels).mean())
  assert table["committee"]["test_error"] == expected and table["committee"]["members"] == 3
  assert [w["committee"]["test_error"] for w in table["widths"]] == [row["test_error"] for row in table["members"]]
  curve = table["error_vs_members"]["mean"]
  assert len(curve) == 3 and curve[-1] == expected  # every order ends with all members
  # Three inputs of one member each: one committee of one member per input, the committee of all.
  assert [c["names"] for c in table["one_per_input"]] == [["member00", "member01", "member02"]]
  assert table["one_per_input"][0]["test_error"] == expected
  versus = table["committee"]["against_best_member"]
  best = min(table["members"], key=lambda row: row["validation_error"])
  assert versus["name"] == best["name"] and 0 < versus["p_value"] <= 1
  committee_right = committee.committee_scores(probs_MxNxK).argmax(-1) == labels
  best_right = probs_MxNxK[[row["name"] for row in table["members"]].index(best["name"])].argmax(-1) == labels
  assert (versus["a_only"], versus["b_only"]) == (int((committee_right & ~best_right).sum()),
                                                  int((best_right & ~committee_right).sum()))
  md = (tmp_path / "table.md").read_text()
  assert "Committee of 3" in md and "McNemar" in md and "one member per input" in md


def test_committees_of_one_member_per_input_take_the_kth_of_every_input():
  assert committee.one_per_input({0: [0, 2, 4], 12: [1, 3]}) == [[0, 1], [2, 3]]
  assert committee.one_per_input({0: [0, 1, 2]}) == []  # one input: no such committee


def test_combine_refuses_a_corrupt_member_in_one_line(members, tmp_path):
  corrupt = tmp_path / "member09"
  corrupt.mkdir()
  (corrupt / "model.npz").write_bytes((members / "member00" / "model.npz").read_bytes()[:5000])
  done = _combine(f"{members}/member00,{corrupt}", tmp_path / "out")
  assert done.returncode == 1 and done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1
  assert "member09" in done.stderr
