"""Fig. 3: failed avalanches of the DRH chain (nu = 1) and the symmetric g_c(N)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._checks import LOG2
from ..analysis import symmetric_fold
from ..analysis.fits import least_squares
from ..meanfield import avalanches, mean_entropies, n_thermal, solve
from ..models import chain
from .report import Row, holds, stage, within

TITLE = "Fig. 3: DRH chain"
QUICK = {"N": [25, 50, 100, 200], "n_dalpha": 24}
FULL = {"N": [25, 50, 100, 200, 400, 800], "n_dalpha": 40}


def _power_law_residuals(p, x, y):
    """eta_tot = A x^-nu + B at p = (A, nu, B), minus the data y."""
    return p[0] * x ** (-p[1]) + p[2] - y


def _profile(dist):
    """(a) the failed-avalanche profile [S_n] of one chain (N = 50, delta alpha = -0.07)."""
    N, dalpha, g10 = 50, -0.07, 0.5
    res = solve(chain.drh_couplings(N, chain.ALPHA_C + dalpha, g10), dist)
    return {
        "N": N,
        "dalpha": dalpha,
        "g10": g10,
        "dist": dist,
        "S": np.asarray(mean_entropies(res, dist)),
        "n_thermal": float(n_thermal(res, dist)),
        "eta_tot": float(res.eta_tot),
    }


def _nu_fit(Ns, da, dist, g10=0.5, progress=False):
    """(b) eta_tot(delta alpha) for each N and the fit A |da|^-nu + B at the largest N,
    restricted to eta_tot < N log 2 / 4 (far from the finite-size plateau)."""
    H = []
    for n in Ns:
        stage(progress, f"(b) eta_tot at {da.size} delta alpha, N = {n}")
        r = solve(chain.drh_log_couplings(n, chain.ALPHA_C + da, g10), dist, log_input=True)
        if not bool(np.all(r.converged)):
            raise RuntimeError(f"the solver did not converge for N = {n}")
        H.append(np.asarray(r.eta_tot))
    H = np.array(H)
    big = H[-1]
    ok = big < 0.25 * Ns[-1] * LOG2
    x, y = -da[ok], big[ok]
    fit = least_squares(_power_law_residuals, [1.0, 1.0, 1.0], x, y)
    # unweighted: the noise level is estimated from the misfit (chi2 / dof)
    nu, nu_stat = float(fit.params[1]), float(np.sqrt(fit.scaled_covariance[1, 1]))
    # systematic error: the spread of nu fitted on the small-|da| and large-|da| halves
    half = x.size // 2
    nus = [
        least_squares(_power_law_residuals, fit.params, x[s], y[s]).params[1]
        for s in (slice(0, half + 1), slice(half - 1, None))
    ]
    nu_err = float(np.hypot(nu_stat, 0.5 * abs(nus[0] - nus[1])))
    A1, B1 = np.polyfit(1 / x, y, 1)
    return {
        "N": Ns,
        "dalpha": da,
        "eta_tot": H,
        "g10": g10,
        "dist": dist,
        "fit": {
            "nu": nu,
            "nu_err": nu_err,
            "A": float(A1),
            "B": float(B1),
            "range": [float(x.min()), float(x.max())],
        },
    }


def _symmetric(dist):
    """(c) g_c N log N of the symmetric model, and a check of the solver at the fold."""
    Nc = np.array([1e2, 3e2, 1e3, 3e3, 1e4, 3e4, 1e5])
    c: dict[str, Any] = {"N": Nc}
    for d in ("goe", "poisson"):
        c[f"c_{d}"] = np.asarray(symmetric_fold.critical_coupling(Nc, d)) * Nc * np.log(Nc)
    # the solver agrees with the exact fold: just below g_c localized, just above not
    gc100 = float(symmetric_fold.critical_coupling(100, dist))
    below = solve(np.full(100, gc100 * (1 - 1e-6)), dist)
    above = solve(np.full(100, gc100 * (1 + 1e-6)), dist)
    c["solver_check"] = bool(~avalanches(below)) and bool(avalanches(above))
    return c


def compute(quick: bool, workdir: Path, progress: bool = False, dist: str = "goe"):
    """(a) the failed-avalanche profile, (b) eta_tot vs delta alpha and the fit of nu,
    (c) g_c N log N of the symmetric model."""
    del workdir
    sizes = QUICK if quick else FULL
    stage(progress, "(a) the failed-avalanche profile")
    a = _profile(dist)
    b = _nu_fit(sizes["N"], -np.logspace(-2.5, -0.7, sizes["n_dalpha"]), dist, progress=progress)
    stage(progress, "(c) g_c(N) of the symmetric model")
    c = _symmetric(dist)
    nu, nu_err, rng = b["fit"]["nu"], b["fit"]["nu_err"], b["fit"]["range"]
    cs = c["c_" + dist]
    rows = [
        Row(
            "Fig. 3(a): the avalanche thermalizes n* ~ 30 l-bits before failing (N=50, "
            "delta alpha=-0.07, g_{1,0}=1/2)",
            "n* ~ 30",
            f"n* = sum [S_n]/log 2 = {a['n_thermal']:.1f} (eta_tot = {a['eta_tot']:.2f})",
            "+- 3 (read off the figure)",
            within(a["n_thermal"], 30.0, 3.0),
        ),
        Row(
            "Fig. 3(b): eta_tot ~ |delta alpha|^-nu, nu = 1",
            "nu = 1",
            f"nu = {nu:.3f} +- {nu_err:.3f} (fit A|da|^-nu + B; error: statistical and "
            f"half-range spread, N = {b['N'][-1]}, |da| in [{rng[0]:.3g}, {rng[1]:.3g}])",
            "+- max(0.05, 3 sigma)",
            within(nu, 1.0, max(3 * nu_err, 0.05)),
        ),
        Row(
            "Symmetric couplings: g_c ~ 1/(N log N)",
            "g_c N log N -> const (no number)",
            f"g_c N log N = {cs[0]:.4f} (N=1e2) ... {cs[-1]:.4f} (N=1e5), "
            f"drifting slowly towards 1/(4e) = {1 / (4 * np.e):.4f}",
            "varies < 10 % over N = 1e2..1e5, rising, below 1/(4e)",
            holds(
                np.ptp(cs) / cs.mean() < 0.1 and np.all(np.diff(cs) > 0) and cs[-1] < 1 / (4 * np.e)
            ),
        ),
    ]
    return {"a": a, "b": b, "gc": c}, rows


def plot(data) -> dict:
    from ..plot._axes import axes, pyplot
    from ..plot.chain import plot_critical_coupling, plot_fig3a, plot_fig3b

    fig, axs = pyplot().subplots(1, 2, figsize=(8.4, 3.4), constrained_layout=True)
    plot_fig3a(data["a"], axs[0])
    plot_fig3b(data["b"], axs[1])
    ax = axes()
    plot_critical_coupling(data["gc"], ax)
    return {"fig3_drh_chain": fig, "symmetric_gc": ax.figure}
