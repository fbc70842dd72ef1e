"""Statistics over seeds and samples, the one form every study reports them in.

A per-seed number becomes ``{mean, std, n_seeds, per_seed}`` (:func:`seed_stat`);
a per-image quantity over seeds also gets pooled quantiles (:func:`dist_stat`).
Non-finite values are dropped, never averaged in."""

from __future__ import annotations

import numpy as np


def finite_mean(a, axis=None):
    """Mean over finite values; NaN where there are none (no empty-slice warning)."""
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cnt = np.sum(np.isfinite(a), axis=axis)
        tot = np.nansum(a, axis=axis)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def finite_values(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def mean_finite(a) -> float:
    """Mean of the finite values; NaN (no warning) when there are none."""
    f = finite_values(a)
    return float(f.mean()) if f.size else float("nan")


def seed_stat(per_seed: list) -> dict:
    """Mean and sd over seeds of per-seed numbers (NaN/inf dropped), with the values."""
    v = np.asarray(per_seed, dtype=np.float64)
    fin = v[np.isfinite(v)]
    return {
        "mean": float(fin.mean()) if fin.size else None,
        "std": float(fin.std(ddof=1)) if fin.size > 1 else (0.0 if fin.size else None),
        "n_seeds": int(fin.size),
        "per_seed": [float(x) if np.isfinite(x) else None for x in v],
    }


def dist_stat(per_seed_values: list) -> dict:
    """A per-image quantity over seeds: mean/sd over seeds of the per-seed image means,
    plus pooled image quantiles (the distribution, not only its mean)."""
    means = [mean_finite(a) for a in per_seed_values]
    out = seed_stat(means)
    pooled = np.concatenate([finite_values(a) for a in per_seed_values]) if per_seed_values else []
    pooled = np.asarray(pooled)
    q = np.quantile(pooled, [0.1, 0.25, 0.5, 0.75, 0.9]) if pooled.size else [None] * 5
    out.update(
        {
            "n_images": int(pooled.size),
            **{
                name: (float(x) if x is not None else None)
                for name, x in zip(("q10", "q25", "median", "q75", "q90"), q, strict=True)
            },
        }
    )
    return out


def binomial_ci(k: int, n: int, confidence: float = 0.95) -> list[float | None]:
    """Wilson score interval of a proportion k/n (scipy.stats.binomtest); [None, None]
    for n = 0."""
    from scipy import stats

    if n == 0:
        return [None, None]
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
    return [float(ci.low), float(ci.high)]


def rate_stat(flags_per_seed: list, batch_per_seed: list) -> dict:
    """A 0/1 outcome per point, over seeds and batches: :func:`seed_stat` of the per-seed
    rates, plus ``per_batch`` (per seed, the rate of each batch) with ``per_batch_ci``
    (their Wilson 95% intervals) and ``pooled`` (k, n, rate and Wilson interval over every
    point of every seed)."""
    per_seed, per_batch, per_batch_ci = [], [], []
    k_all = n_all = 0
    for flags, batch in zip(flags_per_seed, batch_per_seed, strict=True):
        f = np.asarray(flags, dtype=bool).ravel()
        b = np.asarray(batch).ravel()
        rates, cis = [], []
        for v in np.unique(b):
            fb = f[b == v]
            rates.append(float(fb.mean()))
            cis.append(binomial_ci(int(fb.sum()), fb.size))
        per_seed.append(float(f.mean()) if f.size else np.nan)
        per_batch.append(rates)
        per_batch_ci.append(cis)
        k_all += int(f.sum())
        n_all += f.size
    return {
        **seed_stat(per_seed),
        "per_batch": per_batch,
        "per_batch_ci": per_batch_ci,
        "pooled": {
            "k": k_all,
            "n": n_all,
            "rate": k_all / n_all if n_all else None,
            "ci": binomial_ci(k_all, n_all),
        },
    }
