r"""The seed's claim, measured: end-to-end back-propagation against greedy layer-wise training and
unsupervised pre-training, the same net under the same budget, with and without fresh distortions.

    python -m experiments.pretraining --size=cpu --budget_minutes=5.5 --out=results/pretraining/<name>

With --seeds=k every cell trains k times, from config seeds 0 ... k-1 (initialisation, distortions, order),
and the table adds, per method and distortions, the mean ± standard deviation over seeds and, seed by seed,
the exact McNemar test against end-to-end on the same test digits.

Trains every method of experiments/configs/pretraining.py (--methods) with and without distortions
(--distortions): each method x distortions cell gets --budget_minutes of charged time. Its greedy stages (one
per hidden layer) share --pretrain_share of it equally; fine-tuning gets what they left. Every stage trains
2 epochs, then resumes, twice, for as many as its share allows (`budget.staged_fit`). What is charged is the sum
of its epochs' own times, training and evaluation of every member, the first epoch counted at the second's
(deep_simple.pretrain.stages.charged: compilation, a fixed cost per stage, is left out).
--budget_minutes=0 trains every stage for its config's epochs instead.

Writes to --out: table.md and table.json (one row per cell, the published anchors beside them),
validation_vs_time.png (validation error against charged wall time, every cell on one axis), and
features_<method>_<distortions>.png (the first layer's weights when the greedy stages end). Stages run in
workdirs under --workdir_root; the same command run again skips finished cells and resumes the interrupted
one where its last checkpoint left it. The same command started twice, each pinned to a core, trains the cells
two at a time (each process claims a cell before training it; both add their rows to one table):

    for core in 0 1; do taskset -c $core python -m experiments.pretraining --seeds=3 --out=... & done; wait
"""

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import time

from absl import app
from absl import flags
import jax
import numpy as np

from deep_simple import config
from deep_simple import models
from deep_simple import plots
from deep_simple import stats
from deep_simple import workdir
from deep_simple.pretrain import method
from deep_simple.pretrain import stages
from experiments import budget
from experiments import cli
from experiments import progress
from experiments.configs import pretraining as presets

METHODS = flags.DEFINE_list("methods", list(method.METHODS), f"Methods to train: {', '.join(method.METHODS)}.")
DISTORTIONS = flags.DEFINE_list("distortions", ["on", "off"], "Train each method with fresh distortions "
                                "every epoch (on), without (off), or both.")
SIZE = flags.DEFINE_enum("size", "cpu", presets.SIZES, "Net and data size (experiments/configs/pretraining.py).")
BUDGET_MINUTES = flags.DEFINE_float("budget_minutes", 5.5, "Charged minutes per method x distortions cell "
                                    "(0: every stage trains its config's epochs).")
SEEDS = flags.DEFINE_integer("seeds", 1, "Runs per method x distortions cell, from config seeds 0 ... n-1.")
PRETRAIN_SHARE = flags.DEFINE_float("pretrain_share", 0.3, "Share of each cell's budget for its greedy stages.")
TRAIN_LIMIT = flags.DEFINE_integer("train_limit", None, "Train on n digits, a fixed random subset (0: all).")
EVAL_LIMIT = flags.DEFINE_integer("eval_limit", None, "Validate and test on n digits each (0: all).")
OUT = flags.DEFINE_string("out", None, "Folder of the table and figures, e.g. results/pretraining/<name>.")
WORKDIR_ROOT = flags.DEFINE_string("workdir_root", None, "Folder of the stages' workdirs; default "
                                   "runs/pretraining/<basename of --out>.")

PRINT_EVERY = 10  # Epochs between progress lines of a stage.
COLORS = {"end_to_end": "tab:blue", "layerwise_supervised": "tab:green",
          "autoencoder_pretraining": "tab:orange", "rbm_pretraining": "tab:red"}


@dataclasses.dataclass(frozen=True)
class Published:
  """A published result, not ours: permutation-invariant MNIST unless the method distorts."""

  label: str
  distortions: bool
  test_error: float
  source: str


PUBLISHED = (
    Published("DBN 784-500-500-2000", False, 0.0125, "Hinton, Osindero & Teh 2006"),
    Published("DBN 3 x 1000 (Theano tutorial)", False, 0.0134, "deeplearning.net tutorials"),
    Published("SdA 3 x 1000 (Theano tutorial)", False, 0.013, "deeplearning.net tutorials"),
    Published("MLP 2500-2000-1500-1000-500 (net 4)", True, 0.0035, "Ciresan et al. 2010"),
)


def cell_name(name: str, distorted: bool, seed: int = 0) -> str:
  return f"{name}_{'distorted' if distorted else 'plain'}" + (f"_seed{seed}" if seed else "")


def configure(name: str, distorted: bool, seed: int = 0):
  cfg = presets.get_config(name, SIZE.value)
  cfg.name = cell_name(name, distorted, seed)
  cfg.augment = distorted
  cfg.seed = seed
  for field, flag in (("train_limit", TRAIN_LIMIT), ("eval_limit", EVAL_LIMIT)):
    if flag.value is not None:
      cfg[field] = flag.value
  method.validate(cfg)
  return cfg


def _check_flags() -> list:
  """[(method, distorted, seed, config)] to train, after every check that needs no training."""
  unknown = [m for m in METHODS.value if m not in method.METHODS]
  if unknown or not METHODS.value:
    raise ValueError(f"--methods: unknown or no method ({', '.join(map(repr, unknown))}); choose from "
                     f"{', '.join(method.METHODS)}")
  if not DISTORTIONS.value or set(DISTORTIONS.value) - {"on", "off"}:
    raise ValueError(f"--distortions must list on, off or both; got {','.join(DISTORTIONS.value)!r}")
  if SEEDS.value < 1:
    raise ValueError(f"--seeds must be at least 1; got {SEEDS.value}")
  if BUDGET_MINUTES.value < 0 or not 0 <= PRETRAIN_SHARE.value < 1:
    raise ValueError(f"--budget_minutes must be >= 0 and --pretrain_share in [0, 1); got {BUDGET_MINUTES.value} "
                     f"and {PRETRAIN_SHARE.value}")
  if not OUT.value:
    raise ValueError("--out is required, e.g. --out=results/pretraining/cpu")
  cells = [(m, d == "on", seed) for seed in range(SEEDS.value) for m in dict.fromkeys(METHODS.value)
           for d in dict.fromkeys(DISTORTIONS.value)]
  return [(m, distorted, seed, configure(m, distorted, seed)) for m, distorted, seed in cells]


def _progress(cell: str):
  """on_epoch of stages.run: each stage of the cell has its own progress bar."""
  printers = {}

  def on_epoch(stage, entry, cfg):
    if stage.name not in printers:
      printers[stage.name] = progress.Progress(f"{cell} {stage.name}", PRINT_EVERY)
    printers[stage.name](entry, cfg)
  return on_epoch


def _rate(cfg, field: str, per_member: tuple, m: int):
  return float(per_member[m]) if per_member else float(cfg[field])


def row(name: str, distorted: bool, seed: int, cfg, summaries: list, run_seconds: float, out: str) -> dict:
  """table.json's record of one cell: the selected member's errors and test-digit correctness, the budget's
  accounting, the curves (the selected member's per stage; every member's fine-tuning validation and test
  errors, from which the selection can be re-derived)."""
  greedy, finetune = summaries[:-1], summaries[-1]
  selected = stages.select(finetune["history"])
  m = selected["member"]
  pre_s, pre_examples = sum(s["seconds"] for s in greedy), sum(s["examples"] for s in greedy)
  seconds, examples = pre_s + finetune["seconds"], pre_examples + finetune["examples"]
  curves, offset = [], 0.0
  for s in summaries:
    at = (offset + np.cumsum(stages.charged(s["history"]))).tolist()
    error, test = ([[e[f"{split}_error"][m] for e in s["history"]] for split in ("validation", "test")]
                   if s["supervised"] else (None, None))
    curves.append({"stage": s["stage"], "seconds": at, "validation_error": error, "test_error": test})
    offset = at[-1]
  features = None
  if greedy:
    features = f"features_{cell_name(name, distorted, seed)}.png"
    plots.first_layer_features(greedy[-1]["first_layer"][m], os.path.join(out, features),
                               f"{name}, {'distorted' if distorted else 'plain'} digits: the first layer's "
                               f"weights after the greedy stages (member {m}), first 48 units")
  return {
      "method": name, "distortions": distorted, "seed": seed,
      "architecture": models.describe(cfg.model, config.num_classes(cfg)), "members": cfg.committee.size,
      "selected_member": m,
      "greedy_lr0": _rate(cfg.pretrain, "lr0", tuple(cfg.pretrain.member_lr0), m) if greedy else None,
      "finetune_lr0": _rate(cfg, "lr0", tuple(cfg.committee.lr0), m),
      **{k: v for k, v in selected.items() if k != "member"},
      "test_correct": finetune["per_member"][m]["test_correct"],
      "seconds": seconds, "pretrain_seconds": pre_s, "examples": examples, "pretrain_examples": pre_examples,
      "pretrain_time_share": pre_s / seconds, "pretrain_examples_share": pre_examples / examples,
      "stages": [{k: s[k] for k in ("stage", "epochs", "seconds", "epoch_seconds", "examples")} for s in summaries],
      "digits": finetune["digits"], "run_seconds": run_seconds, "features": features, "curves": curves,
      "finetune_members": {split: np.asarray([e[f"{split}_error"] for e in finetune["history"]]).T.tolist()
                           for split in ("validation", "test")},
      "device": jax.devices()[0].device_kind, "date": datetime.date.today().isoformat(),
  }


def figure(record: dict, path: str) -> None:
  curves = []
  for r in record["rows"]:
    final = r["curves"][-1]
    earlier = [(c["seconds"], c["validation_error"]) for c in r["curves"][:-1] if c["validation_error"]]
    seed = f", seed {r['seed']}" if r.get("seed") else ""
    curves.append({"label": f"{r['method']}, {'distorted' if r['distortions'] else 'plain'}{seed}",
                   "color": COLORS[r["method"]], "linestyle": "-" if r["distortions"] else "--",
                   "seconds": final["seconds"], "error": final["validation_error"], "earlier": earlier,
                   "start": r["pretrain_seconds"]})
  plots.error_against_time(curves, path, "The selected member's validation error against charged time\n"
                           "(dots: fine-tuning starts; thin lines: the layer-wise stages' temporary softmax)")


def _percent(value) -> str:
  return "—" if value is None else f"{value:.2%}"


def table(record: dict) -> str:
  budget_note = (f"{record['budget_minutes']:g} minutes of charged time per cell, {record['pretrain_share']:.0%} "
                 "of it for the greedy stages" if record["budget_minutes"] else "every stage's config epochs")
  lines = [
      "# End-to-end back-propagation vs layer-wise training vs unsupervised pre-training",
      "",
      f"Runs of {', '.join(record['dates'])} on {', '.join(record['devices'])}, written by:",
      "",
      f"    {record['command']}",
      "",
      f"Budget: {budget_note}. Time is what the budget charges: the sum of the stages' epoch times (training "
      "and evaluation of every member), each stage's first epoch counted at its second's, i.e. without "
      "compiling; the whole run also loaded, compiled and wrote checkpoints and figures. Examples are the "
      "digits one member trained on, in all stages. The "
      "validation digits (holdout protocol) pick the member, i.e. the rates, and the fine-tuning epoch; the "
      "test error is that epoch's, with its 95 % Wilson interval on the test digits. Published rows are others' "
      "numbers: full-size nets, all 60,000 training digits, no budget.",
      "",
      "| method | distortions | source | test error at best validation | best validation error | "
      "best epoch | rates (greedy / fine-tuning) | time (s) | of it pre-training | examples seen | "
      "of it pre-training | epochs per stage | whole run (s) |",
      "|" + "---|" * 13,
  ]
  for r in record["rows"]:
    greedy_rate = f"{r['greedy_lr0']:g}" if r["greedy_lr0"] is not None else "—"
    epochs = ", ".join(str(s["epochs"]) for s in r["stages"])
    seed = f", seed {r['seed']}" if r.get("seed") else ""
    lines.append(
        f"| {r['method']} ({r['architecture']}{seed}) | {'yes' if r['distortions'] else 'no'} | ours | "
        f"{stats.format_error(r['test_error_at_best_validation'], r['digits']['test'])} | "
        f"{_percent(r['validation_error'])} | "
        f"{r['best_validation_epoch']} | {greedy_rate} / {r['finetune_lr0']:g} | {r['seconds']:.0f} | "
        f"{r['pretrain_time_share']:.0%} | {r['examples']:,} | {r['pretrain_examples_share']:.0%} | {epochs} | "
        f"{r['run_seconds']:.0f} |")
  for p in PUBLISHED:
    lines.append(f"| {p.label} | {'yes' if p.distortions else 'no'} | published: {p.source} | "
                 f"{_percent(p.test_error)} |" + " — |" * 9)
  if any("test_correct" in r for r in record["rows"]):
    lines += _over_seeds(record["rows"])
  return "\n".join(lines) + "\n"


def _over_seeds(rows: list) -> list:
  """Lines of table.md's second table: per method and distortions, the seeds' mean ± standard deviation, its
  difference from end-to-end seed by seed, and the exact McNemar test against end-to-end (the same seed,
  distortions and test digits) per seed and pooled over the seeds."""
  cells = {}
  for r in rows:
    cells.setdefault((r["method"], r["distortions"]), {})[r.get("seed", 0)] = r
  lines = ["", "Over seeds: the test error at best validation as mean ± standard deviation of the seeds' figures, "
           "and its difference from end-to-end's of the same seed (mean ± standard deviation over seeds). Against "
           "end-to-end: the test digits this method alone classified right / end-to-end alone, and the exact "
           "McNemar test's two-sided p-value (a binomial test on those digits), seed by seed and with the seeds' "
           "digits pooled (`stats.mcnemar_pooled`).", "",
           "| method | distortions | test error at best validation over seeds | minus end_to_end's | "
           "against end_to_end, seed by seed | against end_to_end, seeds pooled |",
           "|---|---|---|---|---|---|"]
  for (name, distorted), by_seed in cells.items():
    baseline = cells.get(("end_to_end", distorted), {})
    paired = [(seed, r, baseline[seed]) for seed, r in sorted(by_seed.items())
              if name != "end_to_end" and seed in baseline and "test_correct" in r and "test_correct" in baseline[seed]]
    correct = [[stats.unpack_correct(x["test_correct"], x["digits"]["test"]) for x in (r, other)]
               for _, r, other in paired]
    tests = [f"seed {seed}: {t['a_only']} / {t['b_only']}, p = {t['p_value']:.2g}"
             for (seed, _, _), t in zip(paired, (stats.mcnemar(a, b) for a, b in correct))]
    pooled = stats.mcnemar_pooled(correct) if correct else None
    pooled_text = f"{pooled['a_only']} / {pooled['b_only']}, p = {pooled['p_value']:.2g}" if pooled else "—"
    differences = [r["test_error_at_best_validation"] - other["test_error_at_best_validation"]
                   for _, r, other in paired]
    mean, std = stats.mean_std(differences) if differences else (0.0, 0.0)
    difference_text = f"{100 * mean:+.2f} ± {100 * std:.2f} %" if differences else "—"
    errors = [r["test_error_at_best_validation"] for _, r in sorted(by_seed.items())]
    lines.append(f"| {name} | {'yes' if distorted else 'no'} | {stats.format_mean_std(errors)} | {difference_text} | "
                 f"{'; '.join(tests) or '—'} | {pooled_text} |")
  return lines


def _settings() -> dict:
  """What a table's rows depend on besides the cells' configs (which the stages' workdirs check)."""
  # Seeds only where more than one: a table of one seed per cell is the one earlier code wrote.
  return {"size": SIZE.value, "budget_minutes": BUDGET_MINUTES.value, "pretrain_share": PRETRAIN_SHARE.value,
          "train_limit": TRAIN_LIMIT.value, "eval_limit": EVAL_LIMIT.value,
          **({"seeds": SEEDS.value} if SEEDS.value > 1 else {})}


def _start(out: str, workdir_root: str, command: str) -> dict:
  """The table so far: a new one, or the one an earlier run of the same settings left."""
  path = os.path.join(out, "table.json")
  if not os.path.exists(path):
    return {"command": command, **_settings(), "dates": [], "devices": [], "rows": []}
  with open(path) as f:
    record = json.load(f)
  settings = _settings()
  changed = sorted(k for k in {*settings, "seeds"} if record.get(k) != settings.get(k))
  if changed:
    raise ValueError(f"{path} holds a table of other settings ({', '.join(changed)}); choose another --out")
  if os.path.abspath(record.get("workdir_root", workdir_root)) != os.path.abspath(workdir_root):
    raise ValueError(f"{path} was written from the workdirs in {record['workdir_root']}; pass that --workdir_root")
  return record


@contextlib.contextmanager
def _table_lock(workdir_root: str):
  """Held while a process reads and rewrites the table, which every process of the same command writes."""
  with open(os.path.join(workdir_root, "table.lock"), "a+") as held:
    fcntl.flock(held, fcntl.LOCK_EX)
    yield


def _add_row(out: str, workdir_root: str, command: str, r: dict, order: list) -> None:
  """Adds a finished cell's row to the table on disk, which other processes of the same command also add to,
  and rewrites table.md and the figure."""
  with _table_lock(workdir_root):
    record = _start(out, workdir_root, command)
    record["workdir_root"] = os.path.relpath(workdir_root)  # results are portable: no path of this machine
    rank = {cell: i for i, cell in enumerate(order)}
    record["rows"] = sorted(record["rows"] + [r], key=lambda x: rank.get(_name(x), -1))
    record["dates"] = sorted({x["date"] for x in record["rows"]})
    record["devices"] = sorted({x["device"] for x in record["rows"]})
    figure(record, os.path.join(out, "validation_vs_time.png"))
    cli.write_atomic(os.path.join(out, "table.json"), cli.to_json(record, indent=1) + "\n")
    cli.write_atomic(os.path.join(out, "table.md"), table(record))


def _name(r: dict) -> str:
  return cell_name(r["method"], r["distortions"], r.get("seed", 0))


def train_table(cells: list, out: str, workdir_root: str, command: str) -> str:
  """Trains the cells the table lacks. Processes running the same command share them out: each claims a cell
  (<workdir_root>/<cell>.lock) before it trains it and skips those another process holds."""
  os.makedirs(workdir_root, exist_ok=True)
  os.makedirs(out, exist_ok=True)
  _start(out, workdir_root, command)  # refuses a table of other settings before anything trains
  budget_s = 60 * BUDGET_MINUTES.value
  order = [cell_name(name, distorted, seed) for name, distorted, seed, _ in cells]
  elsewhere = []
  for (name, distorted, seed, cfg), cell in zip(cells, order):
    held = workdir.claim(os.path.join(workdir_root, f"{cell}.lock"))
    if held is None:
      elsewhere.append(cell)
      continue
    with held:
      if cell in {_name(r) for r in _start(out, workdir_root, command)["rows"]}:
        continue  # finished, by this process earlier or by another
      fit = budget.staged_fit(budget_s, PRETRAIN_SHARE.value, method.layers(cfg)) if budget_s else None
      start = time.monotonic()
      try:
        summaries = stages.run(cfg, os.path.join(workdir_root, cell), _progress(cell), fit)
      except (ValueError, FloatingPointError, OSError) as e:
        raise RuntimeError(f"{cell}: {cli.one_line(e)} (finished cells are in {out})") from e
      r = row(name, distorted, seed, cfg, summaries, time.monotonic() - start, out)
      _add_row(out, workdir_root, command, r, order)
    print(f"{cell}: test error at best validation {r['test_error_at_best_validation']:.2%} (member "
          f"{r['selected_member']}, epoch {r['best_validation_epoch']}), {r['seconds']:.0f} s charged "
          f"({r['pretrain_time_share']:.0%} pre-training), {r['run_seconds']:.0f} s in all", flush=True)
  with _table_lock(workdir_root):
    record = _start(out, workdir_root, command)
    text = table(record)
    if record["rows"]:  # as this code writes it, also when every cell was already in the table
      cli.write_atomic(os.path.join(out, "table.md"), text)
  elsewhere = [cell for cell in elsewhere if cell not in {_name(r) for r in record["rows"]}]
  if elsewhere:
    print(f"another process trains {', '.join(elsewhere)}: the table has them when it finishes", flush=True)
  return text


def main(argv):
  cli.study_main(argv, "pretraining", _check_flags, train_table, OUT, WORKDIR_ROOT)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
