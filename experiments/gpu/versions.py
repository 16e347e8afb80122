"""Prints Python's version, the named packages' versions and the JAX devices: what a GPU run ran on.

    python -m experiments.gpu.versions jax jaxlib flax ...
"""

import importlib.metadata
import os
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
  try:
    devices = jax.devices()
  except Exception as e:  # pylint: disable=broad-except  # JAX_PLATFORMS=cuda without a GPU, a failed plugin
    detail = (str(e).strip().splitlines() or [type(e).__name__])[-1]
    sys.exit(f"error: JAX found no device of platform {os.environ.get('JAX_PLATFORMS', 'any')}: {detail}")
  print("devices:", ", ".join(f"{d.device_kind} ({d.platform})" for d in devices))


if __name__ == "__main__":
  main(sys.argv[1:])
