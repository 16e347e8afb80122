"""The MLP's hidden layers as a stack of sigmoid layers, the units RBMs and autoencoders are trained with.

An MLP hidden unit computes TANH_SCALE * tanh(TANH_SLOPE * a) (deep_simple/models/layers.py); a sigmoid unit
computes sigmoid(z) = (1 + tanh(z / 2)) / 2. With z = 2 * TANH_SLOPE * a the two agree up to an affine map of
the output, u = TANH_SCALE * (2 sigmoid(z) - 1), which the layer above absorbs in its weights. A layer trained
on visible units v in [0, 1] therefore becomes the MLP's Dense layer exactly (`to_dense`): the fine-tuned net
starts out computing the pre-trained stack's mean-field up-pass.

A greedy stage trains the top layer of config.model.hidden on the layers below it: `params["lower"]`, the
MLP's Dense layers that the earlier stages left, held fixed (their gradients are zero), and
`params["layer"]`, the layer being trained in sigmoid form (weights `w` visible x hidden, `visible_bias`,
`hidden_bias`, and for an untied autoencoder `w_decoder`).
"""

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from deep_simple import config
from deep_simple import inputs as inputs_lib
from deep_simple import train
from deep_simple.models import layers


class LayerState(train.TrainState):
  """A greedy stage's state. Step t draws its noise from `noise_key(state)`: a stage resumed from a checkpoint
  draws what an uninterrupted one would (`key` comes from the member's seed, not the checkpoint)."""

  key: Any = None  # raw key data (uint32), so that states go to the host as numpy arrays


def noise_key(state: LayerState):
  """The key of the state's next step: fold_in(key, step)."""
  return jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)


@dataclasses.dataclass(frozen=True)
class Visible:
  """How the MLP sees a layer's visible units v: as u = scale * v + shift."""

  scale: float
  shift: float


def gaussian(cfg, layer: int) -> bool:
  """Whether hidden layer `layer` (1: on the pixels) is an RBM with Gaussian visible units."""
  p = cfg.pretrain
  return layer == 1 and p.method == "rbm_pretraining" and p.visible == "gaussian"


def visible_map(cfg, layer: int) -> Visible:
  """The MLP's input to hidden layer `layer` (1-based) in terms of that layer's visible units."""
  if layer > 1:
    return Visible(2 * layers.TANH_SCALE, -layers.TANH_SCALE)  # the layer below: u = TANH_SCALE (2 v - 1)
  a, b = (2.0, -1.0) if cfg.input_range == "signed" else (1.0, 0.0)  # pixels p in [0, 1]: u = a p + b
  # Binary units see the pixels as probabilities (v = p); Gaussian ones standardised pixels (p = std v + mean).
  mean, std = (cfg.pretrain.pixel_mean, cfg.pretrain.pixel_std) if gaussian(cfg, layer) else (0.0, 1.0)
  return Visible(a * std, a * mean + b)


def to_dense(w_DxH, hidden_bias_H, visible: Visible) -> dict:
  """The MLP Dense layer whose scaled tanh equals TANH_SCALE * (2 sigmoid(v W + c) - 1) on u = scale v + shift.

  Works on a leading member axis too (w_MxDxH, hidden_bias_MxH)."""
  slope = 2 * layers.TANH_SLOPE
  kernel = w_DxH / (slope * visible.scale)
  bias = (hidden_bias_H - visible.shift / visible.scale * w_DxH.sum(axis=-2)) / slope
  return {"kernel": kernel, "bias": bias}


def up(lower: dict, x_BxD):
  """The MLP's hidden units through the Dense layers in `lower` ("Dense_0", "Dense_1", ...), in order."""
  for i in range(len(lower)):
    dense = lower[f"Dense_{i}"]
    x_BxD = layers.scaled_tanh(x_BxD @ dense["kernel"] + dense["bias"])
  return x_BxD


def make_visible_units(cfg):
  """`units(lower, images) -> v_BxD`: the visible units of the top hidden layer of config.model.hidden for a
  batch of digits under the one input contract (deep_simple/inputs.py)."""
  inputs = inputs_lib.Inputs.from_config(cfg)
  visible = visible_map(cfg, len(cfg.model.hidden))

  def units(lower, images):
    x = inputs.to_model(images)
    return (up(lower, x.reshape(x.shape[0], -1)) - visible.shift) / visible.scale

  return units


def sizes(cfg) -> tuple[int, int]:
  """(visible, hidden) units of the top hidden layer of config.model.hidden."""
  hidden = tuple(cfg.model.hidden)
  return (math.prod(config.input_shape(cfg)), *hidden)[-2], hidden[-1]


def create_state(key, cfg, steps_per_epoch: int, init_layer, lr0=None, lr_decay=None,
                 momentum=None) -> LayerState:
  """A fresh stage state: `init_layer(key, visible, hidden)` draws the layer; `lower` is zeros until the
  earlier stages' layers replace it (`committee.start_from`)."""
  init_key, noise_key = jax.random.split(key)
  widths = (math.prod(config.input_shape(cfg)), *cfg.model.hidden)
  lower = {f"Dense_{i}": {"kernel": jnp.zeros(widths[i:i + 2], jnp.float32), "bias": jnp.zeros(widths[i + 1])}
           for i in range(len(widths) - 2)}
  params = {"lower": lower, "layer": init_layer(init_key, *sizes(cfg))}
  return train.init_state(LayerState, None, params, cfg, steps_per_epoch, lr0, lr_decay, momentum,
                          key=jax.random.key_data(noise_key))


def zero_lower(state: LayerState, layer_grads: dict) -> dict:
  """Gradients of all params: the layer's, and zeros for the frozen layers below (SGD then leaves them
  bit-identical)."""
  return {"lower": jax.tree.map(jnp.zeros_like, state.params["lower"]), "layer": layer_grads}
