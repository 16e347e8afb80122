"""Committees: member states stacked on a leading member axis, vmapped, and sharded over devices.

One jitted call trains every member for an epoch. The member axis is laid on a one-dimensional device mesh
("member"), so the same code runs all members on one CPU, splits them over 8 GPUs, or over the devices of
several hosts after `jax.distributed.initialize()`. When the member count does not divide the device count,
the axis is padded with extra members that are trained but never reported, checkpointed or averaged.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from deep_simple import config
from deep_simple import hosts
from deep_simple import train


@dataclasses.dataclass(frozen=True)
class Layout:
  """How `members` real members sit on the mesh, padded to `padded` slots; slot s holds committee member
  `first + s` (a member run's layout starts at its member)."""

  members: int
  padded: int
  mesh: jax.sharding.Mesh
  first: int = 0

  @property
  def by_member(self) -> NamedSharding:
    return NamedSharding(self.mesh, P("member"))

  @property
  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())


def layout(members: int, devices=None, first: int = 0) -> Layout:
  devices = jax.devices() if devices is None else devices
  # Fewer members than devices leave devices idle, but never a whole process: every process must hold a
  # slot of the mesh to take part in the computation, so several processes use every device.
  used = min(len(devices), members) if jax.process_count() == 1 else len(devices)
  mesh = jax.sharding.Mesh(np.asarray(devices[:used]), ("member",))
  return Layout(members, math.ceil(members / used) * used, mesh, first)


def run_layout(cfg, devices=None) -> Layout:
  """The layout of the members a run of `cfg` trains: the whole committee, or a member run's one member."""
  members = config.trained_members(cfg)
  return layout(len(members), devices, members[0])


def member_values(cfg, field: str, default, count: int, first: int = 0) -> list:
  """`cfg.committee.<field>` of `count` slots from member `first` on, as the config holds them: empty means
  `default` for all, else one per member."""
  values = tuple(cfg.committee[field]) or (default,)
  # Padding slots repeat the real members' settings; their results are discarded.
  return [values[(first + slot) % len(values)] for slot in range(count)]


def member_key(seed: int, member, *path):
  """Key of member m at `path`: fold_in(fold_in(seed, m), *path). Depends on no layout, so a member's
  initialisation and distortion stream are the same on one device or many, and after a resume."""
  key = jax.random.fold_in(jax.random.key(seed), member)
  for p in path:
    key = jax.random.fold_in(key, p)
  return key


def member_ids(lay: Layout):
  """Committee index of every slot: the key of its member (a padding slot's own)."""
  return jax.jit(lambda: lay.first + jnp.arange(lay.padded), out_shardings=lay.by_member)()


def init_members(cfg, lay: Layout, steps_per_epoch: int, create=train.create_state):
  """Stacked fresh states for all slots, laid out by member; `create` has `train.create_state`'s signature."""
  values = {field: np.asarray(member_values(cfg, field, cfg[field], lay.padded, lay.first), np.float32)
            for field in ("lr0", "lr_decay", "momentum")}

  def init(member, values):
    return create(member_key(cfg.seed, member, 0), cfg, steps_per_epoch, **values)

  return jax.jit(jax.vmap(init), out_shardings=lay.by_member)(member_ids(lay), values)


def host_template(cfg, lay: Layout, create=train.create_state):
  """Numpy zeros shaped like the real members' state, for a checkpoint to be restored into; nothing is
  compiled (the initialisation is only traced)."""
  shapes = jax.eval_shape(lambda: init_members(cfg, lay, 1, create))
  return real_members(jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes), lay)


def real_members(tree, lay: Layout):
  return jax.tree.map(lambda x: x[:lay.members], tree)


def start_from(state_M, params: dict, lay: Layout):
  """`state_M` whose real members start from host `params` (stacked by member) under the top-level names
  it holds, e.g. the layers a previous training stage left; the other parameters keep their fresh values."""
  host = hosts.to_host(state_M)
  merged = dict(host.params)
  shapes = lambda tree: jax.tree.map(np.shape, tree)
  for name, given in params.items():
    if name not in merged:
      raise ValueError(f"initial parameters name {name!r}, which the model lacks ({', '.join(merged)})")
    fresh = jax.tree.map(lambda f: f[:lay.members], merged[name])
    if shapes(given) != shapes(fresh):
      raise ValueError(f"initial parameters {name!r} have shapes {shapes(given)}; the model's are {shapes(fresh)}")
    merged[name] = jax.tree.map(lambda g, f: np.concatenate([g, f[lay.members:]]).astype(f.dtype), given,
                                merged[name])
  ema = merged if host.ema is not None else None
  return hosts.place(host.replace(params=merged, ema=ema), lay.by_member)


def pad_members(restored, fresh_host, lay: Layout):
  """Restored arrays of the real members + the padding slots of a fresh host state -> laid-out state."""
  full = jax.tree.map(lambda r, f: np.concatenate([r, f[lay.members:]]), restored, train.arrays(fresh_host))
  return hosts.place(train.with_arrays(fresh_host, full), lay.by_member)


def epoch_fn(cfg, lay: Layout, per_member_images: bool, step=None):
  """Jitted epoch of all members: (state_M, images, labels_N, member_ids_M, epoch) -> (state_M, metrics_M...).

  `step` replaces the supervised train step (see `train.make_train_epoch`)."""
  axis = 0 if per_member_images else None
  images_sharding = lay.by_member if per_member_images else lay.replicated

  train_epoch = train.make_train_epoch(cfg, step)

  def epoch(state_M, images, labels_N, members_M, epoch):
    def one(state, images, member):
      return train_epoch(state, images, labels_N, member_key(cfg.seed, member, 1, epoch))
    if lay.padded == 1:
      # A vmap over one member makes XLA transpose and copy every weight gradient at each step (+30% per
      # B=32 epoch on CPU); a single net runs unbatched instead.
      first = lambda tree: jax.tree.map(lambda x: x[0], tree)
      out = one(first(state_M), images[0] if per_member_images else images, members_M[0])
      return jax.tree.map(lambda x: x[None], out)
    return jax.vmap(one, in_axes=(0, axis, 0))(state_M, images, members_M)

  return jax.jit(epoch, in_shardings=(lay.by_member, images_sharding, lay.replicated, lay.by_member,
                                      lay.replicated),
                 out_shardings=lay.by_member, donate_argnums=0)


def predict_fn(cfg, lay: Layout, per_member_images: bool):
  """Jitted softmax outputs of every member: probs_MxNxK."""
  axis = 0 if per_member_images else None
  images_sharding = lay.by_member if per_member_images else lay.replicated
  predict = train.make_predict(cfg)
  if lay.mesh.size == 1:
    # One device evaluates its members one after another: vmapped, a convolution becomes a grouped one,
    # several times slower on CPU, and evaluation batches keep a device busy without a member axis.
    if per_member_images:
      fn = lambda params_M, images_M: jax.lax.map(lambda xs: predict(*xs), (params_M, images_M))
    else:
      fn = lambda params_M, images: jax.lax.map(lambda params: predict(params, images), params_M)
  else:
    fn = jax.vmap(predict, in_axes=(0, axis))
  return jax.jit(fn, in_shardings=(lay.by_member, images_sharding), out_shardings=lay.by_member)


def committee_scores(probs_MxNxK: np.ndarray, rule: str = "mean") -> np.ndarray:
  """Committee scores_NxK: mean of the members' softmax outputs (the papers' rule) or vote counts.

  The prediction is the arg-max; the second-highest score gives the committee's second guess.
  """
  if rule == "mean":
    return probs_MxNxK.mean(axis=0)
  if rule == "vote":
    # Ties go to the class the members' mean output prefers.
    votes_NxK = (probs_MxNxK.argmax(-1)[..., None] == np.arange(probs_MxNxK.shape[-1])).sum(axis=0)
    return votes_NxK + probs_MxNxK.mean(axis=0)
  raise ValueError(f"config.committee.rule must be one of {', '.join(config.RULES)}; got {rule!r}")


def one_per_input(by_width: dict) -> list:
  """The committees of one member per input, from `by_width` ({input width: member indices}): the k-th member
  of each input, for every k that all inputs have; none when the members share one input."""
  if len(by_width) < 2:
    return []
  groups = [by_width[w] for w in sorted(by_width, key=str)]
  return [[g[k] for g in groups] for k in range(min(map(len, groups)))]
