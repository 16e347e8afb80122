"""Epoch time of a 100-layer highway net: the jitted `train.make_train_epoch` against PyTorch eager.

    python -m benchmarks.highway_bench [--size=quick|cpu|gpu] [--repeats=N]

The net of experiments/configs/highway.py: a plain input layer, 99 highway layers of 50 units (ReLU, b_T = -6),
softmax; mini-batches of 128, SGD with momentum 0.9, cross-entropy, undistorted digits (the model alone).
JAX: one jitted call per epoch (shuffle, every step in `lax.scan`, the layers in `nn.scan`). PyTorch: the same
net and step in eager mode (H and T from one Linear of 2 x 50 outputs, as ours), a Python loop over batches.
Both sides run in the same process on the same cores (`benchmarks.run_all` runs it on all cores and pinned to
one). Ratio: JAX time over PyTorch time (< 1: JAX faster).
"""

import dataclasses
import functools
import itertools
import sys

import jax

from benchmarks import common
from deep_simple import train
from experiments.configs import highway


@dataclasses.dataclass(frozen=True)
class Size:
  depth: int
  width: int
  digits: int


SIZES = {"quick": Size(10, 16, 512), "cpu": Size(100, 50, 6_400), "gpu": Size(100, 50, 60_000)}
REPEATS = {"quick": 1, "cpu": 3, "gpu": 3}
BATCH = 128
COLUMNS = ["case", "net", "digits", "JAX s", "JAX median s", "PyTorch s", "PyTorch median s",
           "JAX s/60k", "PyTorch s/60k", "peer", "ratio"]


def config(size: Size):
  cfg = highway.get_config("highway100")
  cfg.model.depth, cfg.model.width = size.depth, size.width
  cfg.batch_size, cfg.augment, cfg.pad_to_29 = BATCH, False, False
  return cfg


def jax_epoch(cfg, images, labels):
  """A function that trains one warm epoch per call."""
  images, labels = jax.device_put(images), jax.device_put(labels)
  state = train.create_state(jax.random.key(cfg.seed), cfg, steps_per_epoch=len(labels) // cfg.batch_size)
  epoch_fn = jax.jit(train.make_train_epoch(cfg), donate_argnums=0)
  epochs = itertools.count()

  def run():
    nonlocal state
    state, metrics = epoch_fn(state, images, labels, jax.random.fold_in(jax.random.key(cfg.seed), next(epochs)))
    jax.block_until_ready((state, metrics))

  return run


def torch_highway(torch, cfg, inputs: int):
  """The same net as models.highway: [W_H | W_T] in one Linear per layer, Glorot-uniform halves, b_T."""
  width, nn = cfg.model.width, torch.nn

  class Highway(nn.Module):

    def __init__(self):
      super().__init__()
      self.input = nn.Linear(inputs, width)
      self.layers = nn.ModuleList(nn.Linear(width, 2 * width) for _ in range(cfg.model.depth - 1))
      self.output = nn.Linear(width, 10)
      for linear in (self.input, self.output):
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
      for layer in self.layers:
        for half in layer.weight.data.chunk(2):
          nn.init.xavier_uniform_(half)
        nn.init.zeros_(layer.bias[:width])
        nn.init.constant_(layer.bias[width:], cfg.model.gate_bias[0])

    def forward(self, x_BxD):
      x_BxW = torch.relu(self.input(x_BxD))
      for layer in self.layers:
        h_BxW, t_BxW = layer(x_BxW).chunk(2, dim=1)
        t_BxW = torch.sigmoid(t_BxW)
        x_BxW = x_BxW + t_BxW * (torch.relu(h_BxW) - x_BxW)
      return self.output(x_BxW)

  return Highway()


def torch_epoch(torch, cfg, images, labels):
  """Like `jax_epoch`, for the PyTorch eager loop; returns (run, warm-up)."""
  device = "cuda" if torch.cuda.is_available() else "cpu"
  x_NxD = (torch.tensor(images).float().div_(255) * 2 - 1).reshape(len(images), -1).to(device)  # input_range signed
  labels_N = torch.tensor(labels).long().to(device)
  net = torch_highway(torch, cfg, x_NxD.shape[1]).to(device)
  sgd = torch.optim.SGD(net.parameters(), lr=cfg.lr0, momentum=cfg.momentum)  # lr_scaling "none": mean gradient
  b, digits = cfg.batch_size, len(labels)

  def run(steps=digits // b):
    order = torch.randperm(digits, device=device)
    for s in range(steps):
      index = order[s * b:(s + 1) * b]
      loss = torch.nn.functional.cross_entropy(net(x_NxD[index]), labels_N[index])
      sgd.zero_grad(set_to_none=True)
      loss.backward()
      sgd.step()
    if device == "cuda":
      torch.cuda.synchronize()

  return run, functools.partial(run, steps=min(digits // b, 8))


def measure(size_name: str, torch_modules, repeats: int) -> dict:
  """One row: both sides warm, timed in turns, on this process's cores."""
  size = SIZES[size_name]
  cfg = config(size)
  net = common.net_name(cfg)
  if torch_modules is None:
    return {"case": f"highway epoch, B={BATCH}", "net": net,
            "peer": "PyTorch not installed (pip install torch torchvision)", "ratio": None}
  images, labels = common.train_digits(size.digits)
  images = images[:, :28, :28]  # pad_to_29 = False: the 784 inputs of the highway papers
  torch_run, torch_warmup = torch_epoch(torch_modules[0], cfg, images, labels)
  seconds = common.timed({"JAX": jax_epoch(cfg, images, labels), "PyTorch": torch_run}, repeats,
                         {"PyTorch": torch_warmup})
  digits = len(labels) // BATCH * BATCH
  row = {"case": f"highway epoch, B={BATCH}", "net": net, "digits": digits, "peer": "PyTorch eager"}
  for side in seconds:
    row.update({f"{side} s": seconds[side]["best"], f"{side} median s": seconds[side]["median"],
                f"{side} s/60k": common.per_epoch(seconds[side]["best"], digits)})
  return dict(row, ratio=row["JAX s"] / row["PyTorch s"])


def main(argv=None) -> list:
  args = common.parse_args(argv, __doc__.splitlines()[0], REPEATS)
  rows = [measure(args.size, common.optional_torch(), args.repeats)]
  threads = common.threads()
  common.print_table(f"Highway training epoch, {args.size} size, {threads} core(s): JAX train_epoch vs PyTorch "
                     "eager", rows, COLUMNS, notes=[
                         "s: best of the timed epochs (warm), the two sides taking turns; s/60k: s x 60,000 / digits.",
                         f"ratio: JAX s over PyTorch s, same digits, same process, both on {threads} core(s) "
                         "(< 1: JAX faster).",
                     ])
  return common.save_rows(args, rows)


if __name__ == "__main__":
  main(sys.argv[1:])
