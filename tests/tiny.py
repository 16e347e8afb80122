"""The small configs the library's tests train, built from deep_simple.config alone."""

from deep_simple import config


def net(**overrides):
  """A 64-unit MLP, mini-batches of 16, 2 epochs, on 2,000 training and 1,000 evaluation digits."""
  c = config.base_config()
  c.name = "tiny"
  c.model.hidden = (64,)
  c.batch_size, c.epochs, c.train_limit, c.eval_limit = 16, 2, 2_000, 1_000
  for key, value in overrides.items():
    c[key] = value
  return c


def committee(members: int = 4, **overrides):
  c = net(**overrides)
  c.committee.size = members
  return c


def cnn(**overrides):
  """A narrow CNN column (4C4-MP2-8C5-MP3-16N-10N, ReLU), otherwise like `net`."""
  c = net(**overrides)
  c.model = config.base_config("cnn").model
  c.model.maps, c.model.hidden, c.model.activation = (4, 8), (16,), "relu"
  c.model.weight_init, c.model.init_scale = "sqrt_fan_in", 2.45
  return c
