"""Preset selection shared by the preset files; the fields and their defaults are deep_simple.config's."""

import ml_collections

from deep_simple import config


def select(presets: dict, name: str, model: str = "mlp") -> ml_collections.ConfigDict:
  """The library's base config for model family `model`, changed by preset `name` (a function of the config);
  an unknown name is a one-line error listing the presets."""
  if name not in presets:
    raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(presets)}")
  c = config.base_config(model)
  c.name = name
  presets[name](c)
  return c
