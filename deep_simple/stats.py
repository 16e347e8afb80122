"""How sure a test error is: intervals on n test digits, spread over seeds, paired tests of two models.

At ~1 % error on 10,000 test digits one figure's standard error is ~0.1 %, so two runs' figures may differ
by tens of digits by chance. Every table prints its errors with `format_error`; `mcnemar` says whether two
models that classified the same test digits differ, from their per-digit correctness (`pack_correct`, a bit
per digit, is how runs store it), and `mcnemar_pooled` whether two methods differ over several seeds' pairs.
"""

import base64
import math
import statistics

import numpy as np

_Z95 = statistics.NormalDist().inv_cdf(0.975)


def wilson_interval(errors: int, n: int, z: float = _Z95) -> tuple[float, float]:
  """Wilson's score interval for an error rate of `errors` in `n` digits (95 % by default); unlike the
  normal approximation it stays inside [0, 1] and is sound for the few errors of a good net."""
  if n <= 0 or not 0 <= errors <= n:
    raise ValueError(f"need 0 <= errors <= n and n > 0; got {errors} errors in {n}")
  p, z2 = errors / n, z * z
  centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
  return max(0.0, centre - half), min(1.0, centre + half)


def format_error(error: float, n: int) -> str:
  """An error rate on `n` test digits with its 95 % interval, in percent: '0.51 % [0.39, 0.67]'."""
  low, high = wilson_interval(round(error * n), n)
  return f"{100 * error:.2f} % [{100 * low:.2f}, {100 * high:.2f}]"


def mean_std(values) -> tuple[float, float]:
  """Mean and sample standard deviation (n - 1; 0 for one value) of per-seed figures."""
  values = np.asarray(values, dtype=float)
  return float(values.mean()), float(values.std(ddof=1)) if values.size > 1 else 0.0


def format_mean_std(values) -> str:
  """Per-seed error rates as '1.42 ± 0.08 % (3 seeds)'."""
  mean, std = mean_std(values)
  return f"{100 * mean:.2f} ± {100 * std:.2f} % ({len(values)} seed{'s' * (len(values) != 1)})"


def mcnemar(correct_a, correct_b) -> dict:
  """Exact McNemar test of two models on the same test digits, from their per-digit correctness.

  Only discordant digits count: `a_only` right by A alone, `b_only` by B alone. Under the null hypothesis
  (equal error rates) each is a fair coin flip, so the two-sided p-value is the binomial tail of the rarer.
  """
  a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f"need two equal 1-d correctness vectors; got shapes {a.shape} and {b.shape}")
  return _exact(int((a & ~b).sum()), int((b & ~a).sum()))


def mcnemar_pooled(pairs) -> dict:
  """The exact McNemar test over several independent pairs of models (e.g. method A against method B, one
  pair per seed), each pair on the same test digits: the pairs' discordant digits pooled. Under the null
  hypothesis every discordant digit of every pair is a fair coin flip, so the sums are one binomial test."""
  tests = [mcnemar(a, b) for a, b in pairs]
  if not tests:
    raise ValueError("need at least one pair of correctness vectors")
  return _exact(sum(t["a_only"] for t in tests), sum(t["b_only"] for t in tests))


def _exact(a_only: int, b_only: int) -> dict:
  """Two-sided exact binomial test of `a_only` against `b_only` discordant digits (p = 1/2)."""
  n = a_only + b_only
  tail = sum(math.comb(n, k) for k in range(min(a_only, b_only) + 1))
  return {"a_only": a_only, "b_only": b_only, "p_value": min(1.0, 2 * tail / 2**n)}


def pack_correct(correct_N) -> str:
  """Per-digit correctness as base64 of its packed bits (1,668 characters for 10,000 digits)."""
  return base64.b64encode(np.packbits(np.asarray(correct_N, bool)).tobytes()).decode("ascii")


def unpack_correct(packed: str, n: int) -> np.ndarray:
  """`pack_correct`'s inverse: the first `n` bits as a bool vector."""
  bits = np.unpackbits(np.frombuffer(base64.b64decode(packed), np.uint8))
  return bits[:n].astype(bool)
