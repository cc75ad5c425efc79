"""The statistics of a campaign report: two-proportion tests, bootstrap intervals and
the sample size an experiment still needs.

Intervals are at ``confidence`` corrected for the number of arms compared with control
(Bonferroni): with two treatment arms a 95% report uses 97.5% intervals per arm, so the
chance that *any* arm is called a winner by luck stays at 5%.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm


@dataclass(frozen=True)
class Difference:
    """``value`` = treatment - control, with its interval and a two-sided p-value."""

    value: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


def z_for(confidence: float, comparisons: int = 1) -> float:
    """The two-sided normal quantile for ``confidence`` over ``comparisons`` tests."""
    alpha = (1 - confidence) / max(1, comparisons)
    return float(norm.ppf(1 - alpha / 2))


def two_proportions(
    successes: int,
    trials: int,
    control_successes: int,
    control_trials: int,
    confidence: float,
    comparisons: int = 1,
) -> Difference:
    """Difference of two rates: Wald interval (unpooled), pooled z-test p-value."""
    if trials == 0 or control_trials == 0:
        return Difference(math.nan, math.nan, math.nan, math.nan)
    p1, p0 = successes / trials, control_successes / control_trials
    diff = p1 - p0
    se = math.sqrt(p1 * (1 - p1) / trials + p0 * (1 - p0) / control_trials)
    z = z_for(confidence, comparisons)
    pooled = (successes + control_successes) / (trials + control_trials)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / trials + 1 / control_trials))
    p_value = float(2 * norm.sf(abs(diff) / se_pooled)) if se_pooled > 0 else 1.0
    return Difference(diff, diff - z * se, diff + z * se, min(1.0, p_value * max(1, comparisons)))


def bootstrap_mean_difference(
    values: np.ndarray,
    control: np.ndarray,
    confidence: float,
    comparisons: int = 1,
    samples: int = 2000,
    seed: int = 0,
) -> Difference:
    """Difference of two means (revenue per user) with a percentile bootstrap interval;
    the p-value is the two-sided share of resampled differences beyond zero."""
    if len(values) == 0 or len(control) == 0:
        return Difference(math.nan, math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    diffs = np.concatenate(
        [
            _resampled_means(rng, values, n) - _resampled_means(rng, control, n)
            for n in _chunks(samples, len(values))
        ]
    )
    alpha = (1 - confidence) / max(1, comparisons)
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    p_value = min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()) * max(1, comparisons))
    return Difference(float(values.mean() - control.mean()), float(low), float(high), float(p_value))


def sample_size_per_arm(
    base_rate: float, relative_uplift: float, confidence: float, power: float, comparisons: int = 1
) -> int:
    """Users per arm to detect ``base_rate * (1 + relative_uplift)`` against
    ``base_rate`` with ``power`` (two-sided test at the corrected level)."""
    p0 = min(max(base_rate, 1e-4), 1 - 1e-4)
    p1 = min(p0 * (1 + relative_uplift), 1 - 1e-4)
    if p1 <= p0:
        return 0
    z_a, z_b = z_for(confidence, comparisons), float(norm.ppf(power))
    mean = (p0 + p1) / 2
    top = z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))
    return math.ceil(top**2 / (p1 - p0) ** 2)


def _chunks(samples: int, size: int, cells: int = 4_000_000) -> list[int]:
    """Resamples per step so that one step holds at most ``cells`` values."""
    step = max(1, cells // max(size, 1))
    return [min(step, samples - start) for start in range(0, samples, step)]


def _resampled_means(rng: np.random.Generator, values: np.ndarray, count: int) -> np.ndarray:
    return rng.choice(values, size=(count, len(values))).mean(axis=1)
