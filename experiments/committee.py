r"""Combines released members into committees and measures them on all their test digits.

    python -m experiments.committee --members='results/mcdnn35-cpu/member*' --out=results/mcdnn35-cpu/committee

--members: a glob or a comma-separated list of run folders (or their model.npz files). Each member is
rebuilt from its released weights and re-evaluated on its validation and test digits; its test error and
misclassified digits are checked, digit for digit, against what its run reported (release.json). Writes to
--out: table.md and table.json (per member; per input width the members' mean +- standard deviation and the
committee of that width's members; the committees of one member per input (the k-th of each); the committee of
all, with its 95 % interval and an exact McNemar test against its best member by validation),
error_vs_members.png (the committee's test error against its number of members, averaged over --orders random
orders of adding them) and misclassified.png (the whole committee's misclassified test images with its two best
guesses). Committees average their members' softmax outputs (the papers' rule).
"""

import glob
import json
import os
import sys

from absl import app
from absl import flags
import matplotlib.ticker
from matplotlib.figure import Figure
import numpy as np

from deep_simple import committee
from deep_simple import files
from deep_simple import plots
from deep_simple import release
from deep_simple import report
from deep_simple import stats
from experiments import cli

MEMBERS = flags.DEFINE_string("members", None, "Glob or comma-separated list of member run folders or model.npz "
                              "files.", required=True)
OUT = flags.DEFINE_string("out", None, "Folder for the tables and figures.", required=True)
ORDERS = flags.DEFINE_integer("orders", 20, "Random orders of adding members averaged in error_vs_members.png.",
                              lower_bound=1)
SEED = flags.DEFINE_integer("seed", 0, "Seed of the random orders.")


def release_paths(spec: str) -> list:
  """model.npz paths named by a glob or a comma-separated list of folders or files."""
  # A glob's matches are the run folders and .npz files it finds (not, e.g., a campaign's lock files).
  found = lambda part: [p for p in glob.glob(part) if os.path.isdir(p) or p.endswith(".npz")] or [part]
  named = sorted(p for part in spec.split(",") for p in found(part))
  paths = [os.path.join(p, release.FILE) if os.path.isdir(p) else p for p in named]
  missing = [p for p in paths if not os.path.isfile(p)]
  if missing:
    raise ValueError(f"--members: no released model {missing[0]}")
  if not paths:
    raise ValueError(f"--members: {spec!r} names no member")
  return paths


def evaluate_member(path: str, splits_cache: dict) -> dict:
  """A member's re-evaluation: its probs on its validation and test digits, and the check against its run."""
  model = release.load(path)
  cfg, meta = model.cfg, model.meta
  key = json.dumps([cfg.dataset, cfg.protocol, cfg.train_limit, cfg.eval_limit, cfg.validation_limit])
  if key not in splits_cache:
    splits_cache[key] = release.splits(model)
  splits = splits_cache[key]
  probs = {name: release.predict(model, splits[name][0]) for name in ("validation", "test")}
  wrong = report.misclassified(probs["test"], splits["test"][1])
  errors = {name: float((probs[name].argmax(-1) != splits[name][1]).mean()) for name in probs}
  reported = {m[0] for m in meta["misclassified"]}
  found = {m[0] for m in wrong}
  return {
      "path": path, "name": os.path.basename(os.path.dirname(os.path.abspath(path))),
      "members": meta["members"], "width": meta["preprocessing"]["width"][0] if model.members == 1 else None,
      "weights": meta["weights"], "epoch": meta["epoch"],
      "validation_error": errors["validation"], "test_error": errors["test"],
      "reported_test_error": meta["test_error"],
      # Digits the re-evaluation gets wrong that its run got right, and the other way round: both empty.
      "check": {"newly_wrong": sorted(found - reported), "newly_right": sorted(reported - found)},
      "probs": probs, "splits_key": key,
  }


def committee_error(probs_MxNxK: np.ndarray, labels_N: np.ndarray) -> float:
  return float((committee.committee_scores(probs_MxNxK).argmax(-1) != labels_N).mean())


def error_vs_members(test_MxNxK: np.ndarray, labels_N: np.ndarray, orders: int, seed: int) -> np.ndarray:
  """errors_RxM: the test error of the committee of the first k members of each of R random orders."""
  rng = np.random.default_rng(seed)
  errors = np.zeros((orders, len(test_MxNxK)))
  for r in range(orders):
    sums_NxK = np.zeros(test_MxNxK.shape[1:])
    for k, m in enumerate(rng.permutation(len(test_MxNxK))):
      sums_NxK += test_MxNxK[m]
      errors[r, k] = float((sums_NxK.argmax(-1) != labels_N).mean())
  return errors


def plot_error_vs_members(errors_RxM: np.ndarray, path: str, title: str) -> None:
  members = np.arange(1, errors_RxM.shape[1] + 1)
  mean, std = 100 * errors_RxM.mean(0), 100 * errors_RxM.std(0)
  fig = Figure(figsize=(7, 4.5))
  ax = fig.subplots()
  ax.fill_between(members, mean - std, mean + std, alpha=0.25, label="± standard deviation over the orders")
  ax.plot(members, mean, marker="o", ms=3, label=f"mean over {errors_RxM.shape[0]} random orders")
  ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
  ax.set_xlabel("members in the committee")
  ax.set_ylabel("test error (%)")
  ax.set_title(title, fontsize=10)
  ax.grid(True, alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def _percent(x: float) -> str:
  return f"{100 * x:.2f} %"


def _width(w) -> str:
  """A member's input: its digit width, the original digits (0), or several (None: a committee's release)."""
  return {0: "original", None: "several"}.get(w, str(w))


def combine(paths: list, out: str, orders: int, seed: int) -> dict:
  """Evaluates the members of `paths`, writes the tables and figures to `out`, returns table.json's dict."""
  cache = {}
  members = [evaluate_member(path, cache) for path in paths]
  if len({m["splits_key"] for m in members}) > 1:
    raise ValueError("--members: the members were measured on different digits (dataset, protocol or limits)")
  splits = cache[members[0]["splits_key"]]
  labels = {name: splits[name][1] for name in ("validation", "test")}
  probs = {name: np.stack([m["probs"][name] for m in members]) for name in labels}

  def committee_row(indices) -> dict:
    return {"members": len(indices), **{f"{name}_error": committee_error(probs[name][indices], labels[name])
                                        for name in labels}}

  by_width = {}
  for i, m in enumerate(members):
    by_width.setdefault(m["width"], []).append(i)
  widths = []
  for w, idx in sorted(by_width.items(), key=lambda kv: str(kv[0])):
    mean, std = stats.mean_std([members[i]["test_error"] for i in idx])
    widths.append({"width": w, "member_test_error_mean": mean, "member_test_error_std": std,
                   "committee": committee_row(idx)})
  per_input = [{**committee_row(idx), "names": [members[i]["name"] for i in idx]}
               for idx in committee.one_per_input(by_width)]
  curve = error_vs_members(probs["test"], labels["test"], orders, seed)
  everyone = committee_row(list(range(len(members))))
  scores_NxK = committee.committee_scores(probs["test"])
  best = min(range(len(members)), key=lambda i: members[i]["validation_error"])
  correct = lambda p: p.argmax(-1) == labels["test"]
  everyone["against_best_member"] = {"name": members[best]["name"], **stats.mcnemar(
      correct(scores_NxK), correct(probs["test"][best]))}
  table = {
      "members": [{k: v for k, v in m.items() if k not in ("probs", "splits_key")} for m in members],
      "widths": widths,
      "one_per_input": per_input,
      "committee": everyone,
      "error_vs_members": {"orders": orders, "seed": seed, "mean": curve.mean(0).tolist(),
                           "std": curve.std(0).tolist()},
      "test_digits": len(labels["test"]), "validation_digits": len(labels["validation"]),
  }
  os.makedirs(out, exist_ok=True)
  files.write_atomic(os.path.join(out, "table.json"), files.to_json(table, indent=2))
  files.write_atomic(os.path.join(out, "table.md"), table_md(table))
  with files.replacing(os.path.join(out, "error_vs_members.png")) as path:
    plot_error_vs_members(curve, path, f"committee test error against its size ({len(labels['test']):,} images)")
  wrong = report.misclassified(scores_NxK, labels["test"])
  with files.replacing(os.path.join(out, "misclassified.png")) as path:
    plots.misclassified(splits["test"][0], wrong, path, f"the committee of {len(members)}: its {len(wrong)} "
                        "misclassified test images (true label, first and second guess)")
  return table


def table_md(table: dict) -> str:
  everyone, n = table["committee"], table["test_digits"]
  versus = everyone["against_best_member"]
  lines = [f"Committee of {everyone['members']}: test error **{stats.format_error(everyone['test_error'], n)}** "
           f"(95 % interval), validation error {_percent(everyone['validation_error'])} ({n:,} test and "
           f"{table['validation_digits']:,} validation images). Against its best member by validation "
           f"({versus['name']}): right where it is wrong on {versus['a_only']} test images, wrong where it is right "
           f"on {versus['b_only']}; exact McNemar p = {versus['p_value']:.2g}.", "",
           "| input width | members | members' test error, mean ± std | their committee: test error |",
           "|---|---|---|---|"]
  for w in table["widths"]:
    lines.append(f"| {_width(w['width'])} | {w['committee']['members']} | {_percent(w['member_test_error_mean'])} ± "
                 f"{_percent(w['member_test_error_std'])} | {stats.format_error(w['committee']['test_error'], n)} |")
  if table["one_per_input"]:
    errors = [c["test_error"] for c in table["one_per_input"]]
    mean, std = stats.mean_std(errors)
    lines += ["", f"Committees of one member per input (the k-th of each), {len(errors)} of them: test error "
              f"{_percent(mean)} ± {_percent(std)}.", "", "| members | test error | validation error |",
              "|---|---|---|"]
    lines += [f"| {', '.join(c['names'])} | {stats.format_error(c['test_error'], n)} | "
              f"{_percent(c['validation_error'])} |" for c in table["one_per_input"]]
  lines += ["", "| member | width | weights, epoch | validation error | test error | its run reported | "
            "same mistakes |", "|---|---|---|---|---|---|---|"]
  for m in table["members"]:
    same = not (m["check"]["newly_wrong"] or m["check"]["newly_right"])
    lines.append(f"| {m['name']} | {_width(m['width'])} | {m['weights']}, {m['epoch']} | "
                 f"{_percent(m['validation_error'])} | {stats.format_error(m['test_error'], n)} | "
                 f"{_percent(m['reported_test_error'])} | {'same' if same else 'DIFFERENT'} |")
  curve = table["error_vs_members"]["mean"]
  lines += ["", f"Committee test error by number of members (mean of {table['error_vs_members']['orders']} random "
            "orders): " + ", ".join(f"{k + 1}: {_percent(e)}" for k, e in enumerate(curve)), ""]
  return "\n".join(lines)


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])}")
  cli.quiet_logging()
  try:
    table = combine(release_paths(MEMBERS.value), OUT.value, ORDERS.value, SEED.value)
  except (ValueError, OSError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  print(table_md(table), end="")
  differing = [m["name"] for m in table["members"] if m["check"]["newly_wrong"] or m["check"]["newly_right"]]
  if differing:
    sys.exit(f"error: re-evaluated, {', '.join(differing)} misclassify other test images than their runs reported "
             f"(see {OUT.value}/table.json)")
  print(f"tables and figures in {OUT.value}")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
