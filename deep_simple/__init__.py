"""deep_simple: deep, big, simple nets for handwritten digits in JAX/Flax."""

__version__ = "0.1.0"
