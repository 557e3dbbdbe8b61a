"""How far a sample of eigenstate entropies is from the theory's p_S(S | g) (A12).

S(g_a) is increasing in the resonance strength g_a, so the CDF of S is F(g_a(S) / g),
F the ptilde CDF (A3). Every entropy of a sample is mapped to u = F(g_a(S) / g), which
is uniform on [0, 1] if the sample follows the theory, and

    KS = sup |ECDF(u) - u|,   TV = (1/2) sum_k |n_k / n - 1/K|

(TV on K bins that are equally probable under the theory). g is either given or
fitted to the sample mean, [S](g) = mean (A13). Errors come from a bootstrap over
realizations (rows): eigenstates of one realization are correlated, realizations are
independent. Entropies are in nats.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import LOG2, check_int
from ..enhancement import inverse_entropy, mean_entropy_of_log_g
from ..resonance import check_dist, entropy, family
from ._keys import as_key, numpy_rng

__all__ = [
    "EntropyDistance",
    "fit_coupling",
    "entropy_cdf",
    "sample_entropies",
    "ks_tv",
    "distribution_distance",
]


class EntropyDistance(NamedTuple):
    """KS and TV distances of a sample from p_S(S | g), with bootstrap errors.

    Attributes:
        dist: ptilde family.
        g: reduced coupling of the theory (fitted to the sample mean if g_fitted).
        g_fitted: whether g was fitted ([S](g) = mean, refitted in every replicate).
        mean: sample mean entropy (nats).
        ks, tv: point values.
        ks_err, tv_err: bootstrap standard deviations (NaN without replicates or for
            one realization).
        ks_boot, tv_boot: (n_boot,) bootstrap replicates.
        n_boot, n_bins: bootstrap replicates and TV bins used.
        n_samples, n_per_sample: realizations (rows) and entropies per realization.
    """

    dist: str
    g: float
    g_fitted: bool
    mean: float
    ks: float
    tv: float
    ks_err: float
    tv_err: float
    ks_boot: np.ndarray
    tv_boot: np.ndarray
    n_boot: int
    n_bins: int
    n_samples: int
    n_per_sample: int


# --------------------------------------------------------------- [S](g) = target
@functools.partial(jax.jit, static_argnums=(1,))
def _solve_log_g(target, dist):
    """log g with [S](g) = target > 0: bisection on the [S] table, then Newton."""
    S = lambda l: mean_entropy_of_log_g(l, dist)  # noqa: E731
    lo = jnp.log(target) - 20.0  # [S](g) <= c g with c < e^20 (A13 at small g)
    hi = jnp.full_like(target, 30.0)  # [S] = log 2 to rounding beyond the table

    def bisect(_, b):
        lo, hi = b
        mid = 0.5 * (lo + hi)
        below = S(mid)[0] < target
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 45, bisect, (lo, hi))

    def newton(_, l):
        val, slope = S(l)
        step = jnp.where(slope > 0, (val - target) / jnp.where(slope > 0, slope, 1.0), 0.0)
        return jnp.clip(l - step, lo, hi)

    return jax.lax.fori_loop(0, 3, newton, 0.5 * (lo + hi))


def fit_coupling(mean_S, dist: str = "goe"):
    """Invert the mean entropy: g with [S](g) = mean_S (A13); vectorized.

    [S](g) increases from 0 to log 2, so the root is unique. It is found on the table
    :func:`jaxmf.enhancement.mean_entropy_of_log_g` (bisection in log g, then three
    Newton steps): [S](g) matches mean_S to the table's ~1e-10 relative accuracy. The
    error in g is that divided by d log[S] / d log g, so it grows where [S] saturates
    (about 1e-5 relative at g = 100, where log 2 - [S] ~ 1e-6).

    Args:
        mean_S: target mean entropies (nats) in [0, log 2), any shape.
        dist: ptilde family.

    Returns:
        numpy array of g, same shape (0 where mean_S = 0).
    """
    check_dist(dist)
    target = np.asarray(mean_S, dtype=float)
    if np.isnan(target).any() or (target < 0).any() or (target >= LOG2).any():
        raise ValueError(f"mean_S must lie in [0, log 2); got {mean_S!r}")
    pos = target > 0
    l = np.asarray(_solve_log_g(jnp.asarray(np.where(pos, target, 0.1)), dist))
    return np.where(pos, np.exp(l), 0.0)


# ------------------------------------------------------------------ CDF and samples
_inverse_entropy_jit = jax.jit(inverse_entropy)


def _resonance_strength(S):
    """numpy g_a(S), the resonance strength whose entropy is S (inverse of A5)."""
    return np.asarray(_inverse_entropy_jit(jnp.asarray(S, jnp.float64)))


@functools.partial(jax.jit, static_argnums=1)
def _cdf_jit(x, dist):
    return family(dist).cdf(x)


@functools.partial(jax.jit, static_argnums=2)
def _sample_jit(u, g, dist):
    return entropy(g * family(dist).quantile(u))


def _family_cdf(ga, g, dist):
    x = np.asarray(ga, float) / np.asarray(g, float)
    F = np.asarray(_cdf_jit(jnp.asarray(np.where(np.isfinite(x), x, 1.0)), dist))
    return np.where(np.isinf(x), 1.0, F)


def entropy_cdf(S, g, dist: str = "goe"):
    """CDF of the eigenstate entropy, P(S_a <= S | g) = F(g_a(S) / g) (A3, A12).

    Args:
        S: entropies (nats), any shape.
        g: reduced coupling(s) > 0, broadcastable against S.
        dist: ptilde family.

    Returns:
        numpy array in [0, 1], broadcast shape.
    """
    check_dist(dist)
    ga = _resonance_strength(np.clip(S, 0.0, LOG2))
    return _family_cdf(ga, g, dist)


def sample_entropies(g, shape, dist: str = "goe", *, key):
    """Eigenstate entropies drawn from p_S(S | g): S = S(g x), x = ptilde quantile(u).

    Args:
        g: reduced coupling > 0.
        shape: output shape, e.g. (n_samples, M).
        dist: ptilde family.
        key: JAX PRNG key, keyword-only (an int seed is converted with
            ``jax.random.key``).

    Returns:
        numpy array of entropies (nats).
    """
    check_dist(dist)
    u = jax.random.uniform(as_key(key), tuple(shape), dtype=jnp.float64)
    return np.asarray(_sample_jit(u, jnp.asarray(g, jnp.float64), dist))


# --------------------------------------------------------------------- distances
def ks_tv(u_sorted, weights, n_bins: int):
    """KS and binned TV of weighted samples u (sorted along the last axis) vs uniform.

    Args:
        u_sorted: (B, n) values in [0, 1], sorted along the last axis.
        weights: (B, n) nonnegative weights (bootstrap multiplicities).
        n_bins: K equiprobable bins for TV.

    Returns:
        ks, tv: (B,) each.
    """
    u_sorted = np.asarray(u_sorted, float)
    w = np.asarray(weights, float)
    w = w / w.sum(axis=-1, keepdims=True)
    cw = np.cumsum(w, axis=-1)
    ks = np.maximum(np.max(cw - u_sorted, axis=-1), np.max(u_sorted - (cw - w), axis=-1))
    k = np.clip((u_sorted * n_bins).astype(int), 0, n_bins - 1)
    counts = np.zeros(u_sorted.shape[:-1] + (n_bins,))
    np.add.at(counts, (np.arange(len(k))[:, None], k), w)
    tv = 0.5 * np.sum(np.abs(counts - 1.0 / n_bins), axis=-1)
    return ks, tv


def distribution_distance(
    entropies, dist: str = "goe", g=None, *, key, n_boot: int = 200, n_bins: int = 20
) -> EntropyDistance:
    """Distances between ED eigenstate entropies and p_S(S | g) (A12), with errors.

    Args:
        entropies: (n_samples, M) entropies (nats), one row per realization.
        dist: ptilde family.
        g: reduced coupling of the theory; None fits it to the sample mean
            ([S](g) = mean, refitted in every bootstrap replicate).
        key: JAX PRNG key of the bootstrap, keyword-only (an int seed is converted
            with ``jax.random.key``).
        n_boot: bootstrap replicates over realizations (rows).
        n_bins: equiprobable bins for TV.

    Returns:
        :class:`EntropyDistance`.
    """
    check_dist(dist)
    check_int("n_boot", n_boot, 0)
    check_int("n_bins", n_bins, 1)
    S = np.asarray(entropies, float)
    if S.ndim != 2:
        raise ValueError(f"entropies must have shape (n_samples, M); got {S.shape}")
    n, M = S.shape
    rng = numpy_rng(key)
    counts = np.ones((1, n))
    if n_boot > 0:
        idx = rng.integers(0, n, size=(n_boot, n))
        boot = np.stack([np.bincount(r, minlength=n) for r in idx]).astype(float)
        counts = np.concatenate([counts, boot])
    means = counts @ S.mean(axis=1) / n  # (1 + B,)
    fitted = g is None
    gs = fit_coupling(means, dist) if fitted else np.full(len(means), float(g))
    ga = _resonance_strength(S.ravel())
    order = np.argsort(ga, kind="stable")
    w = np.repeat(counts, M, axis=1)[:, order]
    u = _family_cdf(ga[order][None, :], gs[:, None], dist)
    ks, tv = ks_tv(u, w, n_bins)

    def sd(a):  # one realization: resampling rows cannot measure its error
        return float(np.std(a, ddof=1)) if len(a) > 1 and n > 1 else float("nan")

    return EntropyDistance(
        dist=dist,
        g=float(gs[0]),
        g_fitted=fitted,
        mean=float(means[0]),
        ks=float(ks[0]),
        tv=float(tv[0]),
        ks_err=sd(ks[1:]),
        tv_err=sd(tv[1:]),
        ks_boot=ks[1:],
        tv_boot=tv[1:],
        n_boot=n_boot,
        n_bins=n_bins,
        n_samples=n,
        n_per_sample=M,
    )
