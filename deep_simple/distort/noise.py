"""jax.random.uniform for the per-pixel noise fields, computed with an unrolled Threefry hash.

On CPU, jax.random lowers its Threefry-2x32 hash as a rolled loop that XLA cannot fuse; for the ~1,700
noise values of every digit that took most of the distortion's time. The same hash written out round by
round fuses into one loop: the values are bit for bit those of jax.random.uniform (under JAX's default
jax_threefry_partitionable), about ten times faster on CPU and the same on accelerators.
"""

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))  # Threefry-2x32, 20 rounds (Salmon et al. 2011).
_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32(key_2, x0, x1):
  """The Threefry-2x32 hash of counter pairs (x0, x1) under a two-word key, all uint32."""
  ks = (key_2[0], key_2[1], key_2[0] ^ key_2[1] ^ _PARITY)
  x0, x1 = x0 + ks[0], x1 + ks[1]
  for i in range(5):
    for r in _ROTATIONS[i % 2]:
      x0 = x0 + x1
      x1 = ((x1 << np.uint32(r)) | (x1 >> np.uint32(32 - r))) ^ x0
    x0, x1 = x0 + ks[(i + 1) % 3], x1 + ks[(i + 2) % 3] + np.uint32(i + 1)
  return x0, x1


def uniform(key, shape, minval, maxval):
  """float32 values of jax.random.uniform(key, shape, jnp.float32, minval, maxval) for a threefry key."""
  key_data = jax.random.key_data(key)
  if key_data.shape[-1:] != (2,):
    raise ValueError(f"distort: needs a threefry2x32 key (jax.random.key's default), "
                     f"got {jax.random.key_impl(key)}")
  # jax.random hashes the 64-bit index of each value, (high word, low word), and keeps x0 ^ x1.
  index = jnp.arange(int(np.prod(shape)), dtype=jnp.uint32).reshape(shape)
  x0, x1 = threefry2x32(key_data, jnp.zeros_like(index), index)
  # 23 random mantissa bits under exponent 0 give [1, 2); shift to [0, 1).
  mantissa = ((x0 ^ x1) >> np.uint32(9)) | np.uint32(0x3F800000)
  floats = jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0
  return jnp.maximum(minval, floats * (maxval - minval) + minval)
