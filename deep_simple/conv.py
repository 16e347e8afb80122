"""2-D convolution and max pooling for CNN columns: one parameter layout, two implementations and their mix.

    y_BxHxWxF = conv2d(x_BxHxWxC, kernel_KxKxCxF, impl="im2col")   # or "xla", "split", "auto"
    y = Conv(features=20, kernel_size=4)(x_BxHxWxC)               # Flax module, impl="auto"

All of them compute the same "valid" (unpadded), stride-1 cross-correlation in NHWC layout with an
HWIO kernel, as `flax.linen.Conv(padding="VALID")` does (same parameter names and shapes, so parameters move
freely between the two and flax's own module):
- "im2col": the kernel's K*K shifted views of the input are concatenated along the channels and multiplied by
  the reshaped kernel in one matmul. On CPU it trains the MCDNN column 9-23x faster than "xla", whose backward
  pass of a convolution is slow there (benchmarks/cnn_bench.py).
- "xla": `jax.lax.conv_general_dilated`, the accelerators' library convolution (cuDNN on GPU). On CPU its
  forward pass is the fast one (~4x im2col's when evaluating the MCDNN column).
- "split": the backward pass of "im2col" (a custom VJP); the forward pass of "im2col" for batches of up to
  SPLIT_BATCH digits (training steps, also vmapped over committee members, where XLA's convolution becomes a
  slow grouped one) and of "xla" for larger ones (evaluation, ~4x faster than im2col's there).
"auto" picks "split" on the CPU backend and "xla" elsewhere.
Forward-mode differentiation (`jax.jvp`, `jax.jacfwd`, `jax.hessian`) cannot pass a custom VJP: through "split"
(so "auto" on CPU) it raises JAX's TypeError; use impl "im2col" or "xla" (model.conv_impl) for it.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

IMPLS = ("auto", "im2col", "xla", "split")
SPLIT_BATCH = 256


def resolve_impl(impl: str) -> str:
  """Maps "auto" to "split" on the CPU backend and to "xla" elsewhere; the other names pass through."""
  if impl not in IMPLS:
    raise ValueError(f"conv: impl must be one of {IMPLS}, got {impl!r}")
  if impl == "auto":
    return "split" if jax.default_backend() == "cpu" else "xla"
  return impl


def conv2d(x_BxHxWxC, kernel_KhxKwxCxF, impl: str = "auto"):
  """Valid, stride-1 convolution: B x H x W x C -> B x (H-Kh+1) x (W-Kw+1) x F."""
  kh, kw, c, f = kernel_KhxKwxCxF.shape
  _, h, w, c_in = x_BxHxWxC.shape
  if c_in != c or kh > h or kw > w:
    raise ValueError(f"conv2d: input {x_BxHxWxC.shape} does not fit kernel {kernel_KhxKwxCxF.shape}")
  return {"xla": _xla, "im2col": _im2col, "split": _split}[resolve_impl(impl)](x_BxHxWxC, kernel_KhxKwxCxF)


def _xla(x_BxHxWxC, kernel_KhxKwxCxF):
  return jax.lax.conv_general_dilated(x_BxHxWxC, kernel_KhxKwxCxF, window_strides=(1, 1), padding="VALID",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _im2col(x_BxHxWxC, kernel_KhxKwxCxF):
  kh, kw, c, f = kernel_KhxKwxCxF.shape
  oh, ow = x_BxHxWxC.shape[1] - kh + 1, x_BxHxWxC.shape[2] - kw + 1
  # Channel index (i * Kw + j) * C + c matches the row-major flattening of the HWIO kernel.
  patches_BxOHxOWxKKC = jnp.concatenate(
      [x_BxHxWxC[:, i:i + oh, j:j + ow, :] for i in range(kh) for j in range(kw)], axis=-1)
  return patches_BxOHxOWxKKC @ kernel_KhxKwxCxF.reshape(kh * kw * c, f)


def _split_output(x_BxHxWxC, kernel_KhxKwxCxF):
  forward = _im2col if x_BxHxWxC.shape[0] <= SPLIT_BATCH else _xla
  return forward(x_BxHxWxC, kernel_KhxKwxCxF)


@jax.custom_vjp
def _split(x_BxHxWxC, kernel_KhxKwxCxF):
  return _split_output(x_BxHxWxC, kernel_KhxKwxCxF)


def _split_forward(x_BxHxWxC, kernel_KhxKwxCxF):
  return _split_output(x_BxHxWxC, kernel_KhxKwxCxF), (x_BxHxWxC, kernel_KhxKwxCxF)


def _split_backward(inputs, cotangent_BxOHxOWxF):
  # im2col's own forward product goes unused here, and XLA drops it.
  return jax.vjp(_im2col, *inputs)[1](cotangent_BxOHxOWxF)


_split.defvjp(_split_forward, _split_backward)


def max_pool(x_BxHxWxC, window: int):
  """Non-overlapping `window` x `window` max pooling; trailing rows/columns that fill no window are dropped.

  A reshape and a max: on CPU its backward pass is faster than `lax.reduce_window`'s select-and-scatter.
  Where a window holds several equal maxima, the gradient is shared equally among them.
  """
  b, h, w, c = x_BxHxWxC.shape
  oh, ow = h // window, w // window
  if oh == 0 or ow == 0:
    raise ValueError(f"max_pool: window {window} larger than the {h} x {w} input")
  x = x_BxHxWxC[:, :oh * window, :ow * window, :].reshape(b, oh, window, ow, window, c)
  return x.max(axis=(2, 4))


class Conv(nn.Module):
  """Valid, stride-1 2-D convolution with bias; parameters "kernel" (Kh x Kw x C x F) and "bias" (F)."""

  features: int
  kernel_size: int | Sequence[int]
  impl: str = "auto"
  kernel_init: Callable = nn.initializers.lecun_normal()
  bias_init: Callable = nn.initializers.zeros_init()

  @nn.compact
  def __call__(self, x_BxHxWxC):
    size = (self.kernel_size,) * 2 if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
    kernel = self.param("kernel", self.kernel_init, (*size, x_BxHxWxC.shape[-1], self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    return conv2d(x_BxHxWxC, kernel, self.impl) + bias
