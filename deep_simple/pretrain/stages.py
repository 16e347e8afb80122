"""A method as a chain of stages: greedy stages, one per hidden layer, then fine-tuning of the whole net.

    summaries = stages.run(cfg, workdir)      # cfg from method.base_config(...); each stage in workdir/<k>_<name>

Stage k starts from the MLP layers that stage k - 1 left; fine-tuning starts from all of them (a fresh output
layer unless the last stage trained one of the same shape, as layer-wise supervised training does). Members
are chains: member m's greedy stages (rate config.pretrain.member_lr0[m]) feed member m's fine-tuning (rate
config.committee.lr0[m]), so the committee machinery searches rates for every stage at once. Each stage is
a resumable run in its own workdir; a stage that was interrupted resumes bit-identical.
"""

import dataclasses
import functools
import os

import ml_collections
import numpy as np

from deep_simple import loop
from deep_simple import report
from deep_simple.pretrain import layerwise
from deep_simple.pretrain import method
from deep_simple.pretrain import unsupervised

FINETUNE = "finetune"


@dataclasses.dataclass(frozen=True)
class Stage:
  name: str  # "layer1", ..., "finetune": also its workdir's name after its position, e.g. "2_layer2"
  layer: int  # the hidden layer a greedy stage trains (1-based); 0 for fine-tuning
  supervised: bool
  cfg: ml_collections.ConfigDict  # the stage's complete run config


def greedy_config(cfg, layer: int):
  """The run config of greedy stage `layer`: the method's, with the greedy stages' epochs and rates."""
  p = cfg.pretrain
  c = cfg.copy_and_resolve_references()
  c.name = f"{cfg.name}/layer{layer}"
  c.epochs, c.lr0, c.lr_decay = p.epochs, p.lr0, p.lr_decay
  c.committee.lr0, c.committee.lr_decay = tuple(p.member_lr0), ()
  if p.method == "layerwise_supervised":
    return layerwise.stage_config(c, layer)
  c.model.hidden = tuple(cfg.model.hidden)[:layer]
  c.ema_decay = 0.0  # an unsupervised layer has no classifier to average
  return c


def plan(cfg) -> list[Stage]:
  method.validate(cfg)
  supervised = cfg.pretrain.method == "layerwise_supervised"
  greedy = [Stage(f"layer{k}", k, supervised, greedy_config(cfg, k)) for k in range(1, method.layers(cfg) + 1)]
  return greedy + [Stage(FINETUNE, 0, True, cfg.copy_and_resolve_references())]


def folder(workdir: str, index: int, stage: Stage) -> str:
  return os.path.join(workdir, f"{index + 1}_{stage.name}")


def initial_params(stage: Stage, previous):
  """What `stage` starts from, given the MLP layers the stage before it left (host, stacked by member)."""
  if previous is None:
    return None
  if not stage.layer:
    return previous
  carried = {name: previous[name] for name in layerwise.carried(stage.layer)}
  return carried if stage.supervised else {"lower": carried}


def charged(history: list) -> list:
  """The epochs' times as charged to a budget: the first at the second's. Its excess is compilation, a fixed
  cost per stage that full-size runs do not notice and that would weigh on the methods with more stages."""
  seconds = [e["seconds"] for e in history]
  return [min(seconds[:2]), *seconds[1:]] if seconds else []


def examples(history: list, batch_size: int, train_digits: int) -> int:
  """Digits one member trained on: whole batches of every epoch (the rest wait for a later shuffle)."""
  return len(history) * (train_digits // batch_size) * batch_size


def train_stage(stage: Stage, workdir: str, init_params=None, on_epoch=None) -> dict:
  """Trains (or resumes) `stage` in `workdir` for stage.cfg.epochs; returns its summary: name, epochs,
  seconds (the epochs' own, training and evaluation of every member, as `charged`), epoch_seconds (the same,
  compilation included), examples seen per member, digits per split, history, Table 1's columns per member
  with their test-digit correctness (supervised stages; else None), and `params`, the MLP layers it leaves
  (host, stacked by member)."""
  if stage.supervised:
    results = loop.run(stage.cfg, workdir, on_epoch, init_params)
    _, state, record = loop.restore(workdir)
    params = state.params
  else:
    results = unsupervised.run(stage.cfg, workdir, init_params, on_epoch)
    cfg, state, record = unsupervised.restore(workdir)
    params = unsupervised.mlp_layers(cfg, state.params)
  history = record["history"]
  digits = {split: results[f"{split}_digits"] for split in ("train", "validation", "test")
            if f"{split}_digits" in results}
  return {"stage": stage.name, "layer": stage.layer, "supervised": stage.supervised, "epochs": len(history),
          "seconds": float(sum(charged(history))), "epoch_seconds": float(sum(e["seconds"] for e in history)),
          "examples": examples(history, stage.cfg.batch_size, digits["train"]), "digits": digits,
          "history": history, "per_member": results.get("per_member"), "params": params}


def _train_with(stage: Stage, workdir: str, init_params, on_epoch, stage_cfg) -> dict:
  return train_stage(dataclasses.replace(stage, cfg=stage_cfg), workdir, init_params, on_epoch)


def run(cfg, workdir: str, on_epoch=None, fit=None) -> list[dict]:
  """Trains every stage of the method in order; returns their summaries (`train_stage`'s, without params).

  `fit(stage, train, done) -> summary` decides how long a stage trains: `train(stage_cfg)` trains (or resumes)
  it with that config's epochs, `done` holds the earlier stages' summaries. The default trains stage.cfg.epochs;
  experiments/pretraining.py fits every stage into a share of a wall-clock budget instead.
  `on_epoch(stage, entry, cfg)` is called after every epoch of every stage.
  """
  summaries, params = [], None
  for index, stage in enumerate(plan(cfg)):
    progress = functools.partial(on_epoch, stage) if on_epoch else None
    train = functools.partial(_train_with, stage, folder(workdir, index, stage), initial_params(stage, params),
                              progress)
    summary = fit(stage, train, summaries) if fit else train(stage.cfg)
    params = summary.pop("params")
    if stage.layer and stage.layer == method.layers(cfg):
      summary["first_layer"] = np.asarray(params["Dense_0"]["kernel"])  # what the greedy stages learned
    summaries.append(summary)
  return summaries


def select(history: list) -> dict:
  """The member the validation digits pick (lowest validation error at its best epoch), with Table 1's columns
  for it: its best validation epoch and error, and its test error at that epoch."""
  validation = np.asarray([e["validation_error"] for e in history])
  test = np.asarray([e["test_error"] for e in history])
  members = [report.table_columns(validation[:, m], test[:, m]) for m in range(validation.shape[1])]
  best = min(range(len(members)), key=lambda m: (members[m]["validation_error"], m))
  return {"member": best, **members[best]}
