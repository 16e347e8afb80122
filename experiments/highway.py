r"""The optimisation study of Srivastava, Greff & Schmidhuber 2015 ("Training Very Deep Networks", §3.1,
Fig. 1): plain and highway nets of depth 10, 20, 50 and 100, each kind and depth given a random search of
its hyper-parameters, compared on training cross-entropy.

    python -m experiments.highway --out=results/highway/<name> [--depths=10,20,50,100] [--runs=100] \
        [--epochs=400] [--budget_minutes=0] [--train_limit=0] [--eval_limit=0] [--distort]

The paper's size (100 runs per cell, all 60,000 training digits, 400 epochs) is for a GPU; on one CPU core,
about an hour (20 runs per cell, every one at least 20 of its 50 epochs of 5,000 digits, all 10,000 test
digits):

    python -m experiments.highway --runs=20 --epochs=50 --min_epochs=20 --train_limit=5000 \
        --budget_minutes=60 --out=results/highway/cpu

Cells are compared on their best runs and on their spread (the mean of the best --top, the median), so each
run needs comparable effort: --min_epochs gives every run at least that many epochs even past its budget
share.

A net of depth d is a plain input layer, d - 1 plain or highway layers, and a softmax layer; highway layers
have --highway_width units (50), plain ones --plain_width (71): about 5,000 weights per layer either way.
SGD with momentum, the rate decaying exponentially per epoch, cross-entropy, no distortions (the paper's
setting; --distort adds them). Each (kind, depth) cell draws --runs settings of the search space in
experiments/configs/highway.py; its ReLU half and its tanh half each train as one committee run, the members
vmapped side by side with their own rate, decay, momentum and initialisation key (a highway member draws its
gate bias b_T from that key).

Runs go cheapest first. With --budget_minutes, each run gets the study's remaining time in proportion to its
cost (members x weights per net) among the runs left, and trains as many epochs as fit
(experiments/budget.py), at least --min_epochs; 0 trains every epoch. Running the same command again resumes: a
finished run is only read back, a run past its probe resumes to the epochs it planned (bit-identical to an
uninterrupted study with no budget), the others start afresh with the remaining budget.

Writes to --out: study.json (the settings and command), <kind>_<depth>.json per cell (every run's
hyper-parameters and per-epoch curves), table.md, training_loss.png (Fig. 1: best run, mean of the best
--top and median per kind, one panel per depth) and gates.png (the mean transform gate activity per layer of the best
highway net of the greatest depth, the idea of Fig. 2). Checkpoints and metrics stay in --workdir_root.
"""

import dataclasses
import json
import math
import os
import time
import zlib

from absl import app
from absl import flags
import numpy as np

from deep_simple import committee
from deep_simple import config
from deep_simple import hosts
from deep_simple import models
from deep_simple import stats
from deep_simple.models import highway
from experiments import budget
from experiments import cli
from experiments import highway_figures
from experiments import progress
from experiments.configs import highway as highway_configs

KINDS = ("plain", "highway")
ACTIVATIONS = ("relu", "tanh")  # Each cell's runs: the first half ReLU, the rest tanh.

DEPTHS = flags.DEFINE_list("depths", ["10", "20", "50", "100"], "Depths: layers before the softmax.")
RUNS = flags.DEFINE_integer("runs", 100, "Runs (hyper-parameter settings) per kind and depth; ReLU takes the "
                            "first half (the odd one), tanh the rest.")
EPOCHS = flags.DEFINE_integer("epochs", None, "Epochs per run (the study preset's: 400).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", None, "Batch size (the study preset's: 128).")
TRAIN_LIMIT = flags.DEFINE_integer("train_limit", 0, "Train on n digits, a fixed random subset (0: all).")
EVAL_LIMIT = flags.DEFINE_integer("eval_limit", 0, "Validate and test on n digits (0: all).")
DISTORT = flags.DEFINE_bool("distort", False, "Distort the training digits afresh every epoch (the paper did "
                            "not: the study is about optimisation).")
HIGHWAY_WIDTH = flags.DEFINE_integer("highway_width", 50, "Units per highway layer.")
PLAIN_WIDTH = flags.DEFINE_integer("plain_width", 71, "Units per plain layer.")
TOP = flags.DEFINE_integer("top", 5, "The figure's and table's mean of the best n runs per cell.")
MIN_EPOCHS = flags.DEFINE_integer("min_epochs", 0, "With --budget_minutes: every run trains at least this many "
                                  "epochs (at most --epochs), past its share of the budget if need be.")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the search's draws and of every member's keys.")
BUDGET_MINUTES = flags.DEFINE_float("budget_minutes", 0.0, "Wall-clock minutes for the whole study (0: no "
                                    "limit, every run trains --epochs).")
OUT = flags.DEFINE_string("out", None, "Folder of the records, table and figures, e.g. results/highway/cpu.")
WORKDIR_ROOT = flags.DEFINE_string("workdir_root", None, "Folder of the runs' workdirs; default "
                                   "runs/highway/<basename of --out>.")


@dataclasses.dataclass(frozen=True)
class Run:
  """One vmapped run: the members of one (kind, depth, activation), and their drawn settings."""

  kind: str
  depth: int
  activation: str
  cfg: object  # ml_collections.ConfigDict

  @property
  def name(self) -> str:
    return f"{self.kind}{self.depth}_{self.activation}"

  @property
  def cost(self) -> float:
    """Work per epoch, up to a constant: members x weights per net."""
    return self.cfg.committee.size * models.count_params(self.cfg.model, config.input_shape(self.cfg),
                                                          config.num_classes(self.cfg))


def settings() -> dict:
  """What the study is: every flag that changes a result."""
  return {"depths": sorted(int(d) for d in DEPTHS.value), "runs": RUNS.value, "epochs": EPOCHS.value,
          "batch_size": BATCH_SIZE.value, "train_limit": TRAIN_LIMIT.value, "eval_limit": EVAL_LIMIT.value,
          "distort": DISTORT.value, "highway_width": HIGHWAY_WIDTH.value, "plain_width": PLAIN_WIDTH.value,
          "min_epochs": MIN_EPOCHS.value, "seed": SEED.value}


def _log_uniform(rng, bounds, n):
  return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), n))


def run_config(study: dict, kind: str, depth: int, activation: str, members: int):
  """The committee config of one run: the study preset, the net, and `members` drawn settings."""
  cfg = highway_configs.get_config("study")
  cfg.name = f"{kind}{depth}_{activation}"
  for field in ("epochs", "batch_size"):
    if study[field] is not None:
      cfg[field] = study[field]
  cfg.train_limit, cfg.eval_limit, cfg.augment = study["train_limit"], study["eval_limit"], study["distort"]
  cfg.model.depth, cfg.model.activation, cfg.model.gated = depth, activation, kind == "highway"
  cfg.model.width = study["highway_width"] if kind == "highway" else study["plain_width"]
  cfg.model.gate_bias = highway_configs.GATE_BIAS_RANGE
  # Every run its own stream of draws and keys, fixed by the seed: a resumed study draws the same settings.
  cfg.seed = zlib.crc32(f"{study['seed']}/{cfg.name}".encode()) % 2**31
  rng = np.random.default_rng(cfg.seed)
  cfg.committee.size = members
  space = highway_configs  # LR0_RANGE, MOMENTUM_RANGE, FINAL_RATE_RANGE
  cfg.committee.lr0 = tuple(_log_uniform(rng, space.LR0_RANGE, members).tolist())
  carry = (1 - space.MOMENTUM_RANGE[1], 1 - space.MOMENTUM_RANGE[0])
  cfg.committee.momentum = tuple((1 - _log_uniform(rng, carry, members)).tolist())
  final = _log_uniform(rng, space.FINAL_RATE_RANGE, members)
  cfg.committee.lr_decay = tuple((final ** (1 / cfg.epochs)).tolist())
  config.validate(cfg)
  return cfg


def plan(study: dict) -> list:
  """Every run of the study, cheapest first."""
  runs = []
  for depth in study["depths"]:
    for kind in KINDS:
      for a, activation in enumerate(ACTIVATIONS):
        members = (study["runs"] + 1 - a) // 2  # ReLU takes the odd run
        if members:
          runs.append(Run(kind, depth, activation, run_config(study, kind, depth, activation, members)))
  return sorted(runs, key=lambda run: run.cost)


def history(workdir: str) -> list:
  """Every epoch's entry of a finished run (the loop's metrics.jsonl), a diverged member's loss as NaN (null in
  the file)."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    entries = [json.loads(line) for line in f]
  return [{key: [math.nan if v is None else v for v in value] if isinstance(value, list) else value
           for key, value in entry.items()} for entry in entries]


def member_records(run: Run, entries: list) -> list:
  """Each member's settings and curves."""
  cfg, records = run.cfg, []
  for m in range(cfg.committee.size):
    column = lambda key: [e[key][m] for e in entries]
    loss = column("train_loss")
    records.append({
        "run": f"{run.name}/{m}", "activation": run.activation, "member": m,
        "lr0": cfg.committee.lr0[m], "lr_decay": cfg.committee.lr_decay[m], "momentum": cfg.committee.momentum[m],
        "final_train_loss": loss[-1], "diverged": not all(math.isfinite(x) for x in loss),
        "train_loss": loss, "train_error": column("train_error"), "validation_error": column("validation_error"),
        "test_error": column("test_error")})
  return records


def initial_gate_biases(cfg) -> list:
  """The b_T each member drew: read from the members' fresh states (they are drawn from the init keys)."""
  lay = committee.layout(cfg.committee.size)
  fresh = committee.real_members(hosts.to_host(committee.init_members(cfg, lay, 1)), lay)
  return highway.initial_gate_bias(fresh.params).tolist()


def cell_record(kind: str, depth: int, runs: list, trained: dict) -> dict:
  """<kind>_<depth>.json: the cell's runs, ranked by final training loss (diverged runs last)."""
  members, timings, configs = [], {}, {}
  for run in runs:
    results, timing, workdir = trained[run.name]
    records = member_records(run, history(workdir))
    if kind == "highway":
      for record, b in zip(records, initial_gate_biases(run.cfg)):
        record["gate_bias"] = b
    members += records
    timings[run.activation] = {**timing, "architecture": results["architecture"], "epochs": results["epochs"],
                               "train_seconds": results["wall_seconds"], "workdir": os.path.relpath(workdir)}
    configs[run.activation] = json.loads(run.cfg.to_json())
  members.sort(key=rank)
  first = trained[runs[0].name][0]
  return {"kind": kind, "depth": depth, "width": runs[0].cfg.model.width,
          "weights_per_net": first["parameters_per_member"], "train_digits": first["train_digits"],
          "test_digits": first["test_digits"], "device": first["device"], "date": first["date"],
          "runs": members, "timings": timings, "configs": configs}


def rank(member: dict):
  loss = member["final_train_loss"]
  return (member["diverged"], loss if math.isfinite(loss) else math.inf)


def _best(cell: dict) -> float:
  return cell["runs"][0]["final_train_loss"]


def _tops_mean(cell: dict, top: int) -> float:
  return float(np.mean([m["final_train_loss"] for m in highway_figures.best_runs(cell["runs"], top)]))


def _median(cell: dict) -> float:
  return float(np.median([m["final_train_loss"] for m in highway_figures.best_runs(cell["runs"], None)] or [math.nan]))


def table(study: dict, cells: dict, command: str, top: int) -> str:
  """table.md: per kind and depth the best, the best-`top` and the median final training losses, and the best
  run."""
  lines = [
      "# Highway and plain nets: the optimisation study of Srivastava, Greff & Schmidhuber 2015 (§3.1)", "",
      f"Written by `{command}`.", "",
      "Final training loss: the training cross-entropy averaged over the last epoch's mini-batches "
      f"({'distorted' if study['distort'] else 'undistorted'} training digits). Runs per cell: ReLU + tanh. "
      "The best run is the one with the lowest final training loss; its test error is at its last epoch, "
      "with its 95 % Wilson interval on the test digits.", "",
      f"| depth | kind | units per layer | weights per net | runs | diverged | epochs | best final training loss | "
      f"mean of the best {top} (runs) | median of the runs that did not diverge | "
      "best run: activation, rate, momentum, decay, b_T | best run's test error |",
      "|" + "---|" * 12,
  ]
  for (kind, depth), cell in sorted(cells.items(), key=lambda item: (item[0][1], KINDS.index(item[0][0]))):
    runs, best = cell["runs"], cell["runs"][0]
    counts = "+".join(str(sum(m["activation"] == a for m in runs)) for a in ACTIVATIONS)
    epochs = "/".join(str(t["epochs"]) for t in cell["timings"].values())
    gate = f", {best['gate_bias']:.2f}" if "gate_bias" in best else ""
    tops = highway_figures.best_runs(runs, top)
    lines.append(
        f"| {depth} | {kind} | {cell['width']} | {cell['weights_per_net']:,} | {counts} | "
        f"{sum(m['diverged'] for m in runs)} | {epochs} | {best['final_train_loss']:.3g} | "
        f"{_tops_mean(cell, top):.3g} ({len(tops)}) | {_median(cell):.3g} | "
        f"{best['activation']}, {best['lr0']:.3g}, {best['momentum']:.3f}, {best['lr_decay']:.4f}{gate} | "
        f"{stats.format_error(best['test_error'][-1], cell['test_digits'])} |")
  ratios = [(depth, [summary(cells[("plain", depth)]) / summary(cells[("highway", depth)])
                     for summary in (_best, lambda cell: _tops_mean(cell, top), _median)])
            for depth in study["depths"] if ("plain", depth) in cells and ("highway", depth) in cells]
  if ratios:
    lines += ["", f"Plain over highway final training loss, compared three ways (one best run, the best {top}, all "
              "runs), so that one lucky run does not make the difference:", "",
              f"| depth | best / best | mean of the best {top} / mean of the best {top} | median / median |",
              "|---|---|---|---|"]
    lines += [f"| {depth} | " + " | ".join(f"{r:.3g}" for r in ratio) + " |" for depth, ratio in ratios]
  dates = sorted({cell["date"] for cell in cells.values()})
  devices = sorted({cell["device"] for cell in cells.values()})
  lines += ["", f"Trained {', '.join(dates)} on {', '.join(devices)}; per-run settings and curves in "
            "<kind>_<depth>.json."]
  return "\n".join(lines) + "\n"


def _check_flags() -> dict:
  """The study's settings, after every check that needs no training; bad flags end in one line."""
  try:
    depths = [int(d) for d in DEPTHS.value]
  except ValueError:
    depths = []
  if not depths or min(depths) < 1 or len(set(depths)) != len(depths):
    raise ValueError(f"--depths must be distinct positive integers; got {','.join(DEPTHS.value)}")
  for flag in (RUNS, EPOCHS, BATCH_SIZE, HIGHWAY_WIDTH, PLAIN_WIDTH, TOP):
    if flag.value is not None and flag.value < 1:
      raise ValueError(f"--{flag.name} must be at least 1; got {flag.value}")
  if BUDGET_MINUTES.value < 0 or MIN_EPOCHS.value < 0:
    raise ValueError(f"--budget_minutes and --min_epochs must be >= 0; got {BUDGET_MINUTES.value} and "
                     f"{MIN_EPOCHS.value}")
  if not OUT.value:
    raise ValueError("--out is required, e.g. --out=results/highway/cpu")
  study = settings()
  plan(study)  # Every run's config validates (epochs, batch size, limits) before anything is written.
  return study


def study_outputs(study: dict, out: str, cells: dict, trained: dict, command: str) -> str:
  """Writes the table and the figures from the cells finished so far; returns the table."""
  text = table(study, cells, command, TOP.value)
  cli.write_atomic(os.path.join(out, "table.md"), text)
  highway_figures.training_loss(cells, study["depths"], TOP.value, os.path.join(out, "training_loss.png"))
  deepest = [(depth, kind) for kind, depth in cells if kind == "highway"]
  if deepest:
    depth = max(deepest)[0]
    best = cells[("highway", depth)]["runs"][0]
    _, _, workdir = trained[f"highway{depth}_{best['activation']}"]
    highway_figures.gates(workdir, best["member"], os.path.join(out, "gates.png"),
                          title=f"{best['run']}: transform gates on test digits")
  return text


def run_study(study: dict, out: str, workdir_root: str, budget_s: float, command: str) -> str:
  runs = plan(study)
  os.makedirs(out, exist_ok=True)
  path = os.path.join(out, "study.json")
  if os.path.exists(path):
    with open(path) as f:
      saved = json.load(f)["settings"]
    if saved != study:
      changed = sorted(k for k in study if saved.get(k) != study[k])
      raise ValueError(f"{out} holds a study with other settings ({', '.join(changed)}); use another --out")
  cli.write_atomic(path, json.dumps({"settings": study, "command": command}, indent=1) + "\n")
  start = time.monotonic()
  cells, trained = {}, {}
  for i, run in enumerate(runs):
    workdir = os.path.join(workdir_root, run.name)
    left = budget_s - (time.monotonic() - start)
    share = max(left, 0.0) * run.cost / sum(r.cost for r in runs[i:]) if budget_s else 0.0
    print(f"{run.name}: {run.cfg.committee.size} members, {run.cfg.model.depth} layers, "
          f"{'budget %.0f s' % share if budget_s else 'no budget'}, {workdir}", flush=True)
    try:
      # A run out of time still trains its probe: a budget of 0 would mean "no limit".
      results, timing = budget.train_within(run.cfg, workdir, max(share, 1e-3) if budget_s else 0.0,
                                            progress.Progress(run.name), study["min_epochs"])
    except (ValueError, OSError) as e:
      raise RuntimeError(f"run {run.name}: {cli.one_line(e)} (finished cells are in {out})") from e
    trained[run.name] = (results, timing, workdir)
    cell_runs = [r for r in runs if (r.kind, r.depth) == (run.kind, run.depth)]
    if all(r.name in trained for r in cell_runs):
      cell = cell_record(run.kind, run.depth, cell_runs, trained)
      cells[(run.kind, run.depth)] = cell
      cli.write_atomic(os.path.join(out, f"{run.kind}_{run.depth}.json"), cli.to_json(cell, indent=1) + "\n")
      text = study_outputs(study, out, cells, trained, command)
  return text


def main(argv):
  cli.study_main(argv, "highway", _check_flags,
                 lambda study, out, root, command: run_study(study, out, root, 60 * BUDGET_MINUTES.value, command),
                 OUT, WORKDIR_ROOT)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
