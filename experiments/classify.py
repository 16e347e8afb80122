r"""Classifies digit images (PNG) with a released model (deep_simple/release.py).

    python -m experiments.classify --model=results/mcdnn35-cpu/member00/model.npz digit1.png digit2.png

Each image must be 28x28 pixels, a digit as MNIST has them: white on black (an image whose border is light is
inverted), centred. Prints, per file, the model's first and second guess with their probabilities. A file
that cannot be read, or a release that is corrupt or does not fit its config, is one `error:` line.
"""

import sys

from absl import app
from absl import flags
import numpy as np
from PIL import Image

from deep_simple import release
from experiments import cli

MODEL = flags.DEFINE_string("model", None, "A released model (model.npz).", required=True)


def read_digit(path: str) -> np.ndarray:
  """uint8 28x28, white on black."""
  with Image.open(path) as image:
    pixels_28x28 = np.asarray(image.convert("L"), np.uint8)
  if pixels_28x28.shape != (28, 28):
    raise ValueError(f"{path}: expected 28x28 pixels (a digit as MNIST has them); got "
                     f"{pixels_28x28.shape[1]}x{pixels_28x28.shape[0]}")
  border = np.concatenate([pixels_28x28[0], pixels_28x28[-1], pixels_28x28[:, 0], pixels_28x28[:, -1]])
  return 255 - pixels_28x28 if border.mean() > 127 else pixels_28x28


def main(argv):
  paths = argv[1:]
  if not paths:
    sys.exit("error: name at least one image file to classify")
  cli.quiet_logging()
  try:
    model = release.load(MODEL.value)
    images_Nx28x28 = np.stack([read_digit(path) for path in paths])
  except (ValueError, OSError) as e:
    sys.exit(f"error: {cli.one_line(e)}")
  probs_NxK = release.predict(model, images_Nx28x28)
  for path, probs_K in zip(paths, probs_NxK):
    first, second = np.argsort(-probs_K)[:2]
    print(f"{path}: {first} ({probs_K[first]:.3f}), second guess {second} ({probs_K[second]:.3f})")


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
