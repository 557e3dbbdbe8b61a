"""Subset simulation: small tail probabilities P(s(z) <= b) for z ~ N(0, I_d).

Au & Beck, Prob. Eng. Mech. 16, 263 (2001), with the conditional sampling of
Papaioannou et al., Prob. Eng. Mech. 41, 89 (2015). The rare event is written as a
chain of nested, less rare ones, {s <= b_1} > {s <= b_2} > ... > {s <= b}:

    P(s <= b) = p_1 p_2 ... p_L,   p_k = P(s <= b_k | s <= b_{k-1}),

and each conditional probability, chosen ~ p0 = 0.1, is estimated from n samples. Level
0 is plain sampling; the n p0 samples with the smallest scores seed n p0 Markov chains of
length 1 / p0 that sample N(0, I) restricted to {s <= b_k}: a preconditioned
Crank-Nicolson proposal z' = rho z + sigma xi, rho = sqrt(1 - sigma^2), xi ~ N(0, I). It
leaves N(0, I) invariant, so accepting z' iff s(z') <= b_k is an exact Metropolis step for
the conditional law; sigma is adapted towards acceptance 0.44 between synchronous steps
of all chains (Papaioannou et al.). Other moves plug in through ``propose``
(:func:`jaxmf.analysis.rare.moves.lattice_moves` mixes pCN with local moves of the
lattice potentials).

For P = 1e-12 with p0 = 0.1 this needs 12 levels of n scores each instead of ~1e14 plain
samples. The estimator has a bias O(1/n) and correlated chains; its honest error comes
from independent replicas (:func:`jaxmf.analysis.rare.subset_estimate` runs several).

Nothing here knows about lattices: the score is any batched function of z.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import check_int

__all__ = [
    "SubsetRun",
    "Proposal",
    "TailProbability",
    "run",
    "pcn",
    "tail_probability",
    "ancestors",
    "TARGET_ACCEPTANCE",
]

TARGET_ACCEPTANCE = 0.44
"""Metropolis acceptance the pCN step size is adapted towards (Papaioannou et al.)."""


class SubsetRun(NamedTuple):
    """One subset-simulation run.

    Attributes:
        thresholds: (L,) level thresholds b_1 > ... > b_L (b_k: the n p0-th smallest
            score of population k - 1).
        level_probs: (L,) estimated P(s <= b_k) (p0^k unless scores tie).
        scores: (L + 1, n) scores of population k (k = 0: plain N(0, I) samples,
            k >= 1: conditional on s <= b_k).
        samples: (n, d) the last population (conditional on s <= b_L, or plain if L = 0).
        acceptance: (L,) mean Metropolis acceptance of the chains building population k.
        distinct: (L,) fraction of distinct states in population k (1: no repeats).
        n_evals: number of score evaluations.
        p0: level probability.
        parents: (L, n) genealogy: state i of population k >= 1 lies on the chain that
            started from state ``parents[k - 1, i]`` of population k - 1 (None when not
            recorded, e.g. a run read back from a file without it); see :func:`ancestors`.
    """

    thresholds: np.ndarray
    level_probs: np.ndarray
    scores: np.ndarray
    samples: np.ndarray
    acceptance: np.ndarray
    distinct: np.ndarray
    n_evals: int
    p0: float
    parents: np.ndarray | None = None


class Proposal(NamedTuple):
    """A batch of Markov proposals (what a ``propose`` callable of :func:`run` returns).

    Attributes:
        z: (m, d) proposed states.
        valid: (m,) False where the move left the support (the chain then stays).
        scaled: (m,) proposals whose acceptance adapts the step sigma (None: all).
    """

    z: np.ndarray
    valid: np.ndarray
    scaled: np.ndarray | None = None


class TailProbability(NamedTuple):
    """P(s <= b) read off a run (:func:`tail_probability`).

    Attributes:
        probability: estimates, shaped like b.
        population: the population k each estimate used (0: plain sampling).
    """

    probability: np.ndarray
    population: np.ndarray


def padded_size(m, chunk):
    """The batch size m rows are padded to: the smallest power of two >= max(m, 8),
    capped at ``chunk`` (m <= chunk). A jitted score then compiles for a few batch shapes
    only, however many proposals the Metropolis coins leave valid."""
    return min(max(8, 1 << (m - 1).bit_length()), max(chunk, m))


def _chunked(score, z, chunk):
    """score over z in batches of at most ``chunk`` rows, each padded by repeating its
    first row to :func:`padded_size`."""
    out = []
    for i in range(0, len(z), chunk):
        part = z[i : i + chunk]
        m = len(part)
        size = padded_size(m, chunk)
        if size > m:
            part = np.concatenate([part, np.repeat(part[:1], size - m, axis=0)])
        out.append(np.asarray(score(part))[:m])
    return np.concatenate(out) if out else np.zeros(0)


def pcn(z, sigma, *, key) -> Proposal:
    """Preconditioned Crank-Nicolson step for the N(0, I) prior (every proposal valid).

    Args:
        z: (m, d) current states.
        sigma: step size in (0, 1] (larger values are clipped to 1).
        key: JAX PRNG key.

    Returns:
        :class:`Proposal` with z' = sqrt(1 - sigma^2) z + sigma xi, xi ~ N(0, I).
    """
    xi = np.asarray(jax.random.normal(key, z.shape, jnp.float64))
    sigma = min(float(sigma), 1.0)
    return Proposal(np.sqrt(1.0 - sigma**2) * z + sigma * xi, np.ones(len(z), bool))


def run(
    score: Callable,
    dim: int,
    *,
    key,
    n: int,
    p0: float = 0.1,
    stop: float = -np.inf,
    max_levels: int = 14,
    sigma0: float = 0.5,
    propose: Callable = pcn,
    thin: int = 1,
    chunk: int | None = None,
    progress: Callable | None = None,
) -> SubsetRun:
    """Subset simulation of s(z), z ~ N(0, I_dim), down to the threshold ``stop``.

    (One function of ~65 lines: the level loop, the seeding, the synchronous chain
    steps and the step-size adaptation share their state; split, the algorithm of Au &
    Beck would be harder to follow.)

    Args:
        score: batched score, (m, dim) float64 array -> (m,) scores (smaller = rarer);
            +inf is allowed (never in the event), NaN is not.
        dim: dimension d of z.
        key: JAX PRNG key (the run is a deterministic function of it).
        n: samples per level; n p0 and 1 / p0 must be integers.
        p0: conditional probability per level.
        stop: levels are added until b_L <= stop (then P(s <= stop) is estimated from
            the last population) or ``max_levels`` is reached.
        max_levels: at most this many conditional levels (P >= p0^max_levels / n).
        sigma0: initial step scale, adapted towards acceptance 0.44.
        propose: (z (m, dim), sigma, *, key) -> :class:`Proposal` (or a tuple
            (z', valid[, scaled])): a proposal for which "accept every valid z'" satisfies
            detailed balance for N(0, I) (pCN; or a symmetric move of a variable mapped to a
            uniform one, invalid outside its support). The chain then accepts z' iff valid and
            s(z') <= b_k. sigma is adapted on the acceptance of the proposals marked
            ``scaled`` (default: all), so fixed-step moves mixed in do not distort it.
        thin: Markov steps between recorded states (1: every step; larger values
            decorrelate the population from its seeds at thin times the cost).
        chunk: score evaluations per call (default: all at once).
        progress: optional callable(level, threshold) called after each level.

    Returns:
        :class:`SubsetRun`.
    """
    n_seeds = int(round(n * p0))
    length = int(round(1.0 / p0))
    if not 0 < p0 < 1 or n_seeds * length != n or abs(n_seeds - n * p0) > 1e-9:
        raise ValueError(f"n * p0 and 1 / p0 must be integers with 0 < p0 < 1; got n={n}, p0={p0}")
    check_int("thin", thin, 1)
    check_int("max_levels", max_levels, 0)
    sigma = float(sigma0)
    chunk = n if chunk is None else int(chunk)
    key, k0 = jax.random.split(key)
    z = np.asarray(jax.random.normal(k0, (n, dim), jnp.float64))
    s = _chunked(score, z, chunk)
    _check_scores(s)
    n_evals = n
    thresholds, probs, scores, acc_hist, distinct, parents = [], [], [s], [], [], []
    P = 1.0
    for level in range(1, max_levels + 1):
        order = np.argsort(s, kind="stable")
        b = s[order[n_seeds - 1]]
        if b <= stop or not np.isfinite(b):
            break  # the population resolves P(s <= stop), or cannot progress
        below = np.flatnonzero(s <= b)  # >= n_seeds; more only with tied scores
        if below.size == n:
            break  # all scores tied: no progress possible
        key, ks = jax.random.split(key)
        pick = below[np.asarray(jax.random.permutation(ks, below.size))[:n_seeds]]
        P *= below.size / n
        thresholds.append(float(b))
        probs.append(P)
        cur_z, cur_s = z[pick], s[pick]
        chain_z, chain_s, acc = [cur_z], [cur_s], []
        for step in range(1, (length - 1) * thin + 1):
            key, kx = jax.random.split(key)
            out = propose(cur_z, sigma, key=kx)
            prop, valid = out[0], out[1]
            scaled = out[2] if len(out) > 2 and out[2] is not None else np.ones(n_seeds, bool)
            ps = np.full(n_seeds, np.inf)
            if valid.any():
                ps[valid] = _chunked(score, prop[valid], chunk)
                n_evals += int(valid.sum())
            _check_scores(ps)
            ok = valid & (ps <= b)
            cur_z = np.where(ok[:, None], prop, cur_z)
            cur_s = np.where(ok, ps, cur_s)
            if step % thin == 0:
                chain_z.append(cur_z)
                chain_s.append(cur_s)
            acc.append(ok.mean())
            if scaled.any():  # adapt sigma on the proposals that use it
                a = ok[scaled].mean()
                sigma = float(np.clip(sigma * np.exp(a - TARGET_ACCEPTANCE), 1e-3, 1.0))
        z = np.concatenate(chain_z)  # state t n_seeds + j lies on the chain of seed j
        s = np.concatenate(chain_s)
        parents.append(np.tile(pick, length))
        scores.append(s)
        acc_hist.append(float(np.mean(acc)) if acc else np.nan)
        distinct.append(np.unique(z, axis=0).shape[0] / n)
        if progress is not None:
            progress(level, b)
    return SubsetRun(
        np.asarray(thresholds),
        np.asarray(probs),
        np.stack(scores),
        z,
        np.asarray(acc_hist),
        np.asarray(distinct),
        n_evals,
        float(p0),
        np.asarray(parents, dtype=np.int64).reshape(len(parents), n),
    )


def ancestors(res: SubsetRun, population: int = 0, source: int | None = None) -> np.ndarray:
    """Ancestor of every state of a population (default: the last) in an earlier one.

    Subset simulation seeds each level's chains with states of the previous population,
    so the last population descends from few states of the early ones when the chains
    do not forget their seeds (genealogical collapse). Au & Beck's error (replicas.run_cov)
    sees correlations within a level, not this collapse across levels; the number of
    distinct ancestors, e.g. ``np.unique(ancestors(run)[run.scores[-1] <= b]).size``,
    shows it.

    Args:
        res: a :class:`SubsetRun` with ``parents`` recorded.
        population: the earlier population k (0: the plain N(0, I) samples), 0 <= k <= L.
        source: the population whose states are traced (default: the last, L);
            population <= source <= L.

    Returns:
        (n,) int: state i of population ``source`` descends from state ``result[i]`` of
        population k.
    """
    if res.parents is None:
        raise ValueError("res.parents is None: this run has no recorded genealogy")
    levels = len(res.parents)
    source = levels if source is None else source
    if not 0 <= source <= levels:
        raise ValueError(f"source must be in [0, {levels}] (the run's levels); got {source}")
    if not 0 <= population <= source:
        raise ValueError(f"population must be in [0, {source}] (at most source); got {population}")
    index = np.arange(res.scores.shape[1])
    for k in range(source, population, -1):
        index = res.parents[k - 1][index]
    return index


def _check_scores(s):
    if np.isnan(s).any():
        raise ValueError("score returned NaN")


def tail_probability(res: SubsetRun, b) -> TailProbability:
    """P(s <= b) estimated from a run, for any b (vectorized).

    Uses the most conditioned population k whose threshold b_k (b_0 = +inf) still
    contains the event: P = p0^k * mean(s_k <= b). Below the reach of the last
    population the estimate is 0 (bounded by p0^L / n).

    Returns:
        :class:`TailProbability` (probability, population), arrays like b.
    """
    b = np.asarray(b, float)
    th = np.concatenate([[np.inf], res.thresholds])  # b_0 .. b_L, decreasing
    # most conditioned k with b_k >= b
    k = np.sum(th[None, :] >= b.reshape(-1, 1), axis=1) - 1
    frac = np.array([np.mean(res.scores[kk] <= bb) for kk, bb in zip(k, b.ravel())])
    P = np.concatenate([[1.0], res.level_probs])[k] * frac
    return TailProbability(P.reshape(b.shape), k.reshape(b.shape))
