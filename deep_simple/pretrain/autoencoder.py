"""Denoising autoencoders, the layers of stacked denoising autoencoders (Vincent et al. 2010).

    state = autoencoder.create_state(jax.random.key(0), cfg, steps_per_epoch)
    step = jax.jit(autoencoder.make_dae_step(cfg))   # pure: (state, batch) -> (state, metrics)
    state, metrics = step(state, {"images": images_Bx29x29, "labels": labels_B})

The autoencoder is the top layer of config.model.hidden, on the frozen layers below it
(deep_simple/pretrain/stack.py), in Vincent et al.'s form for inputs in [0, 1]: masking noise sets a
fraction config.pretrain.corruption of the visible units to 0, the encoder h = sigmoid(v~ W + c) and the
decoder z = sigmoid(h W' + b) reconstruct the clean v, with W' = W^T (config.pretrain.tied) or weights of
its own, under the cross-entropy -sum_i [v_i log z_i + (1 - v_i) log(1 - z_i)]. SGD at the config's
per-example rate (summed over the batch with lr_scaling="linear").
"""

import math

import jax
import jax.numpy as jnp
import optax

from deep_simple import inputs as inputs_lib
from deep_simple import train
from deep_simple.pretrain import stack


def _uniform(key, shape, bound):
  return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def init_layer(key, visible: int, hidden: int, tied: bool) -> dict:
  # The range the Theano tutorials' denoising autoencoder draws sigmoid weights from.
  bound = 4 * math.sqrt(6 / (visible + hidden))
  encoder_key, decoder_key = jax.random.split(key)
  layer = {"w": _uniform(encoder_key, (visible, hidden), bound),
           "visible_bias": jnp.zeros(visible, jnp.float32), "hidden_bias": jnp.zeros(hidden, jnp.float32)}
  if not tied:
    layer["w_decoder"] = _uniform(decoder_key, (hidden, visible), bound)
  return layer


def create_state(key, cfg, steps_per_epoch: int, lr0=None, lr_decay=None, momentum=None) -> stack.LayerState:
  tied = bool(cfg.pretrain.tied)
  return stack.create_state(key, cfg, steps_per_epoch, lambda k, v, h: init_layer(k, v, h, tied), lr0, lr_decay,
                            momentum)


def _reconstruct(layer, v_BxD):
  """Decoder logits and reconstruction z of visible units v (already corrupted, or clean)."""
  h_BxH = jax.nn.sigmoid(v_BxD @ layer["w"] + layer["hidden_bias"])
  decoder = layer["w_decoder"] if "w_decoder" in layer else layer["w"].T
  logits_BxD = h_BxH @ decoder + layer["visible_bias"]
  return logits_BxD, jax.nn.sigmoid(logits_BxD)


def make_dae_step(cfg):
  """`dae_step(state, batch) -> (state, metrics)`: one update on `{"images", "labels"}` (labels unused);
  metrics: the cross-entropy per digit (`loss`), the squared reconstruction error per visible unit of the
  corrupted digits' reconstruction (`reconstruction_error`), and the rate."""
  inputs = inputs_lib.Inputs.from_config(cfg)
  visible_units = stack.make_visible_units(cfg)
  keep = 1.0 - float(cfg.pretrain.corruption)
  per_example = cfg.lr_scaling == "linear"

  def dae_step(state: stack.LayerState, batch):
    images = batch["images"]
    inputs.check(images, batch["labels"], "dae_step")
    v_BxD = visible_units(state.params["lower"], images)
    kept_BxD = jax.random.bernoulli(stack.noise_key(state), keep, v_BxD.shape)
    corrupted_BxD = jnp.where(kept_BxD, v_BxD, 0.0)

    def loss_fn(layer):
      logits_BxD, z_BxD = _reconstruct(layer, corrupted_BxD)
      loss = jnp.mean(jnp.sum(optax.sigmoid_binary_cross_entropy(logits_BxD, v_BxD), axis=-1))
      error = jnp.mean((z_BxD - v_BxD) ** 2)
      # The sum over the batch: each digit's gradient is stepped at the per-example rate.
      return (loss * images.shape[0] if per_example else loss), (loss, error)

    (_, (loss, error)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["layer"])
    lr = train.learning_rate(state)
    new = state.apply_gradients(grads=stack.zero_lower(state, grads))
    return new, {"loss": loss, "reconstruction_error": error, "lr": lr}

  return dae_step


def make_reconstruction_error(cfg):
  """`error(params, images_NxSxS) -> error_N`: squared error per visible unit of the clean digits'
  reconstruction, per digit."""
  visible_units = stack.make_visible_units(cfg)

  def error(params, images):
    v_NxD = visible_units(params["lower"], images)
    return jnp.mean((_reconstruct(params["layer"], v_NxD)[1] - v_NxD) ** 2, axis=-1)

  return error
