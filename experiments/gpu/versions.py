"""Prints Python's version, the named packages' versions and the JAX devices: what a GPU run ran on.

    python -m experiments.gpu.versions jax jaxlib flax ...
"""

import importlib.metadata
import platform
import sys

import jax


def main(names) -> None:
  print("python", platform.python_version())
  for name in names:
    try:
      print(name, importlib.metadata.version(name))
    except importlib.metadata.PackageNotFoundError:
      print(name, "not installed")
  print("devices:", ", ".join(f"{d.device_kind} ({d.platform})" for d in jax.devices()))


if __name__ == "__main__":
  main(sys.argv[1:])
