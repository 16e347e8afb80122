"""experiments.pretraining as a real process on real MNIST: every file, the budget's accounting, a rerun that
trains nothing, bad flags."""

import json
import os
import subprocess
import sys

import pytest

from deep_simple import report
from deep_simple import stats
from deep_simple.pretrain import method
from deep_simple.pretrain import stages
from experiments import budget
from experiments.configs import pretraining as presets

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ("--size=tiny", "--methods=end_to_end,autoencoder_pretraining", "--distortions=off",
        "--budget_minutes=0.25", "--pretrain_share=0.4")


def _experiment(tmp_path, *args):
  return subprocess.run([sys.executable, "-m", "experiments.pretraining", f"--out={tmp_path / 'out'}",
                         f"--workdir_root={tmp_path / 'runs'}", *args],
                        cwd=REPO, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def table(tmp_path_factory, mnist_dir):
  """End-to-end training and stacked denoising autoencoders on plain digits, 15 s of charged time each."""
  del mnist_dir  # fetched once here, not by the subprocess
  tmp_path = tmp_path_factory.mktemp("pretraining")
  done = _experiment(tmp_path, *TINY)
  assert done.returncode == 0, done.stderr
  with open(tmp_path / "out" / "table.json") as f:
    return tmp_path, done, json.load(f)


def _history(tmp_path, cell, index, stage):
  with open(tmp_path / "runs" / cell / f"{index + 1}_{stage}" / "metrics.jsonl") as f:
    return [json.loads(line) for line in f]


def test_writes_the_table_the_figures_and_nothing_else(table):
  tmp_path, done, record = table
  assert sorted(os.listdir(tmp_path / "out")) == ["features_autoencoder_pretraining_plain.png", "table.json",
                                                  "table.md", "validation_vs_time.png"]
  for name in ("features_autoencoder_pretraining_plain.png", "validation_vs_time.png"):
    assert (tmp_path / "out" / name).stat().st_size > 5000
  with open(tmp_path / "out" / "table.md") as f:
    text = f.read()
  assert text in done.stdout and f"    {record['command']}\n" in text
  text, over_seeds = text.split("\nOver seeds: ")
  rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
  assert [r.split(" | ")[:3] for r in rows] == [
      ["| end_to_end (32-16-10)", "no", "ours"], ["| autoencoder_pretraining (32-16-10)", "no", "ours"],
      ["| DBN 784-500-500-2000", "no", "published: Hinton, Osindero & Teh 2006"],
      ["| DBN 3 x 1000 (Theano tutorial)", "no", "published: deeplearning.net tutorials"],
      ["| SdA 3 x 1000 (Theano tutorial)", "no", "published: deeplearning.net tutorials"],
      ["| MLP 2500-2000-1500-1000-500 (net 4)", "yes", "published: Ciresan et al. 2010"]]
  assert [r.split(" | ")[3] for r in rows[2:]] == ["1.25%", "1.34%", "1.30%", "0.35%"]
  assert all(r.count("|") == rows[0].count("|") for r in rows)
  # One seed per cell: the mean is the figure, and the paired test compares the two methods' test digits.
  end_to_end, autoencoders = record["rows"]
  n = end_to_end["digits"]["test"]
  paired = stats.mcnemar(stats.unpack_correct(autoencoders["test_correct"], n),
                         stats.unpack_correct(end_to_end["test_correct"], n))
  mean = stats.format_mean_std([end_to_end["test_error_at_best_validation"]])
  assert f"| end_to_end | no | {mean} | — | — | — |" in over_seeds
  difference = autoencoders["test_error_at_best_validation"] - end_to_end["test_error_at_best_validation"]
  test = f"{paired['a_only']} / {paired['b_only']}, p = {paired['p_value']:.2g}"
  assert (f"| autoencoder_pretraining | no | {stats.format_mean_std([autoencoders['test_error_at_best_validation']])} "
          f"| {100 * difference:+.2f} ± 0.00 % | seed 0: {test} | {test} |") in over_seeds


def test_the_budget_accounting_adds_up(table):
  """Every stage's charge is its recorded epochs' (the first at the second's time), its epoch count is the one
  its share of the budget allowed after the probe and a first extension, and the cell's totals are the
  stages' sums."""
  tmp_path, _, record = table
  budget_s, share = 0.25 * 60, 0.4
  for r, greedy in zip(record["rows"], (0, 2)):
    cell = f"{r['method']}_plain"
    assert [s["stage"] for s in r["stages"]] == [f"layer{k}" for k in range(1, greedy + 1)] + ["finetune"]
    charged_so_far = 0.0
    for index, s in enumerate(r["stages"]):
      history = _history(tmp_path, cell, index, s["stage"])
      assert s["epochs"] == len(history)
      assert s["seconds"] == pytest.approx(sum(stages.charged(history)))
      assert s["epoch_seconds"] == pytest.approx(sum(e["seconds"] for e in history))
      assert s["seconds"] <= s["epoch_seconds"]
      assert s["examples"] == len(history) * 992  # 31 batches of 32 of the 1,000 training digits
      share_s = share * budget_s / greedy if s["stage"] != "finetune" else budget_s - charged_so_far
      cap = 3 if s["stage"] == "finetune" else 2
      first = budget.stage_epochs(history[:2], share_s, cap, budget.FIRST_EXTENSION)
      assert s["epochs"] == budget.stage_epochs(history[:first], share_s, cap) > 1
      charged_so_far += s["seconds"]
    pre = r["stages"][:-1]
    assert r["seconds"] == pytest.approx(charged_so_far)
    assert r["pretrain_seconds"] == pytest.approx(sum(s["seconds"] for s in pre))
    assert r["examples"] == sum(s["examples"] for s in r["stages"])
    assert r["pretrain_examples"] == sum(s["examples"] for s in pre)
    assert r["pretrain_time_share"] == pytest.approx(r["pretrain_seconds"] / r["seconds"])
    assert r["pretrain_examples_share"] == pytest.approx(r["pretrain_examples"] / r["examples"])
    assert r["run_seconds"] > r["seconds"]
    assert (r["greedy_lr0"] is None) == (greedy == 0)


def test_the_validation_digits_pick_the_member_and_the_epoch(table):
  tmp_path, _, record = table
  for r in record["rows"]:
    history = _history(tmp_path, f"{r['method']}_plain", len(r["stages"]) - 1, "finetune")
    members = [report.table_columns([e["validation_error"][m] for e in history],
                                    [e["test_error"][m] for e in history]) for m in range(2)]
    best = min(range(2), key=lambda m: members[m]["validation_error"])
    assert r["selected_member"] == best
    for key in ("validation_error", "test_error_at_best_validation", "best_validation_epoch"):
      assert r[key] == members[best][key]
    assert r["finetune_lr0"] == (1e-3, 3e-3)[best]
    assert r["curves"][-1]["validation_error"] == [e["validation_error"][best] for e in history]
    assert r["curves"][-1]["test_error"] == [e["test_error"][best] for e in history]
    assert r["finetune_members"] == {split: [[e[f"{split}_error"][m] for e in history] for m in range(2)]
                                     for split in ("validation", "test")}
    wrong = (~stats.unpack_correct(r["test_correct"], r["digits"]["test"])).sum()
    assert wrong == round(r["test_error_at_best_validation"] * r["digits"]["test"])
  assert not os.path.isabs(record["workdir_root"])


def test_each_seed_trains_its_own_cell_and_two_processes_share_the_cells_out(tmp_path, mnist_dir):
  """The same command started twice at once: every cell is trained by one process only, and the table holds
  every cell's row once, in the command's order."""
  del mnist_dir
  args = ("--size=tiny", "--methods=end_to_end", "--distortions=off", "--budget_minutes=0.1", "--seeds=2")
  processes = [subprocess.Popen([sys.executable, "-m", "experiments.pretraining", f"--out={tmp_path / 'out'}",
                                 f"--workdir_root={tmp_path / 'runs'}", *args], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
  outputs = [p.communicate() for p in processes]
  assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
  trained = [line.split(":")[0] for out, _ in outputs for line in out.splitlines()
             if ": test error at best validation" in line]
  assert sorted(trained) == ["end_to_end_plain", "end_to_end_plain_seed1"]
  record = json.loads((tmp_path / "out" / "table.json").read_text())
  assert record["seeds"] == 2 and [r["seed"] for r in record["rows"]] == [0, 1]
  assert {n for n in os.listdir(tmp_path / "runs") if not n.endswith(".lock")} - {"jax_cache"} == {
      "end_to_end_plain", "end_to_end_plain_seed1"}
  assert record["rows"][0]["finetune_members"] != record["rows"][1]["finetune_members"]
  errors = [r["test_error_at_best_validation"] for r in record["rows"]]
  assert f"| end_to_end | no | {stats.format_mean_std(errors)} | — |" in (tmp_path / "out" / "table.md").read_text()


def test_the_same_command_again_trains_nothing(table):
  tmp_path, _, record = table
  done = _experiment(tmp_path, *TINY)
  assert done.returncode == 0, done.stderr
  with open(tmp_path / "out" / "table.json") as f:
    assert json.load(f) == record
  assert "epoch" not in done.stdout.split("# End-to-end")[0]


@pytest.mark.parametrize("args, message", [
    (("--methods=end_to_end,dbn",), "error: --methods: unknown or no method ('dbn'); choose from end_to_end, "),
    (("--distortions=sometimes",), "error: --distortions must list on, off or both; got 'sometimes'"),
    (("--seeds=0",), "error: --seeds must be at least 1; got 0"),
    (("--pretrain_share=1",), "error: --budget_minutes must be >= 0 and --pretrain_share in [0, 1); got 5.5 and "
                              "1.0"),
    (("--train_limit=-5",), "error: config.train_limit must be >= 0 (0 means all digits); got -5"),
])
def test_bad_flags_end_in_one_line_before_anything_is_written(tmp_path, args, message):
  done = _experiment(tmp_path, "--size=tiny", *args)
  assert done.returncode == 1 and done.stderr.startswith(message) and done.stderr.count("\n") == 1
  assert not (tmp_path / "out").exists() and not (tmp_path / "runs").exists()


def test_a_table_of_other_settings_is_not_extended(table):
  tmp_path, _, record = table
  done = _experiment(tmp_path, *TINY[:-2], "--budget_minutes=0.5")
  assert done.returncode == 1 and done.stderr == (f"error: {tmp_path / 'out' / 'table.json'} holds a table of other "
                                                  "settings (budget_minutes, pretrain_share); choose another --out\n")


@pytest.mark.parametrize("size, hidden", [("full", (2500, 2000, 1500, 1000, 500)),
                                          ("cpu", (250, 200, 150, 100, 50)), ("tiny", (32, 16))])
def test_every_method_trains_the_same_net_with_an_equal_search(size, hidden):
  for name in method.METHODS:
    cfg = presets.get_config(name, size)
    method.validate(cfg)
    assert (tuple(cfg.model.hidden), cfg.protocol, cfg.batch_size, cfg.seed) == (hidden, "holdout", 32, 0)
    assert cfg.committee.size == (2 if size == "tiny" else 4)
    plan = stages.plan(cfg)
    assert len(plan) == (1 if name == "end_to_end" else len(hidden) + 1)
    # Member m: a distinct (greedy rate, fine-tuning rate) pair.
    pairs = list(zip(cfg.pretrain.member_lr0 or [None] * cfg.committee.size, cfg.committee.lr0))
    assert len(set(pairs)) == cfg.committee.size
