r"""Trains the members of a committee preset that are not finished yet, each as its own member run.

    python -m experiments.campaign --preset=experiments/configs/mcdnn.py:mcdnn35 --out=results/mcdnn35-cpu \
        --budget_minutes=120 --parallel=2 [--members=0-6,12] [--commit]

Member k is `python -m experiments.train --config=<preset> --config.committee.member=k` in its own workdir
(<workdir_root>/memberKK, Orbax checkpoints: not for committing), in a process pinned to its own core (the
campaign's allowed cores, one per process). A finished member's small files are copied to <out>/memberKK/
(model.npz, results.json, metrics.jsonl, config.json, figures, attempts.jsonl: every process that trained
it, with host, core and times); with --commit each is committed to git as it arrives. The same command run
again, later or on another machine, continues: finished members are skipped, an interrupted one resumes
from its last checkpoint. A campaign holds a lock per member (<out>/memberKK.lock, the kernel's flock), so
two campaigns on one folder never train the same member. When the budget runs out, running members are
interrupted (SIGTERM: they save the last epoch they finished and stop) and resume next time.
"""

import ctypes
import datetime
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from absl import app
from absl import flags

from deep_simple import files
from deep_simple import workdir as workdir_lib
from experiments import cli

PRESET = flags.DEFINE_string("preset", None, "Committee preset, file.py:name (a config file of experiments.train).",
                             required=True)
OUT = flags.DEFINE_string("out", None, "Folder of the finished members' small files.", required=True)
BUDGET = flags.DEFINE_float("budget_minutes", 60, "Wall time after which no member starts and running ones are "
                            "interrupted (they resume next time).", lower_bound=0)
PARALLEL = flags.DEFINE_integer("parallel", 1, "Member processes at a time, each on its own core.", lower_bound=1)
MEMBERS = flags.DEFINE_string("members", "", "Members to train, e.g. 0-6,12 (default: all of the preset's).")
WORKDIR_ROOT = flags.DEFINE_string("workdir_root", "", "Folder of the members' workdirs (default: "
                                   "runs/campaign/<the last part of --out>).")
COMMIT = flags.DEFINE_bool("commit", False, "git commit each finished member's folder as it arrives.")

KEPT = ("model.npz", "results.json", "metrics.jsonl", "config.json", "learning_curve.png", "misclassified.png",
        "attempts.jsonl")
_PR_SET_PDEATHSIG = 1


def load_preset(spec: str):
  """The config of `file.py:name`."""
  path, _, name = spec.partition(":")
  if not os.path.isfile(path):
    raise ValueError(f"--preset: no config file {path}")
  module_spec = importlib.util.spec_from_file_location("campaign_preset", path)
  module = importlib.util.module_from_spec(module_spec)
  module_spec.loader.exec_module(module)
  return module.get_config(*([name] if name else []))


def parse_members(text: str, size: int) -> list:
  """'0-6,12' -> [0, ..., 6, 12]; empty: all `size` members."""
  if not text:
    return list(range(size))
  members = []
  for part in text.split(","):
    low, _, high = part.partition("-")
    try:
      members += range(int(low), int(high or low) + 1)
    except ValueError:
      raise ValueError(f"--members: cannot read {part!r} (expected e.g. 0-6,12)") from None
  outside = [m for m in members if not 0 <= m < size]
  if outside:
    raise ValueError(f"--members: {outside[0]} is not a member of the preset's committee of {size}")
  return sorted(set(members))


def member_name(member: int) -> str:
  return f"member{member:02d}"


def now() -> str:
  return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def claim(out: str, member: int):
  """The open, locked lock file of `member`, or None when another campaign holds it."""
  return workdir_lib.claim(os.path.join(out, f"{member_name(member)}.lock"))


def finished(out: str, member: int) -> bool:
  return os.path.exists(os.path.join(out, member_name(member), "model.npz"))


def _pinned_and_tied(core: int):
  """A child's start: on `core` only, and killed with the campaign (a campaign killed by SIGKILL leaves no
  member training without its lock)."""
  def start():
    os.sched_setaffinity(0, {core})
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
  return start


class Member:
  """One member's training process."""

  def __init__(self, member: int, core: int, lock, preset: str, workdir: str):
    self.member, self.core, self.lock, self.workdir = member, core, lock, os.path.abspath(workdir)
    self.interrupted = False
    os.makedirs(self.workdir, exist_ok=True)
    self.attempt = {"host": socket.gethostname(), "core": core, "start": now()}
    self.started = time.monotonic()
    self.command = [sys.executable, "-m", "experiments.train", f"--config={os.path.abspath(preset.split(':')[0])}:"
                    f"{preset.partition(':')[2]}", f"--config.committee.member={member}", f"--workdir={self.workdir}"]
    with open(os.path.join(self.workdir, "train.log"), "a") as log:
      log.write(f"--- {now()} {' '.join(self.command)} (core {core})\n")
      log.flush()
      self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                      cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                      preexec_fn=_pinned_and_tied(core))

  def interrupt(self) -> None:
    """SIGTERM, once: the member saves the last epoch it finished and stops (a preemption, exit status 143).
    Not Ctrl-C: a campaign started in the background (`&`, nohup) hands its members a SIGINT that is ignored."""
    if not self.interrupted:
      self.process.send_signal(signal.SIGTERM)
      self.interrupted = True

  def record_end(self, status: int) -> None:
    attempt = {**self.attempt, "end": now(), "seconds": round(time.monotonic() - self.started, 1), "exit": status}
    with open(os.path.join(self.workdir, "attempts.jsonl"), "a") as f:
      f.write(json.dumps(attempt) + "\n")

  def publish(self, out: str) -> str:
    """Copies the finished member's small files to out/memberKK (whole or not at all); returns that folder."""
    folder = os.path.join(out, member_name(self.member))
    staging = folder + ".tmp"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    for name in KEPT:
      shutil.copyfile(os.path.join(self.workdir, name), os.path.join(staging, name))
    os.replace(staging, folder)
    return folder


def _summary(folder: str) -> str:
  with open(os.path.join(folder, "results.json")) as f:
    released = json.load(f)["released"]
  return (f"test error {100 * released['test_error']:.2f} % at best validation ({released['weights']} weights, "
          f"epoch {released['epoch']})")


def _commit(folders: list, message: str) -> list:
  """Commits `folders` to git; returns those left uncommitted (another git command held the index)."""
  if not folders:
    return []
  paths = [os.path.abspath(f) for f in folders]
  for command in (["git", "add", "--", *paths], ["git", "commit", "-q", "-m", message, "--", *paths]):
    done = subprocess.run(command, cwd=os.path.dirname(paths[0]), capture_output=True, text=True, check=False)
    if done.returncode:
      print(f"warning: {' '.join(command[:2])} failed ({cli.one_line(RuntimeError(done.stderr or done.stdout))}); "
            "retrying with the next member", flush=True)
      return folders
  return []


def run_campaign(preset: str, out: str, budget_s: float, parallel: int, members_text: str, workdir_root: str,
                 commit: bool) -> int:
  """Trains the unfinished members; returns the number of members that failed."""
  cfg = load_preset(preset)
  widths = tuple(cfg.committee.widths)
  members = parse_members(members_text, cfg.committee.size)
  cores = sorted(os.sched_getaffinity(0))
  if parallel > len(cores):
    raise ValueError(f"--parallel={parallel}, but this process may use {len(cores)} core(s) ({cores})")
  os.makedirs(out, exist_ok=True)
  identity = os.path.join(out, "campaign.json")
  if os.path.exists(identity):
    with open(identity) as f:
      earlier = json.load(f)["preset"]
    if os.path.normpath(earlier) != os.path.normpath(preset):
      raise ValueError(f"{out} holds members of preset {earlier}, not {preset}; use another --out")
  else:
    files.write_atomic(identity, json.dumps({"preset": preset, "members": cfg.committee.size}, indent=2))

  deadline = time.monotonic() + budget_s
  todo = [m for m in members if not finished(out, m)]
  print(f"{len(members) - len(todo)} of {len(members)} members finished; {len(todo)} to train, {parallel} at a "
        f"time on cores {cores[:parallel]}", flush=True)
  running, failed, uncommitted = {}, 0, []
  try:
    while todo or running:
      free = [c for c in cores[:parallel] if c not in {r.core for r in running.values()}]
      for member in list(todo):
        if not free or time.monotonic() >= deadline:
          break
        lock = claim(out, member)
        todo.remove(member)
        if lock is None:
          print(f"{member_name(member)}: another campaign trains it", flush=True)
          continue
        if finished(out, member):  # by another campaign since the list was made
          lock.close()
          continue
        workdir = os.path.join(workdir_root, member_name(member))
        running[member] = Member(member, free.pop(0), lock, preset, workdir)
        width = widths[member] if widths else 0
        print(f"{now()} {member_name(member)} (width {width or 'original'}) started on core "
              f"{running[member].core}; log {workdir}/train.log", flush=True)
      if time.monotonic() >= deadline:
        todo = []
        for r in running.values():
          r.interrupt()
      for member, r in list(running.items()):
        status = r.process.poll()
        if status is None:
          continue
        r.record_end(status)
        del running[member]
        if status == 0:
          folder = r.publish(out)
          print(f"{now()} {member_name(member)} finished in {(time.monotonic() - r.started) / 60:.1f} min: "
                f"{_summary(folder)}", flush=True)
          if commit:
            width = widths[member] if widths else 0
            campaign = os.path.basename(os.path.normpath(out))
            message = f"{campaign}: {member_name(member)} (width {width}), {_summary(folder)}"
            uncommitted = _commit(uncommitted + [folder], message)
        elif r.interrupted:
          print(f"{now()} {member_name(member)} interrupted by the budget; the same command resumes it", flush=True)
        else:
          failed += 1
          print(f"{now()} {member_name(member)} failed (exit status {status}); see {r.workdir}/train.log", flush=True)
        r.lock.close()
      time.sleep(0.5)
  finally:
    for r in running.values():  # Ctrl-C or an error here: the members stop too, resumable
      r.interrupt()
      r.process.wait()
      r.record_end(r.process.returncode)
  left = [m for m in members if not finished(out, m)]
  print(f"{len(members) - len(left)} of {len(members)} members finished" +
        (f"; left: {', '.join(map(str, left))}" if left else ""), flush=True)
  return failed


def _interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


def main(argv):
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])}")
  # A preempted campaign (SIGTERM, e.g. SLURM's) stops its members as Ctrl-C does: they resume next time.
  signal.signal(signal.SIGTERM, _interrupt)
  out = OUT.value
  root = WORKDIR_ROOT.value or os.path.join("runs", "campaign", os.path.basename(os.path.normpath(out)))
  try:
    failed = run_campaign(PRESET.value, out, 60 * BUDGET.value, PARALLEL.value, MEMBERS.value, root, COMMIT.value)
  except (ValueError, OSError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  except KeyboardInterrupt:
    sys.exit("interrupted: run the same command to continue")
  sys.exit(1 if failed else 0)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
