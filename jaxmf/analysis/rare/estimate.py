"""f_aval(W) of random lattices by subset simulation, and by plain sampling for checks.

For an iid random potential (V_n uniform on [-W, W]) the avalanche probability f_aval
(eq. 19) stays non-zero at every W: a rare calm neighbourhood of the grain lets the
avalanche start. :func:`subset_estimate` reaches f_aval down to ~1e-13 by subset
simulation (:mod:`~jaxmf.analysis.rare.subset`) on the critical grain coupling log g0_c
(:mod:`~jaxmf.analysis.rare.critical`), with the moves of
:mod:`~jaxmf.analysis.rare.moves`; independent replicas give the error bar, and
:func:`reliable` says which estimates are trusted. :func:`plain_estimate` is plain Monte
Carlo from an independent sampler (the model's own ``couplings(W, g0, RandomKey(key))``)
for checks. Every function takes a tight-binding model (an int R: the paper's lattice).
The W-grid run and its replica files are :mod:`~jaxmf.analysis.rare.tail`.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ..._checks import check_int, check_nonnegative
from ...meanfield import avalanches, solve
from ...models import RandomKey, as_model
from ...resonance import check_dist
from . import subset
from .critical import gaussian_scorer
from .moves import proposal
from .replicas import genealogy_cov

__all__ = [
    "THIN",
    "MAX_LEVELS",
    "SubsetEstimate",
    "subset_estimate",
    "PlainEstimate",
    "plain_estimate",
    "reliable",
]

THIN = 5
"""Markov steps per recorded state: decorrelates each level from its seeds."""

MAX_LEVELS = 14
"""Default level limit of subset simulation (resolves f down to ~0.1^14 / n)."""


class SubsetEstimate(NamedTuple):
    """Subset-simulation estimate of f_aval(W, g0) = P(log g0_c < log g0), several g0.

    Attributes:
        g0: (G,) grain couplings.
        f: (G,) mean of the replica estimates.
        stderr: (G,) standard error from the replica spread, std / sqrt(M).
        replicas: (M, G) the independent estimates.
        floor: smallest probability the deepest level resolves, p0^L / n (per replica,
            min over replicas); an estimate 0 means f < floor.
        levels: (M,) conditional levels used by each replica.
        acceptance: (M,) mean Metropolis acceptance over the levels.
        distinct: (M,) smallest fraction of distinct states in a population (a chain
            that never moves repeats its seed; near 0 means the sampler is stuck).
        n_evals: score evaluations (lattice spectra + bisections), all replicas.
        unconverged: solver non-convergences met along the bisections.
        conditional_V: (M n, N) potentials of the last populations, distributed as p(V)
            conditional on log g0_c <= (last threshold) -- what an avalanche needs.
        last_threshold: (M,) the last threshold b_L of each replica (log g0 units).
        seconds: wall time.
        families: (M, G) effective number of ancestral families of each replica's
            avalanching states, 1 / :func:`~jaxmf.analysis.rare.replicas.genealogy_cov`^2
            (0 where a replica found none; NaN for replicas stored without it). Below ~3
            the errors a replica could claim for itself are not to be trusted, and the
            replicas' spread is the only error bar (docs/rare_avalanches.md).
    """

    g0: np.ndarray
    f: np.ndarray
    stderr: np.ndarray
    replicas: np.ndarray
    floor: float
    levels: np.ndarray
    acceptance: np.ndarray
    distinct: np.ndarray
    n_evals: int
    unconverged: int
    conditional_V: np.ndarray
    last_threshold: np.ndarray
    seconds: float
    families: np.ndarray | None = None


def _check_couplings(g0):
    g0 = np.atleast_1d(np.asarray(g0, float))
    if g0.size == 0:
        raise ValueError("g0 must hold at least one grain coupling > 0")
    check_nonnegative("g0", g0, strictly_positive=True, finite=True)
    return g0


def subset_estimate(
    model,
    W,
    *,
    key,
    g0=(1.0,),
    n=500,
    replicas=4,
    p0=0.1,
    max_levels=MAX_LEVELS,
    moves="lattice",
    dist="goe",
    method="auto",
    chunk=None,
    n_bisect=20,
    bracket=(-20.0, 20.0),
    thin=THIN,
    progress=False,
) -> SubsetEstimate:
    """f_aval(W, R, g0) of random lattices down to ~1e-13 by subset simulation.

    Reaction coordinate: the critical grain coupling log g0_c(V)
    (:func:`~jaxmf.analysis.rare.critical.critical_log_g0`), a continuous score that
    orders every potential by how close it is to avalanching. Subset simulation
    (:func:`~jaxmf.analysis.rare.subset.run`) in Gaussian variables z for all N sites,
    V_n = W (2 Phi(z_n) - 1), lowers the threshold on log g0_c level by level (p0 per
    level) until it passes log min(g0); every g0 in ``g0`` is read off the same run.
    Replica r uses the key ``fold_in(key, r)``; the ``replicas`` independent runs give
    the error bar (their spread; it includes the correlation of the Markov chains and
    the O(1/n) bias of each run).

    Args:
        model: a tight-binding model (an int R: the paper's lattice).
        W: disorder strength > 0.
        key: JAX PRNG key (the estimate is a deterministic function of it).
        g0: grain couplings (> 0) to report.
        n: samples per level and replica (n p0 and 1 / p0 integers).
        replicas: independent runs (>= 2 for an error bar).
        p0: conditional probability per level.
        max_levels: level limit (resolves f down to ~p0^max_levels / n).
        moves: "lattice" (:func:`~jaxmf.analysis.rare.moves.lattice_moves`, default),
            "pcn" (isotropic pCN only; it gets stuck below ~1e-7 at R = 10),
            "resonance" (lattice moves mixed 50/50 with
            :func:`~jaxmf.analysis.rare.moves.resonance_moves`), "resonance-pcn" (pCN
            mixed 50/50 with them) or "cluster" (lattice, resonance and
            :func:`~jaxmf.analysis.rare.moves.cluster_moves` in thirds).
        dist, method: ptilde family and spectral route.
        chunk: lattices per compiled batch (default n p0).
        n_bisect, bracket: resolution and range of log g0_c.
        thin: Markov steps per recorded state (cost x thin). With thin = 1 the chains
            barely leave their seeds at f < 1e-3 (R = 10) and the populations coalesce
            to a few ancestors within 3-4 levels: replicas then scatter over decades
            (docs/rare_avalanches.md).
        progress: print one line per level.

    Returns:
        :class:`SubsetEstimate`.
    """
    model = as_model(model)
    check_nonnegative("W", W, strictly_positive=True, finite=True)
    g0 = _check_couplings(g0)
    check_int("replicas", replicas, 1)
    check_dist(dist)
    propose = proposal(model, moves)
    t0 = time.time()
    parts = [
        _replica(
            model,
            W,
            jax.random.fold_in(key, r),
            g0,
            n=n,
            p0=p0,
            max_levels=max_levels,
            propose=propose,
            thin=thin,
            chunk=chunk,
            dist=dist,
            method=method,
            bracket=bracket,
            n_bisect=n_bisect,
            progress=r if progress else None,
        )
        for r in range(replicas)
    ]
    return _combine(g0, W, parts, time.time() - t0)


def _replica(
    model,
    W,
    key,
    g0,
    *,
    n,
    p0,
    max_levels,
    propose,
    thin,
    chunk,
    dist,
    method,
    bracket,
    n_bisect,
    progress,
):
    """One subset-simulation replica (key = the replica's key) as a dict of arrays:
    estimate (G,), levels, acceptance, distinct, conditional (n, N) potentials / W,
    last threshold, n_evals, unconverged, floor, seconds. ``progress``: None, or the
    replica index to print per level."""
    t0 = time.time()
    model = as_model(model)
    score_fn = gaussian_scorer(model, dist=dist, method=method, bracket=bracket, n_bisect=n_bisect)
    bad = [0]

    def score(z):
        lam, ok = score_fn(jnp.asarray(z), jnp.float64(W))
        bad[0] += int(np.sum(~np.asarray(ok)))
        return np.asarray(lam)

    cb = None  # pyright: ignore[reportAssignmentType]  (cb: None or the def below)
    if progress is not None:

        def cb(level, b):
            print(
                f"  R={model.label} W={W:g} replica {progress}: level {level}, log g0_c <= {b:.4f}",
                flush=True,
            )

    run = subset.run(
        score,
        model.N,
        key=key,
        n=n,
        p0=p0,
        stop=float(np.log(g0.min())),
        max_levels=max_levels,
        propose=propose,
        thin=thin,
        chunk=chunk or max(1, int(round(n * p0))),
        progress=cb,
    )
    # avalanche iff log g0 > log g0_c; P(log g0_c = log g0) = 0
    gcov = np.asarray([genealogy_cov(run, float(b)) for b in np.log(g0)])
    return {
        "estimate": np.asarray(subset.tail_probability(run, np.log(g0)).probability),
        "families": gcov**-2.0,
        "levels": len(run.thresholds),
        "acceptance": float(np.nanmean(run.acceptance)) if len(run.acceptance) else np.nan,
        "distinct": float(np.min(run.distinct)) if len(run.distinct) else 1.0,
        "conditional": np.asarray(
            model.potential_from_uniform(  # pyright: ignore[reportAttributeAccessIssue]
                scipy.special.ndtr(run.samples), 1.0
            )
        ),
        "last": run.thresholds[-1] if len(run.thresholds) else np.inf,
        "n_evals": int(run.n_evals),
        "unconverged": int(bad[0]),
        "floor": p0 ** len(run.thresholds) / n,
        "seconds": time.time() - t0,
    }


def _combine(g0, W, parts, seconds) -> SubsetEstimate:
    """The :class:`SubsetEstimate` of replicas given as :func:`_replica` dicts."""
    rep = np.asarray([p["estimate"] for p in parts])
    M = len(parts)
    se = rep.std(axis=0, ddof=1) / np.sqrt(M) if M > 1 else np.full(g0.size, np.inf)
    get = lambda k: np.asarray([p[k] for p in parts])  # noqa: E731
    return SubsetEstimate(
        g0,
        rep.mean(axis=0),
        se,
        rep,
        float(get("floor").min()),
        get("levels"),
        get("acceptance"),
        get("distinct"),
        int(get("n_evals").sum()),
        int(get("unconverged").sum()),
        W * np.concatenate([p["conditional"] for p in parts]),
        get("last"),
        seconds,
        np.asarray([p.get("families", np.full(g0.size, np.nan)) for p in parts]),
    )


class PlainEstimate(NamedTuple):
    """Plain Monte Carlo estimate of f_aval (:func:`plain_estimate`).

    Attributes:
        f: fraction of avalanching draws.
        stderr: binomial standard error sqrt(f (1 - f) / n) (at least 1 / n^1.5).
        hits: number of avalanching draws.
    """

    f: float
    stderr: float
    hits: int


def plain_estimate(
    model, W, *, key, g0=1.0, n=1000, dist="goe", method="auto", chunk=128
) -> PlainEstimate:
    """Plain Monte Carlo f_aval from the model's random draws (``RandomKey``).

    Independent of the subset-simulation sampler (a different sampler of the same law,
    the avalanche flag of :func:`jaxmf.meanfield.avalanches` instead of log g0_c); for
    checks.

    Args:
        model: a model with random realizations (an int R: the paper's lattice).
        W: disorder strength >= 0.
        key: JAX PRNG key (``split(key, n)`` gives the draws).
        g0: grain coupling scale >= 0.
        n: number of draws.
        dist, method: ptilde family and spectral route.
        chunk: draws per compiled batch.

    Returns:
        :class:`PlainEstimate`.
    """
    model = as_model(model)
    check_nonnegative("W", W, finite=True)
    check_int("n", n, 1)
    check_int("chunk", chunk, 1)
    check_dist(dist)
    check_nonnegative("g0", g0, finite=True)
    f = jax.jit(jax.vmap(lambda k: model.couplings(W, g0, RandomKey(k), method=method)))
    keys = jax.random.split(key, n)
    hits = 0
    for i in range(0, n, chunk):
        hits += int(np.sum(np.asarray(avalanches(solve(f(keys[i : i + chunk]), dist)))))
    p = hits / n
    return PlainEstimate(p, float(np.sqrt(max(p * (1 - p), 1.0 / n**2) / n)), hits)


def reliable(replicas, levels, max_levels=MAX_LEVELS) -> bool:
    """Whether a subset-simulation estimate is trusted: at least 3 replicas, every one
    reached the event (f > 0, none stopped at the level limit), the replica standard
    error is below half the mean and the replicas lie within a factor 30 of each other.
    Deeper in the tail the replica estimates scatter over orders of magnitude (different
    runs find different resonant configurations); such a mean is an order-of-magnitude
    indication at best, and its replica error is not a trustworthy error bar."""
    r = np.asarray(replicas, float)
    if r.size < 3 or np.any(r <= 0) or np.max(levels) >= max_levels:
        return False
    return bool(r.std(ddof=1) / np.sqrt(r.size) < 0.5 * r.mean() and r.max() < 30 * r.min())
