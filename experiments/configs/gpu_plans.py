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


# The timing rows that answer the plans' questions, each printed as measured: at most a fifth of the budget.
BENCH = Step("bench", "benchmarks.gpu_bench", ("--size=gpu",), share=0.2, dry_args=("--size=quick",),
             stdout="bench.md")

DEFAULT = "mcdnn35_8min"
PLANS = {
    "mcdnn35_8min": Plan(
        question="How fast do 35 MCDNN columns train side by side on one H100/H200, and what test error does "
        "the 35-column committee (mcdnn35) reach at best validation within the minutes left after the "
        "benchmarks?",
        prediction="Benchmarks (at most a fifth of the budget): a net-4 epoch at B = 32 0.3-0.5 s and online "
        "5-8 s, distortion included; 60,000 digits distorted in < 0.1 s; one column's B = 16 epoch 3-8 s and "
        "35 columns' 8-20 s. mcdnn35 then gets ~75 % of the budget: 13-22 of its 22 epochs, columns "
        "0.45-0.80 %, committee 0.33 % (0.28-0.40 %) test error at best validation; the paper's 0.23 % "
        "(800 epochs per column) is not reached.",
        steps=(
            BENCH,
            _search("mcdnn35", "mcdnn35", share=1.0),
        )),
    "net4_8min": Plan(
        question="Does net 4 reach <= 0.35 % test error at best validation within 8 minutes on one H100/H200, "
        "and what do its epochs cost there?",
        prediction="No. After about 30 s of set-up and at most 1.5 minutes of benchmarks, each search step gets "
        "about 3 minutes: the three decays vmapped (~0.7 s/epoch) train ~200 epochs and lr_sweep (~1 s/epoch) "
        "~150, all before their rates reach the floor, on the bare-script plateau of 0.51-0.57 %. Best "
        "model: the lr_sweep committee at ~0.52 % (0.45-0.60 %); no model at <= 0.35 %.",
        steps=(
            BENCH,
            _search("search_decays", "b32,decay985,decay99", share=0.5),
            _search("search_lr_sweep", "lr_sweep", share=1.0),
        )),
}
