"""Plans of the GPU evidence run (`make gpu`): named, ordered commands, each plan with the question it answers
and its prediction, written before any run.

A step is a command line of one of the repository's entry points, run as a process of its own from the
repository root, given a share of the budget left when it starts (the last step: 1.0, all of it). Its
arguments may name
  {out}             the run's output folder, <out>/<date>-<card>;
  {work}            a scratch folder of the step's own on local disk (workdirs, compilation caches), whose
                    small files (records, metrics, figures) are copied to {out}/work/<step>;
  {budget_minutes}  the minutes the command may plan for: its share less `reserve_s`.
`dry_args` give the CPU form (`make gpu-dry`): tiny sizes that test the machinery in seconds; each
replaces the same flag of `args` or is appended.

Adding a plan is adding an entry to PLANS; `make gpu GPU_PLAN=<name>` runs it. Standard library only: the
runner reads this file on the GPU machine before anything is installed.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Step:
  name: str
  module: str  # Run as `python -m <module> <args>`.
  args: tuple
  share: float  # Of the budget left when the step starts.
  dry_args: tuple = ()
  reserve_s: float = 0.0  # What the command spends outside its own --budget_minutes: start-up, loading, writing.
  stdout: str = ""  # A file of {out} that receives the command's standard output (its tables), if any.
  results: tuple = ()  # Files of {out} the command writes whose tables summary.md repeats.

  def arguments(self, dry: bool) -> tuple:
    """args, or in the CPU form args with each of dry_args in place of the same flag or appended."""
    if not dry:
      return self.args
    flag = lambda arg: arg.split("=", 1)[0]
    replaced = {flag(a) for a in self.dry_args}
    return tuple(a for a in self.args if flag(a) not in replaced) + self.dry_args


@dataclasses.dataclass(frozen=True)
class Plan:
  question: str
  prediction: str
  steps: tuple


def _search(name: str, recipes: str, share: float) -> Step:
  """experiments.search on recipes of experiments/configs/search.py; every search of a plan adds to {out}/search."""
  return Step(name, "experiments.search",
              (f"--recipes={recipes}", "--budget_minutes={budget_minutes}", "--out={out}/search",
               "--workdir_root={work}"),
              share, dry_args=("--tiny",),
              reserve_s=30,  # Python and JAX start-up, CUDA initialisation, the records and the summary.
              results=("search/summary.md",))


BENCH = Step("bench", "benchmarks.run_all", ("--size=gpu",), share=0.5, dry_args=("--size=quick",),
             stdout="bench.md")

PLANS = {
    "net4_8min": Plan(
        question="Does net 4 reach <= 0.35 % test error at best validation within 8 minutes on one H100/H200, "
        "and what do its epochs cost there?",
        prediction="No. After about 30 s of set-up and 2.5 minutes of benchmarks, each search step gets about "
        "2.4 minutes: the three decays vmapped (~0.7 s/epoch) train ~150 epochs and lr_sweep (~1 s/epoch) "
        "~110, all before their rates reach the floor, on the bare-script plateau of 0.51-0.57 %. Best "
        "model: the lr_sweep committee at ~0.52 % (0.45-0.60 %); no model at <= 0.35 %. Benchmarks: a "
        "B = 32 net-4 epoch 0.3-0.5 s and an online one 5-8 s, distortion included; 60,000 digits distorted "
        "in < 0.1 s; a committee of 7 costs 3-4 times one member and about half of 7 members in a row.",
        steps=(
            BENCH,
            _search("search_decays", "b32,decay985,decay99", share=0.5),
            _search("search_lr_sweep", "lr_sweep", share=1.0),
        )),
    "mcdnn35_8min": Plan(
        question="How fast do 35 MCDNN columns train side by side on one H100/H200, and how far does mcdnn35 "
        "get in the minutes left after the benchmarks?",
        prediction="Benchmarks (about half the budget): one column's B = 32 epoch under 5 s, 35 columns' B = 16 "
        "epoch 15-40 s. mcdnn35 then trains 5-12 of its 20 epochs before the budget ends (no results.json: "
        "metrics.jsonl holds every finished epoch), its committee near 0.4 % test error by then; the 10-minute "
        "goal for all 20 epochs is missed by a factor of 1.5-3.",
        steps=(
            BENCH,
            Step("mcdnn35", "experiments.train",
                 ("--config=experiments/configs/mcdnn.py:mcdnn35", "--workdir={work}/mcdnn35"), share=1.0,
                 dry_args=("--config.model.maps=(2,4)", "--config.model.hidden=(8,)", "--config.epochs=1",
                           "--config.train_limit=320", "--config.eval_limit=200", "--config.validation_limit=0"),
                 reserve_s=30),
        )),
}
