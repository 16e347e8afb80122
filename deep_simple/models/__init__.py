"""Model families and their registry: `config.model.name` picks the family, its other fields configure it.

A family is a module (or any object) with four functions:

    config() -> ml_collections.ConfigDict         # the family's fields and their defaults
    build(model_cfg, num_classes) -> nn.Module     # maps images_BxHxWxC (model range) to logits_BxK
    check(model_cfg, input_shape) -> None          # one-line ValueError for fields that cannot work on (H, W, C)
    describe(model_cfg, num_classes) -> str        # the architecture in a table cell, e.g. "1000-500-10"

Adding a family is a new file beside mlp.py, one line in FAMILIES, and a preset file in experiments/configs/.
Code outside this package knows models only through the functions below.
"""

import jax
import jax.numpy as jnp
import ml_collections

from deep_simple.models import cnn
from deep_simple.models import highway
from deep_simple.models import mlp

FAMILIES = {
    "mlp": mlp,
    "highway": highway,
    "cnn": cnn,
}
_PARTS = ("config", "build", "check", "describe")


def register(name: str, family) -> None:
  """Adds (or replaces) a family at run time, e.g. from a config file outside this package."""
  missing = [part for part in _PARTS if not callable(getattr(family, part, None))]
  if missing:
    raise TypeError(f"model family {name!r} lacks {', '.join(missing)}")
  FAMILIES[name] = family


def family(name: str):
  if name not in FAMILIES:
    raise ValueError(f"config.model.name must be one of {', '.join(FAMILIES)}; got {name!r}")
  return FAMILIES[name]


def default_config(name: str) -> ml_collections.ConfigDict:
  """`config.model` of family `name`: its name and its fields with their defaults."""
  cfg = ml_collections.ConfigDict({"name": name})
  cfg.update(family(name).config())
  return cfg


def check(model_cfg, input_shape: tuple[int, int, int]) -> None:
  """One-line ValueError unless `model_cfg` has exactly its family's fields, each with a workable value."""
  fields = set(model_cfg) - {"name"}
  expected = set(family(model_cfg.name).config())
  if fields != expected:
    extra, missing = sorted(fields - expected), sorted(expected - fields)
    raise ValueError(f"config.model has the fields of another family than {model_cfg.name!r}: "
                     f"unknown {extra or 'none'}, missing {missing or 'none'}")
  family(model_cfg.name).check(model_cfg, tuple(input_shape))


def build(model_cfg, num_classes: int):
  return family(model_cfg.name).build(model_cfg, num_classes)


def describe(model_cfg, num_classes: int) -> str:
  return family(model_cfg.name).describe(model_cfg, num_classes)


def notation(model_cfg, input_shape: tuple[int, int, int], num_classes: int) -> str:
  """The papers' notation with the input maps first, e.g. "3x32x32-300C3-MP2-...-10N"."""
  h, w, c = input_shape
  return f"{c}x{h}x{w}-{describe(model_cfg, num_classes)}"


def param_count(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))


def param_shapes(model_cfg, input_shape: tuple[int, int, int], num_classes: int):
  """The parameters' shapes and dtypes for images of `input_shape` (H, W, C); nothing is allocated."""
  return jax.eval_shape(build(model_cfg, num_classes).init, jax.random.key(0),
                        jnp.zeros((1, *input_shape), jnp.float32))["params"]


def param_names(model_cfg, input_shape: tuple[int, int, int], num_classes: int) -> tuple:
  """Top-level parameter names, e.g. ("Dense_0", "Dense_1", "Dense_2") for an MLP with two hidden layers."""
  return tuple(param_shapes(model_cfg, input_shape, num_classes))


def count_params(model_cfg, input_shape: tuple[int, int, int], num_classes: int) -> int:
  """Weights and biases of one net, from the parameters' shapes (nothing is allocated)."""
  return param_count(param_shapes(model_cfg, input_shape, num_classes))
