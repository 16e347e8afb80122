"""What every absl entry point shares: one-line errors, quiet logging, atomic result files, config paths."""

import os
import re
import sys

from absl import flags
from absl import logging

from deep_simple import files

write_atomic = files.write_atomic  # result files whole or not at all: a crash never leaves half of one


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
