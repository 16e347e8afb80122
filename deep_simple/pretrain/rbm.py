"""Restricted Boltzmann machines trained by one step of contrastive divergence (CD-1), Hinton et al. 2006.

    state = rbm.create_state(jax.random.key(0), cfg, steps_per_epoch)
    step = jax.jit(rbm.make_cd1_step(cfg))           # pure: (state, batch) -> (state, metrics)
    state, metrics = step(state, {"images": images_Bx29x29, "labels": labels_B})

The RBM is the top layer of config.model.hidden, on the frozen layers below it (deep_simple/pretrain/stack.py).
Hidden units are binary. Visible units are binary (pixels, or the hidden units of the layer below, as
probabilities) or, for the first layer with config.pretrain.visible="gaussian", unit-variance Gaussian units
on standardised pixels. CD-1 as in Hinton's practical guide (2010): h0 is sampled from p(h | v0), the
reconstruction v1 is its mean (noise-free for Gaussian units), and p(h | v1) enters as probabilities. SGD
follows the CD-1 estimate of the log-likelihood gradient, <v h>_data - <v h>_reconstruction, at the
config's per-example rate (summed over the batch with lr_scaling="linear").
"""

import jax
import jax.numpy as jnp

from deep_simple import inputs as inputs_lib
from deep_simple import train
from deep_simple.pretrain import stack


def init_layer(key, visible: int, hidden: int) -> dict:
  # Hinton's guide (2010, section 8): weights from N(0, 0.01^2), biases 0.
  return {"w": 0.01 * jax.random.normal(key, (visible, hidden), jnp.float32),
          "visible_bias": jnp.zeros(visible, jnp.float32), "hidden_bias": jnp.zeros(hidden, jnp.float32)}


def create_state(key, cfg, steps_per_epoch: int, lr0=None, lr_decay=None, momentum=None) -> stack.LayerState:
  return stack.create_state(key, cfg, steps_per_epoch, init_layer, lr0, lr_decay, momentum)


def _hidden_probs(layer, v_BxD):
  return jax.nn.sigmoid(v_BxD @ layer["w"] + layer["hidden_bias"])


def _visible_mean(layer, h_BxH, gaussian: bool):
  a_BxD = h_BxH @ layer["w"].T + layer["visible_bias"]
  return a_BxD if gaussian else jax.nn.sigmoid(a_BxD)


def make_cd1_step(cfg):
  """`cd1_step(state, batch) -> (state, metrics)`: one CD-1 update on `{"images", "labels"}` (labels unused);
  metrics: the squared reconstruction error per visible unit (`loss`, `reconstruction_error`) and the rate."""
  inputs = inputs_lib.Inputs.from_config(cfg)
  visible_units = stack.make_visible_units(cfg)
  gaussian = stack.gaussian(cfg, len(cfg.model.hidden))
  per_example = cfg.lr_scaling == "linear"

  def cd1_step(state: stack.LayerState, batch):
    images = batch["images"]
    inputs.check(images, batch["labels"], "cd1_step")
    layer = state.params["layer"]
    v0_BxD = visible_units(state.params["lower"], images)
    ph0_BxH = _hidden_probs(layer, v0_BxD)
    h0_BxH = jax.random.bernoulli(stack.noise_key(state), ph0_BxH).astype(jnp.float32)
    v1_BxD = _visible_mean(layer, h0_BxH, gaussian)
    ph1_BxH = _hidden_probs(layer, v1_BxD)
    # Descent along minus the CD-1 estimate: summed over the batch (per-example rate) or its mean.
    scale = -1.0 if per_example else -1.0 / images.shape[0]
    grads = {"w": scale * (v0_BxD.T @ ph0_BxH - v1_BxD.T @ ph1_BxH),
             "visible_bias": scale * jnp.sum(v0_BxD - v1_BxD, axis=0),
             "hidden_bias": scale * jnp.sum(ph0_BxH - ph1_BxH, axis=0)}
    error = jnp.mean((v0_BxD - v1_BxD) ** 2)
    lr = train.learning_rate(state)
    new = state.apply_gradients(grads=stack.zero_lower(state, grads))
    return new, {"loss": error, "reconstruction_error": error, "lr": lr}

  return cd1_step


def make_reconstruction_error(cfg):
  """`error(params, images_NxSxS) -> error_N`: squared error per visible unit of the mean-field
  reconstruction v -> p(h | v) -> E[v | h], per digit."""
  visible_units = stack.make_visible_units(cfg)
  gaussian = stack.gaussian(cfg, len(cfg.model.hidden))

  def error(params, images):
    v_NxD = visible_units(params["lower"], images)
    reconstruction = _visible_mean(params["layer"], _hidden_probs(params["layer"], v_NxD), gaussian)
    return jnp.mean((v_NxD - reconstruction) ** 2, axis=-1)

  return error
