"""Bootstrap confidence intervals for benchmark means, shared by every built-in benchmark.

Percentile bootstrap over tasks: `resamples` resamples of the tasks with replacement, drawn by a
generator with a fixed seed (the same scores give the same interval), the 2.5th and 97.5th
percentiles of the resampled means. Several metrics of the same tasks share the resamples.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

BOOTSTRAP = 1000


def bootstrap_intervals(columns: Mapping[str, Sequence[float]], resamples: int = BOOTSTRAP,
                        seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per metric, the 95% interval of its mean; every column holds one value per task, in the
    same task order. No task: NaN bounds."""
    sizes = {len(v) for v in columns.values()}
    if len(sizes) > 1:
        raise ValueError(f"columns of different lengths {sorted(sizes)}")
    n = sizes.pop() if sizes else 0
    if n == 0:
        return {name: (math.nan, math.nan) for name in columns}
    rng = random.Random(seed)
    means: dict[str, list[float]] = {name: [] for name in columns}
    for _ in range(resamples):
        picks = rng.choices(range(n), k=n)
        for name, values in columns.items():
            means[name].append(sum(values[i] for i in picks) / n)
    lo, hi = int(0.025 * (resamples - 1)), math.ceil(0.975 * (resamples - 1))
    return {name: (sorted(m)[lo], sorted(m)[hi]) for name, m in means.items()}


def bootstrap_interval(results: Sequence[float], resamples: int = BOOTSTRAP, seed: int = 0) -> tuple[float, float]:
    """The 95% interval of the mean of `results` (NaN bounds when empty)."""
    return bootstrap_intervals({"x": results}, resamples, seed)["x"]
