"""Mean field of single 2D lattice realizations: eta_tot(W, g0), its derivatives, W_th.

For one realization of the 2D model (Sec. VII, eq. 15-18) the total enhancement
eta_tot (eq. 14) is a function of the potential strength W and the grain coupling g0.
:func:`eta_tot` composes :func:`jaxmf.models.lattice.bare_couplings` with
:func:`jaxmf.solve`, so ``jax.grad`` differentiates through the eigen-decomposition
(first-order perturbation theory of |phi_k(0)| via ``eigh``) and through the fixed point
(implicit function theorem, no unrolled iterations).

Avalanche threshold of one QP realization (:func:`threshold_W`). On the failed side
the physical (smallest) root of the scalar equation H = G(H) is a stable fixed point
that disappears in a fold (saddle-node) at W_c(theta0); below W_c the solution jumps to
the avalanche branch, eta_tot ~ N log 2. Near the fold

    eta_tot(W) = H_c - A sqrt(W - W_c) + O(W - W_c),
    u(W) := (d eta_tot / dW)^-2 = 4 (W - W_c) / A^2 + O((W - W_c)^(3/2)),

and the stability margin m = 1 - dG/dH vanishes like sqrt(W - W_c). The finder
(i) scans a W grid for the last avalanching grid point, (ii) bisects on the avalanche
flag eta_tot > N log 2 / 2 (eq. 19) to a bracket [W_aval, W_fail] of relative width
``rtol`` (one solve per halving: ~30 solves from a grid step of 10 to 1e-9), and
(iii) refines with the gradient: u at W_fail, W_fail + h and W_fail + 2h (h the bracket
width) extrapolated linearly to u = 0 gives the fold W_fold, with an error ~ C h^(3/2)
(C ~ 0.07 measured at W_c ~ 67, R = 8) and an error bar from the two spacings.
Bisection alone is cheaper per step than the gradient (which needs all eigenvectors,
see :func:`jaxmf.models.lattice.origin_spectrum`), so the gradient is used once, at
the end, where it is worth most: W_fold is ~100x more precise than the bracket and the
slope at W_fail confirms a fold (it diverges like (W - W_c)^(-1/2)).

Threshold maps over many phases (:func:`qp_threshold_map`, vectorized over theta0: a W
grid scan and bisection of the flag, no gradient) and their supremum over the circle
(:func:`sup_threshold`: a coarse grid and zooms on its best phases, because W_th(theta0)
has narrow resonant spikes) give the QP side of the QP-vs-random contrast of
:mod:`jaxmf.rare`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _config  # noqa: F401  (float64)
from .._validate import check_dist
from ..meanfield import avalanches, solve
from . import lattice

__all__ = ["eta_tot", "ThresholdResult", "threshold_W", "STATUS", "qp_eta_tot",
           "qp_threshold_map", "sup_threshold"]

_LOG2 = float(np.log(2.0))

STATUS = {0: "ok", 1: "no avalanche at any W of the scan", 2: "avalanches at W_max"}


def eta_tot(R, W, *, g0=1.0, theta0=None, key=None, kind="qp", dist="goe", method="auto"):
    """eta_tot (eq. 14) of one lattice realization, differentiable in W and g0.

    ``jax.grad(eta_tot, argnums=1)(R, W, theta0=...)`` is d eta_tot / dW through the
    eigen-decomposition and the fixed point (implicit); NaN at an avalanche threshold
    (stability < ``jaxmf.meanfield.GRAD_MARGIN``), where the derivative diverges.
    jit with R (and kind, dist, method) static; vmaps over W, g0, theta0, key.

    Args:
        R: lattice radius (static int).
        W: potential strength >= 0.
        g0: grain coupling scale >= 0 (eq. 18).
        theta0, key, kind, method: see :func:`jaxmf.models.lattice.bare_couplings`.
        dist: ptilde family, "goe" or "poisson".

    Returns:
        scalar eta_tot.
    """
    g = lattice.bare_couplings(R, W, g0=g0, theta0=theta0, key=key, kind=kind, method=method)
    return solve(g, dist).eta_tot


class ThresholdResult(NamedTuple):
    """Avalanche threshold W_c(theta0) of QP realizations (arrays shaped like theta0).

    Attributes:
        W_aval: largest W found to avalanche (flag True) — lower end of the bracket.
        W_fail: smallest W above it found not to avalanche — upper end. The true flag
            change lies in [W_aval, W_fail] (up to the solver's accuracy near the fold,
            ~1e-10 relative); NaN where status != 0.
        W_fold: fold location from the gradient extrapolation of u = (d eta_tot/dW)^-2
            (NaN if not ``refine``). Error ~ C h^(3/2) for a bracket of width h; with
            the default rtol, ~1e-11 relative (the couplings' own ~1e-12 errors set
            the floor).
        W_fold_err: error bar of W_fold: twice the difference between the
            extrapolations with spacings h and 2h.
        eta_fail: eta_tot at W_fail (the largest failed avalanche of this realization).
        slope_fail: d eta_tot / dW at W_fail (large and negative near a fold).
        status: 0 ok; 1 no avalanche on the scan (W_fail = W_min); 2 avalanches at W_max.
        n_solves: mean-field solves used per realization (a gradient counts as one).
    """

    W_aval: np.ndarray
    W_fail: np.ndarray
    W_fold: np.ndarray
    W_fold_err: np.ndarray
    eta_fail: np.ndarray
    slope_fail: np.ndarray
    status: np.ndarray
    n_solves: np.ndarray


@functools.lru_cache(maxsize=None)
def _functions(R, dist, method):
    def one(W, g0, theta0):
        g = lattice.bare_couplings(R, W, g0=g0, theta0=theta0, kind="qp", method=method)
        res = solve(g, dist)
        return res.eta_tot, avalanches(res), res.converged

    def slope(W, g0, theta0):
        return jax.grad(lambda w: eta_tot(R, w, g0=g0, theta0=theta0, dist=dist,
                                          method=method))(W)

    batched = jax.vmap(one, in_axes=(0, None, 0))
    return jax.jit(batched), jax.jit(jax.vmap(slope, in_axes=(0, None, 0)))


def threshold_W(R, theta0, *, g0=1.0, dist="goe", W_min=0.0, W_max=400.0, n_scan=41,
                rtol=1e-9, refine=True, max_rounds=200, method="auto") -> ThresholdResult:
    """Avalanche threshold in W of QP realizations: where the avalanche flag turns off.

    For each theta0, scans ``n_scan`` equally spaced W in [W_min, W_max], takes the last
    grid point that avalanches and the next one as the bracket, bisects on the flag
    (eq. 19) until its width is <= rtol * W, then (``refine``) locates the fold inside it
    from three gradients (module docstring). All realizations are processed together
    (batched solves). A flag change between two scan points closer than the grid step
    (an avalanche window narrower than the grid) can be missed: the result is the last
    change on the scan, i.e. the W above which, on that grid, the realization no longer
    avalanches. The QP threshold of the paper is W_th = sup over theta0 of this value.

    Args:
        R: lattice radius (static int).
        theta0: QP phase offset(s), scalar or 1D.
        g0: grain coupling scale.
        dist: ptilde family.
        W_min, W_max, n_scan: the scan grid.
        rtol: relative bracket width to stop at (floor ~1e-11: the couplings carry
            ~1e-12 errors and the solver's smallest root is ill-conditioned at the fold).
        refine: compute W_fold from the gradient (3 gradient evaluations).
        max_rounds: cap on bisection steps.
        method: couplings path (see :func:`jaxmf.models.lattice.origin_spectrum`).

    Returns:
        :class:`ThresholdResult`, fields shaped like ``theta0``.
    """
    lattice._check_radius(R)
    check_dist(dist)
    lattice._resolve_method(method, 1)
    theta = np.asarray(theta0, np.float64)
    scalar = theta.ndim == 0
    theta = np.atleast_1d(theta)
    if theta.ndim != 1 or not np.all(np.isfinite(theta)):
        raise ValueError("theta0 must be a finite scalar or 1D array")
    if not (np.isfinite(g0) and g0 >= 0):
        raise ValueError(f"g0 must be finite and >= 0, got {g0!r}")
    if not (0 <= W_min < W_max < np.inf) or n_scan < 2:
        raise ValueError("need 0 <= W_min < W_max < inf and n_scan >= 2")
    if not (rtol > 0):
        raise ValueError("rtol must be > 0")
    evaluate, slope = _functions(int(R), dist, method)
    M = len(theta)
    g0 = jnp.float64(g0)
    th = jnp.asarray(theta)
    n_solves = np.zeros(M, np.int64)

    def batched(fn, W, idx):
        # evaluate fn at (W[i], theta[i]) for i in idx only: as one batch of all M when
        # most are needed, else one at a time (two compiled shapes, no wasted solves)
        n_solves[idx] += 1
        W = np.asarray(W, np.float64)
        W = np.where(np.isfinite(W), W, W_min)  # entries not asked for: any valid W
        if 2 * len(idx) > M:
            return [np.asarray(x) for x in fn(jnp.asarray(W), g0, th)]
        outs = [fn(jnp.asarray(W[i:i + 1]), g0, th[i:i + 1]) for i in idx]
        outs = [x if isinstance(x, tuple) else (x,) for x in outs]
        full = []
        for k in range(len(outs[0]) if outs else 0):
            first = np.asarray(outs[0][k])
            arr = np.zeros((M,) + first.shape[1:], first.dtype)
            arr[idx] = np.concatenate([np.asarray(o[k]) for o in outs])
            full.append(arr)
        return full

    def flags(W, idx):
        return batched(evaluate, W, idx)

    def slopes(W, idx):
        return batched(lambda *x: (slope(*x),), W, idx)[0]

    # (i) scan
    grid = np.linspace(W_min, W_max, n_scan)
    scan = np.stack([flags(np.full(M, w), np.arange(M))[1] for w in grid])  # (n_scan, M)
    status = np.zeros(M, np.int64)
    any_aval = scan.any(0)
    last = np.where(any_aval, n_scan - 1 - np.argmax(scan[::-1], axis=0), -1)
    status[~any_aval] = 1
    status[last == n_scan - 1] = 2
    ok = status == 0
    a = np.where(ok, grid[np.clip(last, 0, n_scan - 1)], np.nan)
    b = np.where(ok, grid[np.clip(last + 1, 0, n_scan - 1)], np.nan)

    # (ii) bisection on the flag, all realizations together
    for _ in range(max_rounds):
        bis = ok & (b - a > rtol * b)
        if not bis.any():
            break
        mid = np.where(bis, 0.5 * (a + b), b)
        f_mid = flags(mid, np.nonzero(bis)[0])[1]
        a = np.where(bis & f_mid, mid, a)
        b = np.where(bis & ~f_mid, mid, b)

    # (iii) fold from the gradient: u = (dH/dW)^-2 at b, b + h, b + 2h (failed side),
    # h = b - a, extrapolated linearly to u = 0; the two spacings give an error bar
    fold = np.full(M, np.nan)
    fold_err = np.full(M, np.nan)
    j = np.nonzero(ok)[0]
    if refine and len(j):
        h = np.where(ok, b - a, 0.0)
        with np.errstate(all="ignore"):
            u = [1.0 / slopes(np.where(ok, b + k * h, W_max), j) ** 2 for k in range(3)]
            est1 = b - u[0] * h / (u[1] - u[0])
            est2 = b - u[0] * 2 * h / (u[2] - u[0])
        fold = np.where(ok, est1, np.nan)
        fold_err = np.where(ok, 2.0 * np.abs(est2 - est1), np.nan)

    e_fail = np.full(M, np.nan)
    s_fail = np.full(M, np.nan)
    if ok.any():
        Wf = np.where(ok, b, W_max)
        j = np.nonzero(ok)[0]
        e_fail = np.where(ok, flags(Wf, j)[0], np.nan)
        s_fail = np.where(ok, slopes(Wf, j), np.nan)
    b = np.where(status == 1, W_min, b)
    out = ThresholdResult(a, b, fold, fold_err, e_fail, s_fail, status, n_solves)
    if scalar:
        out = ThresholdResult(*(np.asarray(x)[0] for x in out))
    return out


# --------------------------------------------------------------------------- threshold maps
@functools.lru_cache(maxsize=None)
def _qp_eta(R, dist, method):
    @jax.jit
    def f(theta0, W, g0):
        g = lattice.bare_couplings(R, W, g0=g0, theta0=theta0, kind="qp", method=method)
        res = solve(g, dist)
        return res.eta_tot / (0.5 * res.n_lbits * _LOG2)
    return jax.vmap(f, in_axes=(0, 0, None))


def qp_eta_tot(R, theta0, W, *, g0=1.0, dist="goe", method="auto"):
    """eta_tot / (N log 2 / 2) of QP lattices, for paired arrays theta0 and W (> 1: aval)."""
    theta0, W = np.broadcast_arrays(np.asarray(theta0, float), np.asarray(W, float))
    if np.any(W < 0):
        raise ValueError("W must be >= 0")
    return np.asarray(_qp_eta(R, dist, method)(jnp.asarray(theta0.ravel()),
                                               jnp.asarray(W.ravel()), g0)).reshape(W.shape)


def qp_threshold_map(R, theta0, *, g0=1.0, W_grid=None, rtol=1e-3, dist="goe",
                     method="auto"):
    """W_th(theta0) of QP lattices: the largest W at which the realization avalanches.

    Scans ``W_grid`` (ascending; default geometric 20..2000, ratio 1.1) for every theta0,
    takes the largest grid W that avalanches and bisects the flag between it and the next
    grid point to relative tolerance ``rtol``. A re-entrant avalanche window narrower
    than one grid step above that point would be missed (the grid ratio bounds it).

    Returns:
        dict(theta0, W_th (nan where nothing on the grid avalanches; inf if the top of
        the grid does), W_grid, rtol).
    """
    theta0 = np.atleast_1d(np.asarray(theta0, float))
    Wg = np.geomspace(20.0, 2000.0, 49) if W_grid is None else np.asarray(W_grid, float)
    T, G = np.meshgrid(theta0, Wg, indexing="ij")
    flag = qp_eta_tot(R, T, G, g0=g0, dist=dist, method=method) > 1.0
    any_ = flag.any(axis=1)
    last = np.where(any_, Wg.size - 1 - np.argmax(flag[:, ::-1], axis=1), 0)
    top = any_ & (last == Wg.size - 1)
    lo = Wg[last].copy()
    hi = Wg[np.minimum(last + 1, Wg.size - 1)].copy()
    act = any_ & ~top
    while act.any() and np.max(hi[act] / lo[act]) > 1 + rtol:
        mid = np.sqrt(lo * hi)
        fl = qp_eta_tot(R, theta0[act], mid[act], g0=g0, dist=dist, method=method) > 1.0
        idx = np.flatnonzero(act)
        lo[idx[fl]] = mid[idx[fl]]
        hi[idx[~fl]] = mid[idx[~fl]]
    W_th = np.where(any_, np.sqrt(lo * hi), np.nan)
    W_th[top] = np.inf
    return {"theta0": theta0, "W_th": W_th, "W_grid": Wg, "rtol": rtol}


def sup_threshold(R, *, g0=1.0, n_theta=128, n_starts=4, n_zoom=5, n_local=21, shrink=8.0,
                  rtol=1e-4, dist="goe", method="auto", W_grid=None):
    """sup_theta0 W_th(theta0) by a coarse theta0 grid and zooms on its best cells.

    W_th(theta0) is rough, with narrow resonant spikes (docs/lattice.md): a uniform grid
    underestimates the supremum. The ``n_starts`` best points of a uniform grid of
    ``n_theta`` phases are each refined ``n_zoom`` times: ``n_local`` phases spanning
    +-h around the current best (h = 2 pi / n_theta, divided by ``shrink`` per level).
    The result is the largest W_th found (a lower bound of the supremum in principle;
    spikes narrower than the last zoom step could hide between phases). Error: the
    bisection tolerance plus the growth of the maximum over the last zoom level.

    Returns:
        dict(coarse=map, zooms=[dict(theta0, W_th) per start and level], sup, err,
        theta_star, history=(n_zoom + 1,) running maximum after the coarse grid and
        each zoom level).
    """
    th = np.arange(n_theta) * 2 * np.pi / n_theta
    coarse = qp_threshold_map(R, th, g0=g0, rtol=rtol, dist=dist, method=method,
                              W_grid=W_grid)
    Wc = np.where(np.isfinite(coarse["W_th"]), coarse["W_th"], -np.inf)
    if not np.isfinite(Wc).any():
        raise ValueError("no phase avalanches on the W grid; lower W_grid")
    best, theta_star = float(Wc.max()), float(th[int(np.argmax(Wc))])
    local_grid = np.geomspace(0.5 * best, 4.0 * best, 15)
    history, zooms = [best], []
    centres = list(th[np.argsort(Wc)[::-1][:n_starts]])
    h = 2 * np.pi / n_theta
    for level in range(n_zoom):
        new_centres = []
        for c in centres:
            t = c + np.linspace(-h, h, n_local)
            m = qp_threshold_map(R, t, g0=g0, rtol=rtol, dist=dist, method=method,
                                 W_grid=local_grid)
            w = np.where(np.isfinite(m["W_th"]), m["W_th"], -np.inf)
            if np.isposinf(m["W_th"]).any():
                raise RuntimeError("a phase avalanches at 4x the coarse maximum; widen W_grid")
            k = int(np.argmax(w))
            zooms.append({"level": level, "theta0": t % (2 * np.pi), "W_th": m["W_th"]})
            new_centres.append(t[k])
            if w[k] > best:
                best, theta_star = float(w[k]), float(t[k] % (2 * np.pi))
        centres = new_centres
        history.append(best)
        h /= shrink
    err = best * rtol + (history[-1] - history[-2] if len(history) > 1 else 0.0)
    return {"coarse": coarse, "zooms": zooms, "sup": best, "err": float(err),
            "theta_star": theta_star, "history": np.asarray(history)}
