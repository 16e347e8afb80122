"""deep_simple.stats against scipy's binomial test and hand-computed cases."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from deep_simple import stats


@pytest.mark.parametrize("errors, n", [(0, 10_000), (51, 10_000), (140, 10_000), (3, 20), (20, 20)])
def test_wilson_interval_matches_scipy(errors, n):
  expected = scipy_stats.binomtest(errors, n).proportion_ci(method="wilson")
  np.testing.assert_allclose(stats.wilson_interval(errors, n), (expected.low, expected.high), atol=1e-12)


def test_wilson_interval_rejects_impossible_counts():
  with pytest.raises(ValueError, match="errors in"):
    stats.wilson_interval(11, 10)


def test_format_error_prints_the_rate_and_its_interval_in_percent():
  assert stats.format_error(0.0051, 10_000) == "0.51 % [0.39, 0.67]"
  assert stats.format_error(0.0, 10_000) == "0.00 % [0.00, 0.04]"


def test_mean_std_is_the_sample_standard_deviation():
  assert stats.mean_std([0.01, 0.02, 0.03]) == pytest.approx((0.02, 0.01))
  assert stats.mean_std([0.0142]) == (0.0142, 0.0)
  assert stats.format_mean_std([0.014, 0.015, 0.016]) == "1.50 ± 0.10 % (3 seeds)"


def test_mcnemar_counts_discordant_digits_and_matches_scipy():
  rng = np.random.default_rng(0)
  a = rng.random(10_000) > 0.013
  b = a.copy()
  b[rng.choice(10_000, 40, replace=False)] ^= True
  result = stats.mcnemar(a, b)
  assert result["a_only"] == int((a & ~b).sum()) and result["b_only"] == int((b & ~a).sum())
  n = result["a_only"] + result["b_only"]
  assert result["p_value"] == pytest.approx(scipy_stats.binomtest(result["a_only"], n).pvalue, rel=1e-12)


def test_mcnemar_by_hand():
  # A alone right on 2 digits, B alone on 4: P(X <= 2) + P(X >= 4) for X ~ Binomial(6, 1/2) = 2 * 22 / 64.
  a = np.array([1, 0, 0, 0, 0, 1, 1], bool)
  b = np.array([0, 1, 1, 1, 1, 1, 0], bool)
  assert stats.mcnemar(a, b) == {"a_only": 2, "b_only": 4, "p_value": pytest.approx(2 * 22 / 64)}
  assert stats.mcnemar(a, a)["p_value"] == 1.0


def test_mcnemar_pooled_sums_the_pairs_discordant_digits():
  a = np.array([1, 0, 0, 0, 0, 1, 1], bool)
  b = np.array([0, 1, 1, 1, 1, 1, 0], bool)
  # Two pairs of 2 against 4: 4 against 8 of 12, P(X <= 4) + P(X >= 8) for X ~ Binomial(12, 1/2).
  pooled = stats.mcnemar_pooled([(a, b), (a, b)])
  assert (pooled["a_only"], pooled["b_only"]) == (4, 8)
  assert pooled["p_value"] == pytest.approx(scipy_stats.binomtest(4, 12).pvalue, rel=1e-12)
  assert pooled["p_value"] < stats.mcnemar(a, b)["p_value"]  # the same direction twice is stronger evidence
  assert stats.mcnemar_pooled([(a, b), (b, a)])["p_value"] == 1.0  # opposite directions cancel
  with pytest.raises(ValueError, match="at least one pair"):
    stats.mcnemar_pooled([])


def test_pack_correct_round_trips_a_bit_per_digit():
  assert len(stats.pack_correct(np.ones(10_000, bool))) == 1_668
  correct = np.random.default_rng(1).random(10_001) > 0.01  # not a whole number of bytes
  np.testing.assert_array_equal(stats.unpack_correct(stats.pack_correct(correct), 10_001), correct)
