"""The two convolutions agree on real digits, forward and backward, vmapped too; max pooling matches a loop."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from deep_simple import conv
from deep_simple import data

# Accelerators may multiply float32 in reduced precision by default; the comparisons want full precision.
pytestmark = pytest.mark.usefixtures("highest_precision")


@pytest.fixture
def highest_precision():
  with jax.default_matmul_precision("highest"):
    yield


@pytest.fixture(scope="module")
def digits_Nx29x29():
  """Real test digits in the nets' input range [-1, 1]."""
  images, _ = data.load("mnist", "test")
  return data.to_signed(data.to_unit(data.pad_to_29(images[:256])))


def digit_channels(digits_Nx29x29, b, c):
  """B x 29 x 29 x C inputs whose channels are distinct real digits."""
  return jnp.asarray(digits_Nx29x29[:b * c].reshape(b, c, 29, 29).transpose(0, 2, 3, 1))


def kernel(key, kh, kw, c, f):
  return jax.random.uniform(key, (kh, kw, c, f), minval=-1, maxval=1) / np.sqrt(kh * kw * c)


def assert_close(actual, expected):
  scale = float(jnp.max(jnp.abs(expected)))
  np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


# (kernel height, kernel width, input channels, output maps): the MCDNN column's two layers and others.
SHAPES = [(4, 4, 1, 20), (5, 5, 20, 40), (3, 3, 7, 5), (2, 4, 3, 1), (1, 1, 6, 8), (9, 9, 1, 4)]


@pytest.mark.parametrize("kh,kw,c,f", SHAPES)
def test_im2col_and_xla_agree_forward_and_backward(digits_Nx29x29, kh, kw, c, f):
  x = digit_channels(digits_Nx29x29, 4, c)
  k = kernel(jax.random.key(kh * 100 + c), kh, kw, c, f)
  outputs, grads = {}, {}
  for impl in ("im2col", "xla", "split"):
    y, vjp = jax.vjp(jax.jit(functools.partial(conv.conv2d, impl=impl)), x, k)
    outputs[impl] = y
    cotangent = jnp.tanh(y)  # any fixed, non-constant cotangent exercises every input and weight
    grads[impl] = vjp(cotangent)
  assert outputs["im2col"].shape == (4, 29 - kh + 1, 29 - kw + 1, f)
  assert float(jnp.std(outputs["xla"])) > 0.1
  for impl in ("im2col", "split"):
    assert_close(outputs[impl], outputs["xla"])
    for got, want in zip(grads[impl], grads["xla"]):
      assert float(jnp.max(jnp.abs(want))) > 0
      assert_close(got, want)


def test_agree_under_vmap_over_members(digits_Nx29x29):
  """Committees vmap the whole step over members: each member has its own kernel and digits."""
  m, b, c, f = 3, 2, 20, 40
  x_MxBxHxWxC = digit_channels(digits_Nx29x29, m * b, c).reshape(m, b, 29, 29, c)
  k_Mx5x5xCxF = jax.vmap(lambda key: kernel(key, 5, 5, c, f))(jax.random.split(jax.random.key(1), m))

  def loss(x, k, impl):
    return jnp.sum(jnp.tanh(conv.conv2d(x, k, impl)) ** 2)

  results = {impl: jax.jit(jax.vmap(jax.value_and_grad(functools.partial(loss, impl=impl), argnums=(0, 1))))(
      x_MxBxHxWxC, k_Mx5x5xCxF) for impl in ("im2col", "xla", "split")}
  loss_xla, grads_xla = results["xla"]
  for impl in ("im2col", "split"):
    assert_close(results[impl][0], loss_xla)
    for got, want in zip(results[impl][1], grads_xla):
      assert_close(got, want)
  grads_im2col = results["im2col"][1]
  # Member 1 of the vmapped result is member 1 computed alone.
  alone = jax.grad(functools.partial(loss, impl="im2col"), argnums=1)(x_MxBxHxWxC[1], k_Mx5x5xCxF[1])
  assert_close(grads_im2col[1][1], alone)


def test_conv_module_params_interchange_with_each_other_and_flax(digits_Nx29x29):
  x = digit_channels(digits_Nx29x29, 8, 3)
  params = conv.Conv(6, (3, 4), impl="im2col").init(jax.random.key(0), x)["params"]
  assert params["kernel"].shape == (3, 4, 3, 6) and params["bias"].shape == (6,)
  params = dict(params, bias=jnp.arange(6.0))  # a non-zero bias, so its placement is checked too
  flax_out = nn.Conv(6, (3, 4), padding="VALID").apply({"params": params}, x)
  for impl in conv.IMPLS:
    assert_close(conv.Conv(6, (3, 4), impl=impl).apply({"params": params}, x), flax_out)


def test_auto_trains_by_im2col_on_cpu_and_by_the_library_convolution_elsewhere(digits_Nx29x29):
  """On CPU: no XLA convolution in a training step, XLA's forward pass for an evaluation-sized batch."""
  k = kernel(jax.random.key(0), 4, 4, 1, 20)
  on_cpu = jax.default_backend() == "cpu"
  for batch, forward_convs in ((16, 0), (conv.SPLIT_BATCH + 1, 1)):
    x = jnp.tile(digit_channels(digits_Nx29x29, 1, 1), (batch, 1, 1, 1))
    forward = str(jax.make_jaxpr(functools.partial(conv.conv2d, impl="auto"))(x, k))
    backward = str(jax.make_jaxpr(jax.grad(lambda k, x=x: jnp.sum(conv.conv2d(x, k, "auto") ** 2)))(k))
    assert forward.count("conv_general_dilated") == (forward_convs if on_cpu else 1)
    assert backward.count("conv_general_dilated") == (forward_convs if on_cpu else 2)  # + XLA's transpose


def test_mcdnn_column_sizes(digits_Nx29x29):
  """1x29x29-20C4-MP2-40C5-MP3: 29 -> 26 -> 13 -> 9 -> 3."""
  x = digit_channels(digits_Nx29x29, 2, 1)
  h = conv.max_pool(conv.conv2d(x, kernel(jax.random.key(0), 4, 4, 1, 20)), 2)
  assert h.shape == (2, 13, 13, 20)
  h = conv.max_pool(conv.conv2d(h, kernel(jax.random.key(1), 5, 5, 20, 40)), 3)
  assert h.shape == (2, 3, 3, 40)


def reference_max_pool(x_BxHxWxC, window, cotangent_BxOHxOWxC):
  """Loops over windows: the maximum, and its cotangent shared equally by the window's maxima."""
  x = np.asarray(x_BxHxWxC, np.float64)
  g = np.asarray(cotangent_BxOHxOWxC, np.float64)
  b, oh, ow, c = g.shape
  out, grad = np.zeros(g.shape), np.zeros(x.shape)
  for n in range(b):
    for i in range(oh):
      for j in range(ow):
        for ch in range(c):
          patch = x[n, i * window:(i + 1) * window, j * window:(j + 1) * window, ch]
          out[n, i, j, ch] = patch.max()
          is_max = patch == patch.max()
          grad[n, i * window:(i + 1) * window, j * window:(j + 1) * window, ch] = (
              g[n, i, j, ch] * is_max / is_max.sum())
  return out, grad


@pytest.mark.parametrize("size,window", [(26, 2), (9, 3), (29, 2), (13, 3)])
def test_max_pool_matches_reference(digits_Nx29x29, size, window):
  """Real digits hold many tied maxima (flat background); odd sizes drop the rows no window fills."""
  x = digit_channels(digits_Nx29x29, 3, 2)[:, :size, :size, :]
  y, vjp = jax.vjp(functools.partial(conv.max_pool, window=window), x)
  cotangent = jax.random.normal(jax.random.key(size), y.shape)
  (grad,) = vjp(cotangent)
  want_y, want_grad = reference_max_pool(x, window, cotangent)
  assert y.shape == (3, size // window, size // window, 2)
  np.testing.assert_array_equal(y, want_y.astype(np.float32))
  np.testing.assert_allclose(grad, want_grad, rtol=1e-6, atol=1e-7)
  assert np.sum(np.asarray(grad) != 0) > y.size  # ties share the gradient among several inputs


@pytest.mark.parametrize("call,message", [
    (lambda: conv.conv2d(jnp.zeros((1, 9, 9, 2)), jnp.zeros((3, 3, 2, 4)), impl="cudnn"), "impl must be one of"),
    (lambda: conv.conv2d(jnp.zeros((1, 9, 9, 2)), jnp.zeros((3, 3, 1, 4))), "does not fit kernel"),
    (lambda: conv.conv2d(jnp.zeros((1, 2, 9, 1)), jnp.zeros((3, 3, 1, 4))), "does not fit kernel"),
    (lambda: conv.max_pool(jnp.zeros((1, 2, 9, 1)), 3), "window 3 larger"),
])
def test_bad_shapes_and_names_are_one_line_errors(call, message):
  with pytest.raises(ValueError, match=message):
    call()


def test_forward_mode_goes_through_im2col_and_xla_not_split(digits_Nx29x29):
  """jax.jvp (so jax.hessian) cannot pass split's custom VJP: the documented workaround is another impl."""
  x = digit_channels(digits_Nx29x29, 2, 1)
  w = kernel(jax.random.key(0), 3, 3, 1, 2)
  tangents = {}
  for impl in ("im2col", "xla"):
    _, tangents[impl] = jax.jvp(lambda k, impl=impl: conv.conv2d(x, k, impl), (w,), (w,))
  assert_close(tangents["im2col"], tangents["xla"])
  with pytest.raises(TypeError, match="can't apply forward-mode autodiff"):
    jax.jvp(lambda k: conv.conv2d(x, k, "split"), (w,), (w,))
