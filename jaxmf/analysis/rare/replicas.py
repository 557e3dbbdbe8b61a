"""Trusting a subset-simulation estimate: replicas, their claimed errors, and a check.

Each run of :func:`~jaxmf.analysis.rare.subset.run` claims a relative error of its own
(Au & Beck 2001, eq. 27-29): level k contributes

    delta_k^2 = (1 - p_k) / (n p_k) (1 + gamma_k),
    gamma_k = 2 sum_{tau=1}^{T-1} (1 - tau / T) rho_k(tau),

with rho_k the autocorrelation of the level indicator along the T = 1 / p0 recorded states
of each chain (gamma_0 = 0: plain sampling), and delta^2 = sum_k delta_k^2 (the levels'
correlation neglected, as in Au & Beck). :func:`genealogy_cov` claims an error from the
ancestry instead (pairs of event states with distinct population-0 ancestors), which
sees the levels' correlation; both are reported. Chains that hardly move make the recorded
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

from .subset import SubsetRun, ancestors, tail_probability

__all__ = [
    "COLLAPSE",
    "ReplicaCheck",
    "ReplicaEstimate",
    "run_cov",
    "genealogy_cov",
    "replica_check",
    "combine",
]

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
        families: (M,) effective number of population-0 families of each replica's event
            states, 1 / :func:`genealogy_cov` ^ 2 (NaN without a recorded genealogy).
        genealogy: :class:`ReplicaCheck` against the genealogy's claimed errors (None
            unless every replica recorded its genealogy).
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
    families: np.ndarray
    genealogy: ReplicaCheck | None


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


def genealogy_cov(run: SubsetRun, b: float) -> float:
    """Relative error of P(s <= b) claimed from the run's genealogy: the inverse square
    root of the effective number of families of its event states.

    Let the estimate use population k, with m event states (s <= b), c_e of which descend
    from state e of population 0 (:func:`~jaxmf.analysis.rare.subset.ancestors`). Two
    event states of different ancestors are nearly independent draws, so the square of
    the estimate restricted to such pairs, f^2 D / m^2 with D = m^2 - sum_e c_e^2 the
    ordered pairs of distinct ancestry, estimates f^2 while f^2 itself estimates f^2 +
    Var f (the particle-filter estimator of Lee & Whiteley, Biometrika 105, 609 (2018),
    whose factor (n / (n - 1))^(L + 1) corrects multinomial resampling; subset
    simulation seeds deterministically and the factor is taken as 1). Hence

        delta^2 = 1 - D / m^2 = sum_e c_e^2 / m^2 = 1 / F,

    F the inverse Simpson index of the families. Limits: plain sampling (k = 0) gives
    1 / m, the binomial error without its (1 - p); chains that never move copy their
    seeds (with equal copies: 1 / the number of distinct population-0 states in the
    event, plain sampling's error over them); chains that
    forget their seeds give 1 / m plus, per level, the probability (T - 1) / (n - 1) that
    two states share a seed, Au & Beck's sum with gamma = 0. Unlike :func:`run_cov` it
    sees the levels' correlation, but it saturates at 1 (one family): a replica cannot
    see the families it lost, nor the bias of chains that do not mix.

    Args:
        run: a run with ``parents`` recorded.
        b: the event threshold.

    Returns:
        sqrt(sum_e c_e^2) / m (inf if the estimate is 0).
    """
    k = int(tail_probability(run, b).population)
    event = run.scores[k] <= b
    m = int(event.sum())
    if m == 0:
        return float("inf")
    counts = np.unique(ancestors(run, 0, source=k)[event], return_counts=True)[1]
    return float(np.sqrt(np.sum(counts.astype(float) ** 2)) / m)


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
    traced = all(r.parents is not None for r in runs)
    gcov = np.asarray([genealogy_cov(r, b) if r.parents is not None else np.nan for r in runs])
    return ReplicaEstimate(
        float(f.mean()),
        err,
        f,
        cov,
        replica_check(f, cov),
        acc,
        dis,
        min_d,
        bool(collapsed),
        gcov**-2.0,
        replica_check(f, gcov) if traced else None,
    )
