"""Greedy layer-wise supervised training (Bengio et al. 2007; in the spirit of Ivakhnenko 1965).

Stage k trains the net's first k hidden layers under a temporary softmax output: the k - 1 layers the earlier
stages left (held fixed with config.pretrain.freeze, via config.frozen), a fresh layer k, and a fresh
softmax. It is an ordinary supervised run of deep_simple.loop; only its config and starting point differ.
"""


def stage_config(cfg, layer: int):
  """The run config of stage `layer` (1-based), from a greedy stage's config (stages.greedy_config)."""
  c = cfg.copy_and_resolve_references()
  c.model.hidden = tuple(cfg.model.hidden)[:layer]
  c.frozen = tuple(f"Dense_{i}" for i in range(layer - 1)) if cfg.pretrain.freeze else ()
  return c


def carried(layer: int) -> tuple:
  """The parameters stage `layer` takes from the one before: its hidden layers, not its temporary softmax."""
  return tuple(f"Dense_{i}" for i in range(layer - 1))
