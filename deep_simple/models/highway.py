"""Highway networks (Srivastava, Greff & Schmidhuber 2015) and plain nets of the same depth.

    input layer:    x = g(W_in · pixels + b_in)                       (plain, to `width` units)
    depth - 1 ×:    y = H(x)·T(x) + x·(1 − T(x)),   H(x) = g(W_H x + b_H),   T(x) = sigmoid(W_T x + b_T)
    output:         logits = W_out · x + b_out                         (softmax in the loss)

g is ReLU or tanh. With `gated=False` every layer after the first is plain, y = H(x): the plain net of the
same depth that the papers compare against. The transform gate's bias b_T starts negative, so T ≈ 0 and a
deep highway net starts close to the identity; `gate_bias` = (low, high) draws one b_T per net, uniformly,
from the net's own initialisation key (each committee member draws its own: a random search over b_T needs
no committee field), and equal ends fix it.

Weights use the "normalised" initialisation of Glorot & Bengio (2010), uniform with variance
2 / (fan_in + fan_out), as the optimisation study's plain nets and the highway nets' non-gate weights do;
H and T are drawn as two W x W layers. Biases start at 0, gate biases at b_T. A plain ReLU net's signal
fades through tens of such layers (tests/highway_test.py measures its first-layer gradient) while the
highway net's carry path keeps it.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

ACTIVATIONS = {"relu": nn.relu, "tanh": jnp.tanh}


# Glorot & Bengio's normalised initialisation: uniform in ±sqrt(6 / (fan_in + fan_out)).
normalised_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")


class HighwayLayer(nn.Module):
  """y = H(x)·T(x) + x·(1 − T(x)) on x_BxW, or y = H(x) when not gated; sows T as "transform_gate".

  H and T share one W x 2W matrix: one product per layer instead of two (about twice as fast on CPU).
  """

  activation: str
  gated: bool
  gate_bias: jax.Array  # b_T, this net's draw

  @nn.compact
  def __call__(self, x_BxW, _):
    width = x_BxW.shape[-1]
    if not self.gated:
      return ACTIVATIONS[self.activation](
          nn.Dense(width, kernel_init=normalised_init, name="hidden")(x_BxW)), None
    z_Bx2W = nn.Dense(2 * width, kernel_init=self._kernel_init, bias_init=self._bias_init,
                      name="hidden")(x_BxW)
    h_BxW = ACTIVATIONS[self.activation](z_Bx2W[:, :width])
    t_BxW = nn.sigmoid(z_Bx2W[:, width:])
    self.sow("intermediates", "transform_gate", t_BxW)
    return x_BxW + t_BxW * (h_BxW - x_BxW), None

  def _kernel_init(self, key, shape, dtype=jnp.float32):
    """[W_H | W_T], each drawn as a W x W layer of its own."""
    h_key, t_key = jax.random.split(key)
    half = (shape[0], shape[1] // 2)
    return jnp.concatenate([normalised_init(h_key, half, dtype), normalised_init(t_key, half, dtype)], axis=1)

  def _bias_init(self, key, shape, dtype=jnp.float32):
    """[b_H | b_T] = [0 ... 0 | b_T ... b_T]."""
    del key
    return jnp.concatenate([jnp.zeros(shape[0] // 2, dtype), jnp.full(shape[0] // 2, self.gate_bias, dtype)])


class Highway(nn.Module):
  """Images_BxHxW (model range) -> logits_BxK through `depth` layers of `width` units.

  The depth - 1 layers after the input layer are one `nn.scan` over stacked parameters (leading axis: the
  layer): XLA compiles one layer instead of 99, and on CPU the unrolled 99-layer step ran >20x slower.
  """

  depth: int = 100
  width: int = 50
  activation: str = "relu"
  gated: bool = True
  gate_bias: tuple = (-2.0, -2.0)
  num_classes: int = 10

  @nn.compact
  def __call__(self, images_BxHxWxC):
    x_BxW = images_BxHxWxC.reshape(images_BxHxWxC.shape[0], -1)
    x_BxW = ACTIVATIONS[self.activation](
        nn.Dense(self.width, kernel_init=normalised_init, name="input")(x_BxW))
    if self.depth > 1:
      layers = nn.scan(HighwayLayer, variable_axes={"params": 0, "intermediates": 0},
                       split_rngs={"params": True}, length=self.depth - 1)
      x_BxW, _ = layers(self.activation, self.gated, self._draw_gate_bias(), name="layers")(x_BxW, None)
    return nn.Dense(self.num_classes, kernel_init=normalised_init, name="output")(x_BxW)

  def _draw_gate_bias(self):
    """One b_T per net, uniform in `gate_bias`, from the net's init key (only `init` runs initialisers)."""
    if not (self.gated and self.is_initializing()):
      return jnp.zeros(())
    low, high = self.gate_bias
    return jax.random.uniform(self.make_rng("params"), (), minval=low, maxval=high)


def initial_gate_bias(params):
  """The b_T a fresh net drew (a leading member axis is kept): every gate bias of a fresh net equals it."""
  bias = params["layers"]["hidden"]["bias"]
  return bias[..., 0, -1]


def transform_gates(model: Highway, params, x_BxHxW):
  """T(x) of every highway layer: gates_LxBxW for layers 1 ... depth - 1 (inputs in model range)."""
  _, state = model.apply({"params": params}, x_BxHxW, mutable=["intermediates"])
  return state["intermediates"]["layers"]["transform_gate"][0]


def config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      depth=100,  # Layers before the softmax: the plain input layer, then depth - 1 highway (or plain) layers.
      width=50,  # Srivastava et al. 2015, optimisation study: 50 units per highway layer (71 per plain one).
      activation="relu",  # g of the input and H layers: "relu" or "tanh".
      gated=True,  # False: the plain net of the same depth, y = H(x).
      # b_T drawn per net uniformly in [low, high]; -2 for the papers' best MNIST nets (-1 in the original
      # code's MNIST example, [-10, -1] in the optimisation study's search).
      gate_bias=(-2.0, -2.0),
  ))


def build(cfg, num_classes: int) -> Highway:
  return Highway(depth=cfg.depth, width=cfg.width, activation=cfg.activation, gated=cfg.gated,
                 gate_bias=tuple(float(b) for b in cfg.gate_bias), num_classes=num_classes)


def check(cfg, input_shape: tuple[int, int, int]) -> None:
  del input_shape  # Any image flattens.
  for field in ("depth", "width"):
    if not (isinstance(cfg[field], int) and cfg[field] > 0):
      raise ValueError(f"config.model.{field} must be a positive integer; got {cfg[field]!r}")
  if cfg.activation not in ACTIVATIONS:
    raise ValueError(f"config.model.activation must be one of {', '.join(ACTIVATIONS)}; got {cfg.activation!r}")
  bias = tuple(cfg.gate_bias)
  if not (len(bias) == 2 and all(isinstance(b, (int, float)) and abs(b) < float("inf") for b in bias)
          and bias[0] <= bias[1]):
    raise ValueError(f"config.model.gate_bias must be (low, high) with low <= high, the range b_T is drawn "
                     f"from; got {bias!r}")


def describe(cfg, num_classes: int) -> str:
  """e.g. "highway 100x50 relu-10": depth x width, the activation, then the outputs."""
  return f"{'highway' if cfg.gated else 'plain'} {cfg.depth}x{cfg.width} {cfg.activation}-{num_classes}"
