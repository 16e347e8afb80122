r"""Searches recipes for a fast net 4 under one wall-clock budget and ranks them on validation error.

    python -m experiments.search --recipes=b32,decay985,decay99,lr_sweep --budget_minutes=8 \
        --out=results/search/2026-11-26 [--tiny]

Recipes are the presets of experiments/configs/search.py. Single-net recipes whose configs differ only in
lr0 / lr_decay train side by side as one committee run (vmapped, they cost little more than one net at
small batch sizes); every other recipe is a run of its own. The runs share the budget equally. A run
first trains budget.PROBE_EPOCHS epochs, then resumes its workdir for as many epochs as its steady epoch time
leaves room for, up to the recipe's epoch cap.

Writes <out>/<recipe>.json per recipe (config, device, date, epochs, times, Table 1's columns for every
member, committee and EMA model, and the run's history) and <out>/summary.md, a table of every recipe in
<out> sorted by validation error. Test errors are reported, never used to select or rank.
"""

import dataclasses
import glob
import json
import os

from absl import app
from absl import flags
import ml_collections

from deep_simple import committee
from deep_simple import stats
from experiments import budget
from experiments import cli
from experiments import progress
from experiments.configs import search as recipes

RECIPES = flags.DEFINE_list("recipes", None, f"Comma-separated recipes: {', '.join(recipes.RECIPES)}.")
BUDGET_MINUTES = flags.DEFINE_float("budget_minutes", 8.0, "Wall-clock minutes for all runs together.")
OUT = flags.DEFINE_string("out", None, "Folder of the recipe results and summary.md, "
                          "e.g. results/search/<date>.")
TINY = flags.DEFINE_bool("tiny", False, "Each recipe's CPU form: a small net on a slice of MNIST, 3 epochs.")
WORKDIR_ROOT = flags.DEFINE_string("workdir_root", None, "Folder of the runs' workdirs (checkpoints, "
                                   "metrics.jsonl); default <out>/runs.")

PRINT_EVERY = 50  # Epochs between progress lines.


@dataclasses.dataclass(frozen=True)
class Run:
  name: str  # The recipes' names joined by "+"; also the workdir's name.
  cfg: ml_collections.ConfigDict
  members: dict  # recipe name -> the run's member indices that belong to it


def plan(names, tiny: bool) -> list[Run]:
  """Recipes -> runs: single nets whose configs differ only in lr0 / lr_decay share one committee run."""
  groups = {}  # shared fields (or the recipe's own name) -> [(name, cfg)], in the order first named
  for name in names:
    cfg = recipes.get_config(name, tiny)
    groups.setdefault(_shared_fields(cfg) if cfg.committee.size == 1 else name, []).append((name, cfg))
  return [_merge(group) for group in groups.values()]


def _shared_fields(cfg) -> str:
  fields = cfg.to_dict()
  for varying in ("name", "lr0", "lr_decay"):
    del fields[varying]
  return json.dumps(fields, sort_keys=True)


def _merge(group) -> Run:
  if len(group) == 1:
    name, cfg = group[0]
    return Run(name, cfg, {name: tuple(range(cfg.committee.size))})
  cfg = group[0][1].copy_and_resolve_references()
  cfg.name = "+".join(name for name, _ in group)
  cfg.committee.size = len(group)
  cfg.committee.lr0 = tuple(c.lr0 for _, c in group)
  cfg.committee.lr_decay = tuple(c.lr_decay for _, c in group)
  return Run(cfg.name, cfg, {name: (m,) for m, (name, _) in enumerate(group)})


def train(run: Run, workdir: str, budget_s: float):
  """Trains `run` within `budget_s` seconds; returns the loop's results, the history and the timings."""
  history = []
  printer = progress.Progress(run.name, PRINT_EVERY)

  def on_epoch(entry, cfg):
    history.append(entry)
    printer(entry, cfg)

  results, timing = budget.train_within(run.cfg, workdir, budget_s, on_epoch)
  return results, history, timing


def recipe_record(name: str, run: Run, results: dict, history: list, timing: dict, workdir: str,
                  tiny: bool) -> dict:
  """<recipe>.json: the recipe's models with Table 1's columns, and what produced them."""
  recipe, members, cfg = recipes.RECIPES[name], run.members[name], run.cfg
  # What sets the members apart: their rates, decays and (in width committees) digit widths.
  size = cfg.committee.size
  varying = {"lr0": committee.member_values(cfg, "lr0", cfg.lr0, size),
             "lr_decay": committee.member_values(cfg, "lr_decay", cfg.lr_decay, size)}
  if cfg.committee.widths:
    varying["width"] = committee.member_values(cfg, "widths", None, size)
  setting = lambda m: {key: values[m] for key, values in varying.items()}
  models = []
  if len(members) == size > 1:  # The committee is this recipe's own only if the run is.
    models.append({"model": "committee", **results["selected"]})
  for k, m in enumerate(members):
    models.append({"model": f"member {k}", "run_member": m, **setting(m), **results["per_member"][m]})
  for other in ("ema", "params"):  # the weights evaluated beside the reported ones (config.reported_weights)
    for k, m in enumerate(members):
      if f"{other}_per_member" in results:
        models.append({"model": f"{other} member {k}", "run_member": m, **setting(m),
                       **results[f"{other}_per_member"][m]})
  return {
      "recipe": name, "hypothesis": recipe.hypothesis, "prediction": recipe.prediction,
      "predicted": recipe.predicted, "tiny": tiny,
      "run": run.name, "run_recipes": list(run.members), "run_members": list(members),
      "device": results["device"], "device_count": results["device_count"], "date": results["date"],
      "epochs": results["epochs"], "test_digits": results["test_digits"], "train_seconds": results["wall_seconds"],
      **timing,
      "selected": models[0], "models": models,
      "config": json.loads(budget.with_epochs(cfg, results["epochs"]).to_json()),
      "workdir": os.path.relpath(workdir), "history": history,
  }


def summary_table(records: list) -> str:
  """summary.md: one row per model of every recipe, best validation error first."""
  rows = [(r, m) for r in records for m in r["models"]]
  rows.sort(key=lambda rm: rm[1]["validation_error"])
  devices = sorted({r["device"] for r in records})
  dates = sorted({r["date"] for r in records})
  lines = [
      f"# Recipe search: {', '.join(dates)} on {', '.join(devices)}",
      "",
      "Sorted by the validation error at each model's best validation epoch; the test errors are reported, "
      "never used to select or rank (at best validation: with its 95 % Wilson interval on the test digits). "
      "Predictions were written before any run, for 8-minute runs of the "
      "full-size recipes.",
      "",
      "| recipe | model | validation error | test error at best validation | best test error | "
      "best validation epoch | epochs | wall s | predicted |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  for r, m in rows:
    predicted = r["predicted"].get(m["model"])
    lines.append(
        f"| {r['recipe']}{' (tiny)' if r['tiny'] else ''} | {m['model']}{_setting(m)} | "
        f"{m['validation_error']:.3%} | {stats.format_error(m['test_error_at_best_validation'], r['test_digits'])} | "
        f"{m['best_test_error']:.2%} | "
        f"{m['best_validation_epoch']} | {r['epochs']} | {r['wall_seconds']:.0f} | "
        f"{'-' if predicted is None or r['tiny'] else f'{predicted:.2%}'} |")
  return "\n".join(lines) + "\n"


def _setting(model: dict) -> str:
  if "lr0" not in model:
    return ""
  width = f", width {model['width']}" if "width" in model else ""
  return f" (lr0 {model['lr0']:g}, decay {model['lr_decay']:g}{width})"


def _write_summary(out: str) -> str:
  records = []
  for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    with open(path) as f:
      records.append(json.load(f))
  table = summary_table(records)
  cli.write_atomic(os.path.join(out, "summary.md"), table)
  return table


def _check_flags() -> list:
  """The recipe names, after every check that needs no training; bad flags end in one line."""
  names = RECIPES.value or []
  unknown = [n for n in names if n not in recipes.RECIPES]
  if not names or unknown:
    what = f"unknown recipe {', '.join(map(repr, unknown))}" if unknown else "no recipe given"
    raise ValueError(f"--recipes: {what}; choose from {', '.join(recipes.RECIPES)}")
  if len(set(names)) != len(names):
    raise ValueError(f"--recipes names a recipe twice: {','.join(names)}")
  if not BUDGET_MINUTES.value > 0:
    raise ValueError(f"--budget_minutes must be positive; got {BUDGET_MINUTES.value}")
  if not OUT.value:
    raise ValueError("--out is required, e.g. --out=results/search/<date>")
  return names


def _recorded(out: str, run: Run) -> bool:
  """Whether `out` holds the records of `run` already; records of another config are a one-line ValueError:
  they are never overwritten."""
  paths = [os.path.join(out, f"{name}.json") for name in run.members]
  planned = {**json.loads(run.cfg.to_json()), "epochs": None}  # the budget decides the epochs
  for path in filter(os.path.exists, paths):
    with open(path) as f:
      if {**json.load(f)["config"], "epochs": None} != planned:
        raise ValueError(f"{path} already holds a result of another config; choose another --out")
  return all(map(os.path.exists, paths))


def search(names, tiny: bool, out: str, workdir_root: str, budget_s: float) -> str:
  """Trains the recipes' runs one after the other; writes each recipe's record and the summary as it goes."""
  runs = plan(names, tiny)
  finished = {run.name for run in runs if _recorded(out, run)}
  os.makedirs(out, exist_ok=True)
  table = _write_summary(out)
  for run in runs:
    if run.name in finished:  # a search stopped (preempted) after this run resumes after it
      continue
    workdir = os.path.join(workdir_root, run.name)
    print(f"{run.name}: {run.cfg.committee.size} member(s), {budget_s / len(runs):.0f} s, {workdir}", flush=True)
    try:
      results, history, timing = train(run, workdir, budget_s / len(runs))
    except (ValueError, FloatingPointError, OSError) as e:
      raise RuntimeError(f"run {run.name}: {cli.one_line(e)} (finished runs are in {out})") from e
    for name in run.members:
      record = recipe_record(name, run, results, history, timing, workdir, tiny)
      cli.write_atomic(os.path.join(out, f"{name}.json"), cli.to_json(record, indent=1) + "\n")
    table = _write_summary(out)
  return table


def main(argv):
  # The command is in every recipe record's config already.
  cli.study_main(argv, "search", _check_flags,
                 lambda names, out, root, command: search(names, TINY.value, out, root, 60 * BUDGET_MINUTES.value),
                 OUT, WORKDIR_ROOT, default_root=lambda out: os.path.join(out, "runs"))


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
