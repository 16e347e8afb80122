"""Epoch time of one net, distortion included: the jitted `train.make_train_epoch` against PyTorch eager.

    python -m benchmarks.train_bench [--size=quick|cpu|gpu] [--repeats=N]

JAX: one jitted call per epoch (shuffle, distort every digit afresh, one SGD update per batch, all in
`lax.scan`), timed warm, after compilation. PyTorch: the same MLP (scaled tanh, uniform(-0.05, 0.05) init,
plain SGD at the same rate, cross-entropy) in eager mode, a Python loop over batches; its distorted digits come
from torchvision v2 RandomAffine + ElasticTransform applied image by image in the main process, as a Dataset's
per-sample transform does. Both sides also run without distortion, which isolates training. Each row's ratio
is the JAX time over the PyTorch time for the same work (< 1: JAX is faster).
"""

import dataclasses
import functools
import itertools
import sys

import jax
import jax.numpy as jnp

from benchmarks import common
from deep_simple import config
from deep_simple import train


@dataclasses.dataclass(frozen=True)
class Mode:
  name: str
  batch_size: int
  preset: str  # experiments/configs/paper.py preset that gives the net...
  hidden: tuple  # ...unless these layers replace it (small machines).
  digits: int  # Digits of the JAX epoch.
  torch_digits: int  # PyTorch's Python loop is slow: fewer digits where the JAX side is big.
  torch_distorted_digits: int


SIZES = {
    "quick": (Mode("online", 1, "net1", (32,), 64, 64, 16),
              Mode("B=32", 32, "net1", (32,), 256, 256, 64)),
    "cpu": (Mode("online", 1, "net1", (300, 100), 2_000, 2_000, 2_000),
            Mode("B=32", 32, "net1", (), 3_200, 3_200, 3_200)),
    "gpu": (Mode("online", 1, "net4", (), 60_000, 6_000, 6_000),
            Mode("B=32", 32, "net4", (), 60_000, 60_000, 6_000)),
}
REPEATS = {"quick": 1, "cpu": 3, "gpu": 3}
COLUMNS = ["case", "net", "JAX digits", "JAX s", "JAX median s", "JAX s/60k", "PyTorch digits", "PyTorch s",
           "PyTorch s/60k", "peer", "ratio"]


def jax_epoch(cfg, digits: int):
  """A function that trains one warm epoch of `digits` digits per call, and the digits it trains on."""
  images, labels = (jnp.asarray(a) for a in common.train_digits(digits))
  steps = digits // cfg.batch_size
  state = train.create_state(jax.random.key(cfg.seed), cfg, steps_per_epoch=steps)
  epoch_fn = jax.jit(train.make_train_epoch(cfg), donate_argnums=0)
  epochs = itertools.count()

  def run():
    nonlocal state
    state, metrics = epoch_fn(state, images, labels, jax.random.fold_in(jax.random.key(cfg.seed), next(epochs)))
    jax.block_until_ready((state, metrics))

  return run, steps * cfg.batch_size


def torch_mlp(torch, cfg, inputs: int):
  """The same net as models.MLP: scaled-tanh hidden layers, every weight and bias uniform in +-init_scale."""

  class ScaledTanh(torch.nn.Module):

    def forward(self, a):
      return 1.7159 * torch.tanh(0.6666 * a)  # models.scaled_tanh

  layers, width = [], inputs
  for hidden in cfg.model.hidden:
    layers += [torch.nn.Linear(width, hidden), ScaledTanh()]
    width = hidden
  net = torch.nn.Sequential(torch.nn.Flatten(), *layers, torch.nn.Linear(width, config.num_classes(cfg)))
  for p in net.parameters():
    torch.nn.init.uniform_(p, -cfg.model.init_scale, cfg.model.init_scale)
  return net


def torchvision_distortion(v2, dcfg):
  """The paper's distortions in torchvision's terms: same kinds and magnitudes, its parameterisation.

  torchvision scales isotropically, draws no narrower angle for 1 and 7, and takes one sigma and alpha per
  transform (the middle of our ranges); its elastic alpha is in half-image units, hence 2 x alpha pixels.
  """
  alpha_pixels, sigma = sum(dcfg.alpha_range) / 2, sum(dcfg.sigma_range) / 2
  return v2.Compose([
      v2.RandomAffine(degrees=dcfg.max_rotation_deg, scale=(1 - dcfg.max_scale, 1 + dcfg.max_scale),
                      shear=(-dcfg.max_shear_deg, dcfg.max_shear_deg)),
      v2.ElasticTransform(alpha=2 * alpha_pixels, sigma=sigma),
  ])


def torch_epoch(torch_modules, cfg, digits: int, make_net=None):
  """Like `jax_epoch`, for the PyTorch eager loop; returns (run, warm-up, digits trained).

  `make_net(torch, cfg)`: the peer's net on B x 1 x H x W inputs in [-1, 1]; default `torch_mlp`'s MLP."""
  torch, v2 = torch_modules
  device = "cuda" if torch.cuda.is_available() else "cpu"
  images, labels = common.train_digits(digits)
  unit_Nx1xHxW = torch.tensor(images).float().div_(255).unsqueeze(1)
  labels_N = torch.tensor(labels).long().to(device)
  make_net = make_net or (lambda torch, cfg: torch_mlp(torch, cfg, images.shape[1] * images.shape[2]))
  net = make_net(torch, cfg).to(device)
  # The same step as ours: the per-example rate times the summed gradient (mean loss times the batch size).
  sgd = torch.optim.SGD(net.parameters(), lr=cfg.lr0 * (cfg.batch_size if cfg.lr_scaling == "linear" else 1))
  distort = torchvision_distortion(v2, cfg.distort) if cfg.augment else None
  b = cfg.batch_size
  steps = digits // b

  def run(steps=steps):
    order = torch.randperm(digits)
    for s in range(steps):
      index = order[s * b:(s + 1) * b]
      if distort:
        unit_Bx1xHxW = torch.stack([distort(unit_Nx1xHxW[i]) for i in index.tolist()])
      else:
        unit_Bx1xHxW = unit_Nx1xHxW[index]
      loss = torch.nn.functional.cross_entropy(net((2 * unit_Bx1xHxW - 1).to(device)), labels_N[index.to(device)])
      sgd.zero_grad(set_to_none=True)
      loss.backward()
      sgd.step()
    if device == "cuda":
      torch.cuda.synchronize()

  return run, functools.partial(run, steps=min(steps, 16)), steps * b


def measure(mode: Mode, distorted: bool, torch_modules, repeats: int) -> dict:
  cfg = common.net_config(mode.preset, mode.hidden, mode.batch_size)
  cfg.augment = distorted
  runs, warmups, digits = {}, {}, {}
  runs["JAX"], digits["JAX"] = jax_epoch(cfg, mode.digits)
  if torch_modules is not None:
    runs["PyTorch"], warmups["PyTorch"], digits["PyTorch"] = torch_epoch(
        torch_modules, cfg, mode.torch_distorted_digits if distorted else mode.torch_digits)
  seconds = common.timed(runs, repeats, warmups)
  row = {"case": f"{mode.name}, {'distorted' if distorted else 'no distortion'}", "net": common.net_name(cfg),
         "JAX median s": seconds["JAX"]["median"]}
  for side in runs:
    row.update({f"{side} digits": digits[side], f"{side} s": seconds[side]["best"],
                f"{side} s/60k": common.per_epoch(seconds[side]["best"], digits[side])})
  if torch_modules is None:
    return dict(row, peer="PyTorch not installed (pip install torch torchvision)", ratio=None)
  return dict(row, peer="PyTorch eager", ratio=row["JAX s/60k"] / row["PyTorch s/60k"])


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  torch_modules = common.optional_torch()
  rows = [measure(mode, distorted, torch_modules, args.repeats)
          for mode in SIZES[args.size] for distorted in (True, False)]
  threads = common.threads()
  common.print_table(f"Training epoch, {args.size} size, {threads} core(s): JAX train_epoch vs PyTorch eager",
                     rows, COLUMNS, notes=[
      "s: best of the timed epochs (warm); s/60k: s x 60,000 / digits, linear extrapolation to a full epoch.",
      "ratio: JAX s/60k over PyTorch s/60k (< 1: JAX faster). Distorted rows include distorting every digit.",
      f"Both sides run on the same {threads} CPU core(s) (torch.set_num_threads({threads})); PyTorch: eager, "
      "torchvision v2 RandomAffine + ElasticTransform per image in the main process.",
  ])
  return common.save_rows(args, rows)


if __name__ == "__main__":
  main(sys.argv[1:])
