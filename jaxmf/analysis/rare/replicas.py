"""Trusting a subset-simulation estimate: replicas, their claimed errors, and a check.

Each run of :func:`~jaxmf.analysis.rare.subset.run` claims a relative error of its own
(Au & Beck 2001, eq. 27-29): level k contributes

    delta_k^2 = (1 - p_k) / (n p_k) (1 + gamma_k),
    gamma_k = 2 sum_{tau=1}^{T-1} (1 - tau / T) rho_k(tau),

with rho_k the autocorrelation of the level indicator along the T = 1 / p0 recorded states
of each chain (gamma_0 = 0: plain sampling), and delta^2 = sum_k delta_k^2 (the levels'
correlation neglected, as in Au & Beck). Chains that hardly move make the recorded
states copies of their seeds; within one population that shows as rho ~ 1, but the
genealogical collapse across levels does not, and the replicas then scatter more than
each claims. :func:`replica_check` tests exactly that: chi^2 = sum_r (log f_r - mean)^2
/ delta_r^2 on M - 1 degrees of freedom; :func:`combine` pools replicas, reports the
acceptance and the fraction of distinct states of every level, and warns when a level
collapses (few distinct states).

Why subset simulation and not adaptive multilevel splitting / last-particle: here one
score costs a lattice spectrum plus a fold, batched; subset simulation moves n p0 chains
in lock step (one batched score per step) with a fixed number of levels, while
last-particle splitting kills and rebranches one particle at a time (~n log(1/f)
sequential Markov runs). Both need the same moves; their estimators have the same error
per score when the chains mix.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import scipy.stats

from .subset import SubsetRun, tail_probability

__all__ = ["COLLAPSE", "ReplicaCheck", "ReplicaEstimate", "run_cov", "replica_check", "combine"]

COLLAPSE = 0.25
"""A population with fewer distinct states than this fraction counts as collapsed (pCN at
acceptance 0.44 and thin = 1 keeps ~0.45 of its states distinct; stuck chains ~1 / T)."""

P_MIN = 0.01
"""Replicas fail the check when the chi^2 p-value of their spread is below this."""


class ReplicaCheck(NamedTuple):
    """chi^2 of the replica spread against the errors each replica claims.

    Attributes:
        chi2: sum_r (log f_r - weighted mean)^2 / delta_r^2 (inf if some f_r = 0).
        dof: M - 1.
        p_value: P(chi^2_dof >= chi2).
        passed: every f_r > 0 and p_value >= :data:`P_MIN`.
    """

    chi2: float
    dof: int
    p_value: float
    passed: bool


class ReplicaEstimate(NamedTuple):
    """Pooled replicas of one tail probability (:func:`combine`).

    Attributes:
        f: mean of the replica estimates.
        err: replica standard error std / sqrt(M).
        replicas: (M,) the estimates.
        cov: (M,) the relative error each replica claims (:func:`run_cov`).
        check: :class:`ReplicaCheck`.
        acceptance: (M, L) Metropolis acceptance per replica and level (ragged: NaN).
        distinct: (M, L) fraction of distinct states per replica and level.
        min_distinct: the smallest of them (1 if no level).
        collapsed: some level has min_distinct < :data:`COLLAPSE`.
    """

    f: float
    err: float
    replicas: np.ndarray
    cov: np.ndarray
    check: ReplicaCheck
    acceptance: np.ndarray
    distinct: np.ndarray
    min_distinct: float
    collapsed: bool


def _gamma(indicator, T):
    """Au & Beck's correlation factor of indicators recorded as (T, chains)."""
    x = indicator.reshape(T, -1).astype(float)
    p = x.mean()
    var = p * (1.0 - p)
    if var <= 0 or T < 2:
        return 0.0
    g = 0.0
    for tau in range(1, T):
        r = (np.mean(x[:-tau] * x[tau:]) - p * p) / var
        g += 2.0 * (1.0 - tau / T) * r
    return max(g, 0.0)


def run_cov(run: SubsetRun, b: float) -> float:
    """Relative error that one run claims for its estimate of P(s <= b) (Au & Beck).

    Args:
        run: a :class:`~jaxmf.analysis.rare.subset.SubsetRun`.
        b: the event threshold.

    Returns:
        delta = sqrt(sum_k delta_k^2) over the populations the estimate used (inf if the
        estimate is 0).
    """
    k_end = int(tail_probability(run, b).population)
    n = run.scores.shape[1]
    T = int(round(1.0 / run.p0))
    th = list(run.thresholds[:k_end]) + [b]
    d2 = 0.0
    for k in range(k_end + 1):
        ind = run.scores[k] <= th[k]
        p = ind.mean()
        if p <= 0:
            return float("inf")
        gamma = 0.0 if k == 0 else _gamma(ind, T)
        d2 += (1.0 - p) / (n * p) * (1.0 + gamma)
    return float(np.sqrt(d2))


def replica_check(estimates, cov) -> ReplicaCheck:
    """chi^2 test of replica estimates f_r against their claimed relative errors cov_r
    (on log f, where the relative errors are the standard deviations)."""
    f, c = np.asarray(estimates, float), np.asarray(cov, float)
    dof = f.size - 1
    if f.size < 2 or np.any(f <= 0) or not np.all(np.isfinite(c)) or np.any(c <= 0):
        return ReplicaCheck(float("inf"), max(dof, 0), 0.0, False)
    y, w = np.log(f), c**-2.0
    chi2 = float(np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2))
    p = float(scipy.stats.chi2(dof).sf(chi2))
    return ReplicaCheck(chi2, dof, p, bool(p >= P_MIN))


def combine(runs, b: float, *, warn: bool = True) -> ReplicaEstimate:
    """Pool independent runs into the estimate of P(s <= b), with the replica check, the
    per-level acceptance and distinct states, and a warning if a level collapsed.

    Args:
        runs: :class:`~jaxmf.analysis.rare.subset.SubsetRun` replicas (independent keys).
        b: the event threshold.
        warn: emit a ``RuntimeWarning`` when a level collapsed.
    """
    f = np.asarray([float(tail_probability(r, b).probability) for r in runs])
    cov = np.asarray([run_cov(r, b) for r in runs])
    L = max([len(r.acceptance) for r in runs] + [0])
    acc, dis = np.full((len(runs), L), np.nan), np.full((len(runs), L), np.nan)
    for i, r in enumerate(runs):
        acc[i, : len(r.acceptance)] = r.acceptance
        dis[i, : len(r.distinct)] = r.distinct
    min_d = float(np.nanmin(dis)) if np.isfinite(dis).any() else 1.0
    collapsed = min_d < COLLAPSE
    if collapsed and warn:
        warnings.warn(
            f"a subset-simulation level collapsed: only {min_d:.0%} distinct "
            f"states (below {COLLAPSE:.0%}); the chains do not mix at this depth",
            RuntimeWarning,
            stacklevel=2,
        )
    M = len(runs)
    err = float(f.std(ddof=1) / np.sqrt(M)) if M > 1 else float("inf")
    return ReplicaEstimate(
        float(f.mean()), err, f, cov, replica_check(f, cov), acc, dis, min_d, bool(collapsed)
    )
