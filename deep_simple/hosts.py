"""Arrays and decisions across the processes of a run: host numpy in, global arrays out, and back.

The ground floor of the library (it imports only JAX and numpy): what persists a run (checkpoint.py, workdir.py) and
what trains it (committee.py, loop.py) can share it. With one process every function is the plain local case.
"""

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding


def place(tree, sharding: NamedSharding):
  """Host numpy arrays (identical on every process) -> global arrays with `sharding`."""
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda index: np.asarray(x)[index]),
      tree)


def to_host(tree):
  """Global arrays -> numpy on every process."""
  if jax.process_count() == 1:
    return jax.tree.map(np.asarray, tree)
  return multihost_utils.process_allgather(tree, tiled=True)


def from_process0(flag: bool) -> bool:
  """Process 0's `flag` on every process: decisions all processes must take alike (e.g. to stop)."""
  if jax.process_count() == 1:
    return flag
  return bool(multihost_utils.broadcast_one_to_all(np.asarray(flag)))
