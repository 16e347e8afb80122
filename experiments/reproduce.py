r"""Reproduces Table 1 of Ciresan et al. 2010 (nets 1-5) and the 7-MLP committee, each run under a budget.

    python -m experiments.reproduce --presets=net1,net2,net3,net4,net5 --committee=mlp7 \
        --budget_minutes=60 --out=results/<name>

CPU-sized (nets a tenth as wide, mini-batches of 32, 20,000 training digits, which are also the validation
digits, all 10,000 test digits, 2 minutes per run; about 15 minutes on 2 cores):

    python -m experiments.reproduce --hidden_scale=0.1 --init_scale=0.15 --batch_size=32 \
        --train_limit=20000 --budget_minutes=2 --out=results/cpu

Each run first trains 2 epochs (experiments/budget.py), then resumes its workdir for as many epochs as its
steady epoch time leaves room for in --budget_minutes, up to the preset's epochs (or --epochs). Writes, after every run,
<out>/table1.md and <out>/table1.json (the paper's numbers beside ours) and copies each run's figures to
<out>/<run>_learning_curve.png and <out>/<run>_misclassified.png, and its per-epoch metrics to
<out>/<run>_metrics.jsonl (from which anyone can re-derive the selected epoch). Checkpoints stay in the
workdirs under --workdir_root.
"""

import dataclasses
import json
import os
import shutil

from absl import app
from absl import flags

from deep_simple import config
from deep_simple import stats
from experiments import budget
from experiments import cli
from experiments import progress
from experiments.configs import committee as committee_configs
from experiments.configs import paper as paper_configs


@dataclasses.dataclass(frozen=True)
class PaperRow:
  """A published result; None where the paper gives no number."""

  label: str
  test_error_at_best_validation: float
  best_test_error: float | None
  hours: float | None
  weights_m: float | None  # Millions of weights of one net, biases included.


# Table 1 of Ciresan, Meier, Gambardella & Schmidhuber 2010, arXiv:1003.0358 (../shared/PAPER.md):
# online SGD on one GTX 280, up to 800 epochs.
_NET1 = PaperRow("2010 net 1", 0.0049, 0.0044, 23.4, 1.34)
_NET2 = PaperRow("2010 net 2", 0.0046, 0.0040, 44.2, 3.26)
_NET3 = PaperRow("2010 net 3", 0.0041, 0.0039, 66.7, 6.69)
_NET4 = PaperRow("2010 net 4", 0.0035, 0.0032, 114.5, 12.11)
_NET5 = PaperRow("2010 net 5", 0.0044, 0.0043, 107.7, 8.86)
# Committee of 7 MLPs, Ciresan, Meier, Gambardella & Schmidhuber 2011, arXiv:1103.4487 (../shared/PAPER.md):
# 0.31 %; no best test error, training time or member size is quoted.
_MLP7 = PaperRow("2011 committee of 7 MLPs", 0.0031, None, None, None)

PAPER = {"net1": _NET1, "net2": _NET2, "net3": _NET3, "net4": _NET4, "net5": _NET5, "net4_b32": _NET4}
PAPER_COMMITTEES = {"mlp7": _MLP7, "mlp7_b32": _MLP7}

PRESETS = flags.DEFINE_list("presets", ["net1", "net2", "net3", "net4", "net5"],
                            f"Single-net presets of experiments/configs/paper.py: {', '.join(PAPER)}.")
COMMITTEE = flags.DEFINE_string("committee", "mlp7", "Committee preset of experiments/configs/committee.py "
                                f"({', '.join(PAPER_COMMITTEES)}), or none.")
BUDGET_MINUTES = flags.DEFINE_float("budget_minutes", 60.0, "Wall-clock minutes per run (0: no limit, "
                                    "train every epoch of the preset or --epochs).")
OUT = flags.DEFINE_string("out", None, "Folder of table1.md, table1.json and the figures, e.g. results/cpu.")
WORKDIR_ROOT = flags.DEFINE_string("workdir_root", None, "Folder of the runs' workdirs (checkpoints, "
                                   "metrics); default runs/reproduce/<basename of --out>.")
# Overrides applied to every run; unset keeps each preset's value.
EPOCHS = flags.DEFINE_integer("epochs", None, "Epoch cap of every run (the presets': 800).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Batch size of every run (the presets': 1, online).")
TRAIN_LIMIT = flags.DEFINE_integer("train_limit", None, "Train on n digits, a fixed random subset (0: all).")
EVAL_LIMIT = flags.DEFINE_integer("eval_limit", None, "Validate and test on n digits, fixed random subsets "
                                  "(0: all).")
HIDDEN_SCALE = flags.DEFINE_float("hidden_scale", 1.0, "Multiplies every hidden layer's width (rounded, at "
                                  "least 1): the nets keep their depth and proportions.")
INIT_SCALE = flags.DEFINE_float("init_scale", None, "Weights drawn uniformly in [-s, s] (the presets': 0.05). "
                                "Narrowed nets need a larger s: with fewer inputs per unit, 0.05 lets the "
                                "signal fade through net 5's nine layers.")

def configure(preset: str, is_committee: bool):
  """The preset's config with the command line's overrides; bad values fail here, before any training."""
  cfg = (committee_configs if is_committee else paper_configs).get_config(preset)
  overrides = {"epochs": EPOCHS.value, "batch_size": BATCH_SIZE.value, "train_limit": TRAIN_LIMIT.value,
               "eval_limit": EVAL_LIMIT.value}
  for field, value in overrides.items():
    if value is not None:
      cfg[field] = value
  cfg.model.hidden = tuple(max(1, round(w * HIDDEN_SCALE.value)) for w in cfg.model.hidden)
  if INIT_SCALE.value is not None:
    cfg.model.init_scale = INIT_SCALE.value
  try:
    config.validate(cfg)
  except ValueError as e:
    raise ValueError(f"{preset}: {e} (from the command line's overrides)") from e
  return cfg


def _check_flags() -> list:
  """[(preset, is_committee)] to run, after every check that needs no training."""
  unknown = [p for p in PRESETS.value if p not in PAPER]
  if unknown:
    raise ValueError(f"--presets: unknown preset {', '.join(map(repr, unknown))}; choose from {', '.join(PAPER)}")
  committee = COMMITTEE.value
  if committee not in (*PAPER_COMMITTEES, "none"):
    raise ValueError(f"--committee: unknown preset {committee!r}; choose from {', '.join(PAPER_COMMITTEES)}, none")
  runs = [(p, False) for p in PRESETS.value] + ([(committee, True)] if committee != "none" else [])
  if not runs:
    raise ValueError("--presets is empty and --committee=none: nothing to run")
  if len(set(runs)) != len(runs):
    raise ValueError(f"--presets names a preset twice: {','.join(PRESETS.value)}")
  if BUDGET_MINUTES.value < 0:
    raise ValueError(f"--budget_minutes must be >= 0 (0: no limit); got {BUDGET_MINUTES.value}")
  for flag in (HIDDEN_SCALE, INIT_SCALE):
    if flag.value is not None and not flag.value > 0:
      raise ValueError(f"--{flag.name} must be positive; got {flag.value}")
  if not OUT.value:
    raise ValueError("--out is required, e.g. --out=results/cpu")
  return runs


def train(name: str, cfg, workdir: str, budget_s: float):
  """(the loop's results, wall seconds of the whole run): the probe, then the epochs that fit the budget."""
  results, timing = budget.train_within(cfg, workdir, budget_s, progress.Progress(name))
  return results, timing["wall_seconds"]


def row(name: str, paper_row: PaperRow, results: dict, run_seconds: float, out: str, workdir: str) -> dict:
  """table1.json's record of one run: the paper's numbers, ours, and what produced them."""
  figures = {}
  for figure in ("learning_curve", "misclassified"):
    figures[figure] = f"{name}_{figure}.png"
    shutil.copyfile(os.path.join(workdir, f"{figure}.png"), os.path.join(out, figures[figure]))
  metrics = f"{name}_metrics.jsonl"
  shutil.copyfile(os.path.join(workdir, "metrics.jsonl"), os.path.join(out, metrics))
  selected = results["selected"]
  return {
      "run": name,
      "paper": dataclasses.asdict(paper_row),
      "architecture": results["architecture"],
      "members": results["members"],
      "weights_per_member": results["parameters_per_member"],
      "test_error_at_best_validation": selected["test_error_at_best_validation"],
      "best_test_error": selected["best_test_error"],
      "best_validation_epoch": selected["best_validation_epoch"],
      "validation_error": selected["validation_error"],
      "test_correct": selected["test_correct"],
      "misclassified_at_best_validation": results["misclassified_at_best_validation"],
      "epochs": results["epochs"],
      "batch_size": results["batch_size"],
      "mode": results["mode"],
      "train_digits": results["train_digits"],
      "test_digits": results["test_digits"],
      "train_seconds": results["wall_seconds"],
      "run_seconds": run_seconds,
      "device": results["device"],
      "device_count": results["device_count"],
      "date": results["date"],
      "figures": figures,
      "metrics": metrics,
      "workdir": os.path.relpath(workdir),
  }


def _percent(value) -> str:
  return "not reported" if value is None else f"{value:.2%}"


def _number(value, unit="") -> str:
  return "not reported" if value is None else f"{value:g}{unit}"


def table(record: dict) -> str:
  """table1.md: one row per run, the paper's columns beside ours."""
  epochs_note = (f"as many as the first {budget.PROBE_EPOCHS} epochs' times said would fit "
                 f"{record['budget_minutes']:g} minutes per run" if record["budget_minutes"]
                 else "every epoch of the run's config")
  lines = [
      "# Table 1 of Ciresan et al. 2010, reproduced",
      "",
      f"Runs of {', '.join(record['dates'])}, written by:",
      "",
      f"    {record['command']}",
      "",
      "Errors are the test error at the epoch of best validation error (validation: the undistorted "
      "training digits), with its 95 % Wilson interval on the test digits, and the best test error over all "
      "epochs (picked on the test digits, so no interval). The paper's nets trained online "
      f"(batch size 1) for up to 800 epochs; ours for the epochs listed: {epochs_note}. Hours: the paper's "
      "training time; ours, the sum of the epochs' times (training and evaluation). Each run's whole wall "
      "time, loading and compiling included, is `run_seconds` in table1.json.",
      "",
      "| run | paper's model | layers | paper: weights | ours: weights | "
      "paper: test error at best validation | "
      "ours: test error at best validation | paper: best test error | ours: best test error | "
      "best validation epoch | misclassified | epochs | batch size | mode | train / test digits | "
      "paper: hours | ours: hours | device | date | figures |",
      "|" + "---|" * 20,
  ]
  for r in record["rows"]:
    members = f"{r['members']} × " if r["members"] > 1 else ""
    device = r["device"] + (f" × {r['device_count']}" if r["device_count"] > 1 else "")
    lines.append(
        f"| {r['run']} | {r['paper']['label']} | {members}{r['architecture']} | "
        f"{_number(r['paper']['weights_m'], ' M')} | "
        f"{members}{r['weights_per_member'] / 1e6:.2f} M | "
        f"{_percent(r['paper']['test_error_at_best_validation'])} | "
        f"{stats.format_error(r['test_error_at_best_validation'], r['test_digits'])} | "
        f"{_percent(r['paper']['best_test_error'])} | {_percent(r['best_test_error'])} | "
        f"{r['best_validation_epoch']} | {r['misclassified_at_best_validation']} | {r['epochs']} | "
        f"{r['batch_size']} | {r['mode']} | {r['train_digits']:,} / {r['test_digits']:,} | "
        f"{_number(r['paper']['hours'])} | {r['train_seconds'] / 3600:.3f} | {device} | {r['date']} | "
        f"[curve]({r['figures']['learning_curve']}), [errors]({r['figures']['misclassified']}) |")
  return "\n".join(lines) + "\n"


def _earlier_record(path: str, command: str):
  """The table1.json of an earlier run of the same command, to resume; None if there is none. Another
  command's is a one-line ValueError: its results are never overwritten."""
  if not os.path.exists(path):
    return None
  with open(path) as f:
    record = json.load(f)
  if record.get("command") != command:
    raise ValueError(f"{path} holds the results of another command ({record.get('command')}); choose another "
                     "--out, or run that command to resume it")
  return record


def reproduce(runs: list, out: str, workdir_root: str, budget_s: float, command: str) -> str:
  """Trains the runs one after the other; rewrites the table after each so finished rows are kept."""
  configs = [(name, configure(name, is_committee), is_committee) for name, is_committee in runs]
  record = _earlier_record(os.path.join(out, "table1.json"), command) or {
      "command": command, "budget_minutes": budget_s / 60, "dates": [], "rows": []}
  os.makedirs(out, exist_ok=True)
  done = {r["run"] for r in record["rows"]}
  text = table(record)
  for name, cfg, is_committee in configs:
    if name in done:  # a study stopped (preempted) after this run resumes after it
      continue
    workdir = os.path.join(workdir_root, name)
    try:
      results, run_seconds = train(name, cfg, workdir, budget_s)
    except (ValueError, FloatingPointError, OSError) as e:
      raise RuntimeError(f"run {name}: {cli.one_line(e)} (finished runs are in {out})") from e
    paper_row = (PAPER_COMMITTEES if is_committee else PAPER)[name]
    record["rows"].append(row(name, paper_row, results, run_seconds, out, workdir))
    record["dates"] = sorted({r["date"] for r in record["rows"]})
    text = table(record)
    cli.write_atomic(os.path.join(out, "table1.json"), cli.to_json(record, indent=1) + "\n")
    cli.write_atomic(os.path.join(out, "table1.md"), text)
  return text


def main(argv):
  cli.study_main(argv, "reproduce", _check_flags,
                 lambda runs, out, root, command: reproduce(runs, out, root, 60 * BUDGET_MINUTES.value, command),
                 OUT, WORKDIR_ROOT)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
