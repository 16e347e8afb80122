"""What every absl entry point shares: one-line errors, quiet logging, atomic result files, config paths, and
the main() of the budgeted studies.

At module level only the standard library, absl, deep_simple.files and deep_simple.preemption (JAX inside the
functions that need it): the GPU runner (experiments/gpu/run.py) imports this module before it has installed what
the GPU machine lacks."""

import os
import re
import shlex
import sys

from absl import flags
from absl import logging

from deep_simple import files
from deep_simple import preemption

write_atomic = files.write_atomic  # result files whole or not at all: a crash never leaves half of one
to_json = files.to_json  # valid JSON only: a diverged run's NaN is written null


def one_line(error: Exception) -> str:
  """The line that says what went wrong: a nested traceback's last line, without its exception class."""
  unknown = re.match(r"""^["'\\]*(\w+)\\?'""", str(error))
  if isinstance(error, (AttributeError, KeyError)) and unknown:
    # ml_collections' way of saying that an override names no config field: "'name'" + a suggestion.
    suggestion = re.search(r'Did you mean "(\w+)"', str(error))
    hint = f" (did you mean {suggestion.group(1)}?)" if suggestion else ""
    return f"unknown config field in the overrides: {unknown.group(1)}{hint}"
  if isinstance(error, OSError) and error.strerror:
    # "path: reason", not "[Errno 28] reason: 'path'".
    return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
  lines = [line.strip() for line in str(error).splitlines() if line.strip()]
  if len(lines) <= 1:
    return lines[0] if lines else type(error).__name__
  return re.sub(r"^\w+(Error|Exception): ", "", lines[-1])


def exit_preempted(e: preemption.Preempted) -> None:
  """Ends a process a SIGTERM stopped at a safe point: its one line, and the status a scheduler requeues on."""
  print(e, file=sys.stderr)
  sys.exit(preemption.EXIT_STATUS)


def parse_flags(argv):
  """absl's parsing (pass as app.run's flags_parser), with a bad flag, preset or override in one line."""
  try:
    return flags.FLAGS(argv)
  except (flags.Error, AttributeError, KeyError) as e:
    sys.exit(f"error: {one_line(e)}")


def quiet_logging() -> None:
  """Warnings and errors only, unless --verbosity asks for more: Orbax logs every save at INFO."""
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def config_path(spec: str) -> str:
  """`file.py:preset` under experiments/configs/, as an absolute path so any working directory works."""
  return os.path.join(os.path.dirname(__file__), "configs", spec)


def _cache_compilations(folder: str) -> None:
  """Resuming a run compiles the same functions again: JAX's persistent cache in `folder` makes that a lookup."""
  import jax  # pylint: disable=import-outside-toplevel  # not at module level: see the module docstring
  jax.config.update("jax_compilation_cache_dir", os.path.join(folder, "jax_cache"))


def study_main(argv, module: str, check_flags, run, out_flag, root_flag, default_root=None) -> None:
  """main() of the study entry points (reproduce, search, pretraining, highway).

  `check_flags()` returns what to run or raises a ValueError; `run(checked, out, workdir_root, command)` runs
  it and returns the table it wrote to --out. The runs' workdirs and JAX's compilation cache live under
  --workdir_root, by default `default_root(out)` or runs/<module>/<the last part of out>. A bad flag or a
  failed run ends the process with one line; otherwise the table is printed.
  """
  if len(argv) > 1:
    sys.exit(f"error: unexpected arguments: {' '.join(argv[1:])}")
  quiet_logging()
  command = shlex.join(["python", "-m", f"experiments.{module}", *sys.argv[1:]])
  try:
    checked = check_flags()
    out = out_flag.value
    root = root_flag.value or (default_root(out) if default_root else
                               os.path.join("runs", module, os.path.basename(os.path.normpath(out))))
    _cache_compilations(root)
    with preemption.sigterm_requests_stop():  # also between runs: the next one stops before it trains
      text = run(checked, out, root, command)
  except (ValueError, RuntimeError, OSError) as e:
    sys.exit(f"error: {one_line(e)}")
  except preemption.Preempted as e:
    exit_preempted(e)
  print(text, end="")
  print(f"records, table and figures in {out}")
