"""The package lists that prep.py and run.py share: setup.cfg's requirements and what the GPU machine has.

Standard library only: run.py reads these on the GPU machine before anything is installed.
"""

import configparser
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEVICE_PACKAGES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device_packages.txt")


def canonical(name: str) -> str:
  """pip's normalised project name: `ml_collections` and `ML-Collections` are the same package."""
  return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
  return canonical(re.match(r"[A-Za-z0-9._-]+", requirement.strip()).group(0))


def install_requires() -> list:
  """setup.cfg's install_requires, one requirement string each (`matplotlib>=3.8`)."""
  parser = configparser.ConfigParser()
  parser.read(os.path.join(REPO, "setup.cfg"))
  return [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]


def missing_requirements(known: set) -> list:
  """setup.cfg's requirements whose packages are not among `known` (canonical names)."""
  return [r for r in install_requires() if requirement_name(r) not in known]


def read_names(path: str = DEVICE_PACKAGES) -> set:
  """The canonical names of a device_packages.txt: one a line, `#` starts a comment."""
  with open(path) as f:
    return {canonical(name) for name in (line.split("#")[0].strip() for line in f) if name}


def names_file(header: str, freeze_lines) -> str:
  """A device_packages.txt from `pip list --format=freeze` lines: `name  # version`, sorted."""
  pins = sorted((canonical(name), version) for name, _, version in
                (line.strip().partition("==") for line in freeze_lines if "==" in line))
  comment = "".join(f"# {line}\n" for line in header.splitlines())
  return comment + "".join(f"{name}  # {version}\n" for name, version in pins)
