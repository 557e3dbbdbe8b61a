"""The N = 1 check (Sec. VI): one l-bit coupled to the grain, where the theory is exact.

ED of the central-grain model with one spin (:mod:`jaxmf.models.ed`) gives the
eigenstate entropies of that spin. For each ptilde family the reduced coupling g is
fitted to ED's mean entropy, [S](g) = [S]_ED (A13), and the whole ED distribution is
compared with p_S(S | g) (A12) by KS and TV distances
(:mod:`jaxmf.analysis.entropy_distance`). A null value, from synthetic samples of
p_S(S | g) of the same shape, shows the finite-sample floor.

J1 is the Hamiltonian's coupling (an energy) of the ED model; g is the reduced
coupling of the theory, fitted, not computed from J1. Entropies are in nats.
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import numpy as np

from .._checks import LOG2, check_int
from ..models import ed
from ..resonance import DISTRIBUTIONS, check_dist
from ._keys import as_key, sample_keys
from .ed_statistics import middle_slice
from .entropy_distance import distribution_distance, entropy_cdf, sample_entropies

__all__ = [
    "SINGLE_SPIN_CASES",
    "FamilyDistance",
    "SingleSpinHistogram",
    "SingleSpinCheck",
    "single_spin_check",
]


# Regimes of the single-spin check (keyword arguments of `single_spin_check`):
# the paper's grain and coupling; the paper's grain at weak coupling (bimodal p_S);
# a larger grain at weak and intermediate coupling, middle of the spectrum, where the
# bath is closest to what the theory assumes (dense GOE levels, flat local density).
SINGLE_SPIN_CASES = {
    "paper": dict(d_g=8, J1=0.41, middle_fraction=None),
    "paper_grain_weak": dict(d_g=8, J1=0.03, middle_fraction=None),
    "paper_grain_weak_middle": dict(d_g=8, J1=0.03, middle_fraction=1 / 3),
    "large_grain_weak": dict(d_g=64, J1=0.01, middle_fraction=0.2),
    "large_grain_intermediate": dict(d_g=64, J1=0.03, middle_fraction=0.2),
    "large_grain_strong": dict(d_g=64, J1=0.1, middle_fraction=0.2),
}


class FamilyDistance(NamedTuple):
    """ED vs one ptilde family at the fitted g.

    Attributes:
        g: reduced coupling with [S](g) = [S]_ED.
        ks, ks_err, tv, tv_err: distances and bootstrap errors.
        ks_null, ks_null_err, tv_null, tv_null_err: mean and spread of the distances
            of synthetic samples of p_S(S | g) of ED's shape (the finite-sample floor).
    """

    g: float
    ks: float
    ks_err: float
    tv: float
    tv_err: float
    ks_null: float
    ks_null_err: float
    tv_null: float
    tv_null_err: float


class SingleSpinHistogram(NamedTuple):
    """Densities per unit ln S on log-spaced bins.

    Attributes:
        edges: (bins + 1,) edges on [hist_S_min, log 2] (the first bin also holds
            S < hist_S_min).
        ed_density_per_lnS: (bins,) ED.
        theory: {dist: (bins,) bin averages of p_S(S | g_fit), from the exact CDF}.
    """

    edges: np.ndarray
    ed_density_per_lnS: np.ndarray
    theory: dict


class SingleSpinCheck(NamedTuple):
    """Result of :func:`single_spin_check`.

    Attributes:
        params: the ED and check parameters (dict).
        ed_mean, ed_stderr: ED mean entropy and its error over realizations.
        families: {dist: FamilyDistance}.
        ks_diff, ks_diff_err: KS(goe) - KS(poisson) with its paired bootstrap error
            (NaN unless both families are compared).
        best: the family with the smaller KS.
        histogram: SingleSpinHistogram.
        seconds: {"ed": ..., "total": ...}.
    """

    params: dict
    ed_mean: float
    ed_stderr: float
    families: dict
    ks_diff: float
    ks_diff_err: float
    best: str
    histogram: SingleSpinHistogram
    seconds: dict


def _null_distance(g, shape, dist, n_null, n_bins, key):
    """KS / TV of n_null synthetic samples of p_S(S|g), g refitted to each sample."""
    out = [
        distribution_distance(
            sample_entropies(g, shape, dist, key=jax.random.fold_in(key, i)),
            dist,
            key=key,
            n_boot=0,
            n_bins=n_bins,
        )
        for i in range(n_null)
    ]
    return np.array([o.ks for o in out]), np.array([o.tv for o in out])


def _mean(a):
    return float(a.mean()) if len(a) else float("nan")


def _sd(a):
    return float(a.std(ddof=1)) if len(a) > 1 else float("nan")


def single_spin_check(
    n_samples: int = 2000,
    *,
    key,
    J1=0.41,
    d_g: int = 8,
    middle_fraction=None,
    dists=DISTRIBUTIONS,
    n_boot: int = 200,
    n_null: int = 10,
    n_bins: int = 20,
    hist_bins: int = 40,
    hist_S_min: float = 1e-6,
    **params,
) -> SingleSpinCheck:
    """The N = 1 check: ED eigenstate entropies of the one l-bit vs p_S(S | g_fit).

    For each family, g is fitted to ED's mean entropy ([S](g) = [S]_ED) and the whole
    ED distribution is compared with p_S(S | g) by KS and TV distances (module doc).

    Args:
        n_samples: ED realizations (dimension 2 d_g each).
        key: JAX PRNG key, keyword-only (an int seed is converted with
            ``jax.random.key``). Realization i uses fold_in(fold_in(key, 1), i).
        J1: coupling J_1 of the spin to the grain in the Hamiltonian (an energy; the
            reduced coupling g is fitted, not derived from it).
        d_g: grain dimension (power of 2).
        middle_fraction: keep only this middle fraction of each spectrum (by energy
            rank; None keeps all eigenstates).
        dists: families to compare.
        n_boot: bootstrap replicates (over realizations) for the errors.
        n_null: synthetic samples from p_S(S | g_fit) for the finite-sample floor.
        n_bins: equiprobable bins of the TV distance.
        hist_bins, hist_S_min: log-spaced bins on [hist_S_min, log 2] for the stored
            histogram (entropies below hist_S_min are counted in the first bin).
        **params: other ED parameters (grain_rms, h_mean, h_width, grain_norm).

    Returns:
        :class:`SingleSpinCheck`.
    """
    check_int("n_samples", n_samples, 2)
    check_int("n_null", n_null, 0)
    for dist in dists:
        check_dist(dist)
    t0 = time.perf_counter()
    key = as_key(key)
    res = ed.drh_ensemble(1, 0.5, key=sample_keys(key, n_samples, 1), J1=J1, d_g=d_g, **params)
    S = np.asarray(res.entropy)
    if middle_fraction is not None:
        S = S[:, middle_slice(S.shape[1], middle_fraction)]
    t_ed = time.perf_counter() - t0
    per = S.mean(axis=1)
    edges = np.geomspace(hist_S_min, LOG2, hist_bins + 1)
    dlog = np.diff(np.log(edges))
    flat = np.clip(S.ravel(), hist_S_min, LOG2)
    ed_density = np.histogram(flat, bins=edges)[0] / flat.size / dlog
    boot_key = jax.random.fold_in(key, 2)
    families, theory, ks_boot = {}, {}, {}
    for dist in dists:
        d = distribution_distance(S, dist, key=boot_key, n_boot=n_boot, n_bins=n_bins)
        ks0, tv0 = _null_distance(d.g, S.shape, dist, n_null, n_bins, jax.random.fold_in(key, 3))
        families[dist] = FamilyDistance(
            g=d.g,
            ks=d.ks,
            ks_err=d.ks_err,
            tv=d.tv,
            tv_err=d.tv_err,
            ks_null=_mean(ks0),
            ks_null_err=_sd(ks0),
            tv_null=_mean(tv0),
            tv_null_err=_sd(tv0),
        )
        ks_boot[dist] = d.ks_boot
        F = entropy_cdf(edges, d.g, dist)
        F[0] = 0.0  # the first bin also holds S < hist_S_min, as for ED
        theory[dist] = np.diff(F) / dlog
    ks_diff = ks_diff_err = float("nan")
    if {"goe", "poisson"} <= set(families):
        diff = ks_boot["goe"] - ks_boot["poisson"]
        ks_diff = families["goe"].ks - families["poisson"].ks
        ks_diff_err = _sd(diff)
    p = {**{k: v for k, v in ed.DEFAULTS.items() if k not in ("J1", "d_g")}, **params}
    return SingleSpinCheck(
        params=dict(
            N=1,
            n_samples=n_samples,
            J1=J1,
            d_g=d_g,
            middle_fraction=middle_fraction,
            n_boot=n_boot,
            n_null=n_null,
            n_bins=n_bins,
            states_per_sample=S.shape[1],
            **p,
        ),
        ed_mean=float(per.mean()),
        ed_stderr=float(per.std(ddof=1) / np.sqrt(n_samples)),
        families=families,
        ks_diff=ks_diff,
        ks_diff_err=ks_diff_err,
        best=min(families, key=lambda d: families[d].ks),
        histogram=SingleSpinHistogram(edges, ed_density, theory),
        seconds=dict(ed=t_ed, total=time.perf_counter() - t0),
    )
