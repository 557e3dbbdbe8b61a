"""Mean field of single model realizations: eta_tot(W, g0), its derivatives, W_th.

For one realization of any model (:mod:`jaxmf.models.contract`; the paper's 2D lattice,
Sec. VII, eq. 15-18, by default) the total enhancement eta_tot (eq. 14) is a function
of the potential strength W and the grain coupling g0. :func:`eta_tot` composes the
model's couplings with :func:`jaxmf.solve`, so ``jax.grad`` differentiates through the
eigen-decomposition (first-order perturbation theory of |phi_k(0)| via ``eigh``) and
through the fixed point (implicit function theorem, no unrolled iterations).

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
see :mod:`jaxmf.models.spectral`), so the gradient is used once, at
the end, where it is worth most: W_fold is ~100x more precise than the bracket and the
slope at W_fail confirms a fold (it diverges like (W - W_c)^(-1/2)).

Threshold maps over many phases (:func:`qp_threshold_map`, vectorized over theta0: a W
grid scan and bisection of the flag, no gradient) and their supremum over the circle
(:func:`sup_threshold`: a coarse grid and zooms on its best phases, because W_th(theta0)
has narrow resonant spikes) give the QP side of the QP-vs-random contrast of
:mod:`jaxmf.analysis.rare`. The single-phase finder and the maps share one scan and
one bisection of the avalanche flag (:func:`_bracket_from_scan`, :func:`_bisect_flag`);
every result carries a :class:`jaxmf.Status` per phase.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_finite, check_int, check_nonnegative
from .._status import Status
from ..meanfield import avalanches, solve
from ..models import QPPhase, as_model, check_realization
from ..models.spectral import resolve_method
from ..resonance import check_dist

__all__ = [
    "eta_tot",
    "ThresholdResult",
    "threshold_W",
    "ThresholdMap",
    "qp_threshold_map",
    "SupThreshold",
    "sup_threshold",
]


def eta_tot(model, W, *, realization, g0=1.0, dist="goe", method="auto"):
    """eta_tot (eq. 14) of one model realization, differentiable in W and g0.

    ``jax.grad(eta_tot, argnums=1)(model, W, realization=QPPhase(t))`` is
    d eta_tot / dW through the eigen-decomposition and the fixed point (implicit); NaN
    at an avalanche threshold (stability < ``jaxmf.meanfield.GRAD_MARGIN``), where the
    derivative diverges. jit with the model (and dist, method) static; vmaps over W,
    g0 and the realization.

    Args:
        model: a model of :mod:`jaxmf.models.contract` (an int R: the paper's lattice).
        W: potential strength >= 0.
        realization: :class:`~jaxmf.models.QPPhase` or :class:`~jaxmf.models.RandomKey`.
        g0: grain coupling scale >= 0 (eq. 18).
        dist: ptilde family, "goe" or "poisson".
        method: spectral route (:mod:`jaxmf.models.spectral`).

    Returns:
        scalar eta_tot.
    """
    model = as_model(model)
    g = model.couplings(W, g0, realization, method=method)
    return solve(g, dist).eta_tot


# --------------------------------------------------------------------------- shared search
@functools.cache
def _functions(model, dist, method):
    """Jitted, batched (W[M], g0, theta0[M]) -> (eta_tot, avalanche, converged) and the
    slope d eta_tot / dW, for QP realizations of the model."""

    def one(W, g0, theta0):
        res = solve(model.couplings(W, g0, QPPhase(theta0), method=method), dist)
        return res.eta_tot, avalanches(res), res.converged

    def slope(W, g0, theta0):
        return jax.grad(
            lambda w: eta_tot(
                model, w, g0=g0, realization=QPPhase(theta0), dist=dist, method=method
            )
        )(W)

    return (
        jax.jit(jax.vmap(one, in_axes=(0, None, 0))),
        jax.jit(jax.vmap(slope, in_axes=(0, None, 0))),
    )


def _evaluate(fn, W, g0, theta, idx):
    """fn at (W[i], theta[i]) for i in idx, as full-length (M,) arrays (zeros elsewhere).

    The batch is padded to a power of two (at most M), so a search compiles a handful
    of shapes however many realizations are still active."""
    M = len(theta)
    idx = np.asarray(idx)
    size = min(M, 1 << max(0, int(np.ceil(np.log2(max(len(idx), 1))))))
    pad = np.concatenate([idx, np.full(size - len(idx), idx[0] if len(idx) else 0)])
    out = fn(jnp.asarray(np.asarray(W, np.float64)[pad]), g0, jnp.asarray(theta[pad]))
    out = out if isinstance(out, tuple) else (out,)
    full = []
    for x in out:
        x = np.asarray(x)
        arr = np.zeros((M,) + x.shape[1:], x.dtype)
        arr[idx] = x[: len(idx)]
        full.append(arr)
    return full


def _bracket_from_scan(flags, grid):
    """Last flag change on a scan: flags (n_scan, M) at ascending W ``grid``.

    Returns (lo, hi, status): lo the last avalanching grid W, hi the next grid W
    (NaN where status != OK); status NO_AVALANCHE where no grid point avalanches,
    AVALANCHE_AT_MAX where the top of the grid still does."""
    n = len(grid)
    any_aval = flags.any(0)
    last = np.where(any_aval, n - 1 - np.argmax(flags[::-1], axis=0), -1)
    status = np.full(flags.shape[1], Status.OK, np.int64)
    status[~any_aval] = Status.NO_AVALANCHE
    status[last == n - 1] = Status.AVALANCHE_AT_MAX
    ok = status == Status.OK
    lo = np.where(ok, grid[np.clip(last, 0, n - 1)], np.nan)
    hi = np.where(ok, grid[np.clip(last + 1, 0, n - 1)], np.nan)
    return lo, hi, status


def _bisect_flag(flag, lo, hi, active, rtol, max_rounds):
    """Bisect the avalanche flag of each active realization between lo (avalanche) and
    hi (failed) until hi - lo <= rtol * hi. ``flag(W, idx) -> (flags, converged)`` for
    the realizations idx. Midpoints are geometric (arithmetic where lo = 0).

    Returns (lo, hi, converged): converged is False where a solve did not converge."""
    lo, hi = lo.copy(), hi.copy()
    converged = np.ones(len(lo), bool)
    for _ in range(max_rounds):
        bis = active & (hi - lo > rtol * hi)
        if not bis.any():
            break
        idx = np.nonzero(bis)[0]
        with np.errstate(invalid="ignore"):
            mid = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * (lo + hi))
        f_mid, cv = flag(mid, idx)
        converged[idx] &= cv[idx]
        lo = np.where(bis & f_mid, mid, lo)
        hi = np.where(bis & ~f_mid, mid, hi)
    return lo, hi, converged


def _search(flag, grid, M, rtol, max_rounds):
    """The one threshold search: scan the flag of M realizations on the ascending W
    ``grid``, bracket its last change, bisect it (``flag(W, idx) -> (flags,
    converged)``). Returns (lo, hi, status); status NOT_CONVERGED where any solve along
    the way did not converge."""
    everyone = np.arange(M)
    scan = [flag(np.full(M, w), everyone) for w in grid]
    lo, hi, status = _bracket_from_scan(np.stack([f for f, _ in scan]), grid)
    lo, hi, converged = _bisect_flag(flag, lo, hi, status == Status.OK, rtol, max_rounds)
    converged &= np.all([c for _, c in scan], axis=0)
    status[~converged] = Status.NOT_CONVERGED
    return lo, hi, status


def _check_search(model, theta0, g0, dist, method, rtol):
    model = as_model(model)
    check_realization(model, QPPhase(0.0))
    check_dist(dist)
    resolve_method(method, 1)
    theta = np.asarray(theta0, np.float64)
    check_finite("theta0", theta)
    if theta.ndim > 1:
        raise ValueError(f"theta0 must be a scalar or 1D array, got shape {theta.shape}")
    check_nonnegative("g0", g0, finite=True)
    if not (np.isscalar(rtol) and rtol > 0):  # pyright: ignore[reportOperatorIssue]  (a scalar)
        raise ValueError(f"rtol must be a number > 0, got {rtol!r}")
    return model, theta


# --------------------------------------------------------------------------- one phase
class ThresholdResult(NamedTuple):
    """Avalanche threshold W_c(theta0) of QP realizations (arrays shaped like theta0).

    Attributes:
        W_aval: largest W found to avalanche (flag True) — lower end of the bracket.
        W_fail: smallest W above it found not to avalanche — upper end. The true flag
            change lies in [W_aval, W_fail] (up to the solver's accuracy near the fold,
            ~1e-10 relative); NaN where status is AVALANCHE_AT_MAX, W_min where it is
            NO_AVALANCHE.
        W_fold: fold location from the gradient extrapolation of u = (d eta_tot/dW)^-2
            (NaN if not ``refine``). Error ~ C h^(3/2) for a bracket of width h; with
            the default rtol, ~1e-11 relative (the couplings' own ~1e-12 errors set
            the floor).
        W_fold_err: error bar of W_fold: twice the difference between the
            extrapolations with spacings h and 2h.
        eta_fail: eta_tot at W_fail (the largest failed avalanche of this realization).
        slope_fail: d eta_tot / dW at W_fail (large and negative near a fold).
        status: :class:`jaxmf.Status` codes (OK, NO_AVALANCHE, AVALANCHE_AT_MAX,
            NOT_CONVERGED).
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


def threshold_W(
    model,
    theta0,
    *,
    g0=1.0,
    dist="goe",
    W_min=0.0,
    W_max=400.0,
    n_scan=41,
    rtol=1e-9,
    refine=True,
    max_rounds=200,
    method="auto",
) -> ThresholdResult:
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
        model: a model with QP realizations (:mod:`jaxmf.models.contract`; an int R:
            the paper's lattice).
        theta0: QP phase offset(s), scalar or 1D.
        g0: grain coupling scale.
        dist: ptilde family.
        W_min, W_max, n_scan: the scan grid.
        rtol: relative bracket width to stop at (floor ~1e-11: the couplings carry
            ~1e-12 errors and the solver's smallest root is ill-conditioned at the fold).
        refine: compute W_fold from the gradient (3 gradient evaluations).
        max_rounds: cap on bisection steps.
        method: spectral route (:mod:`jaxmf.models.spectral`).

    Returns:
        :class:`ThresholdResult`, fields shaped like ``theta0``.
    """
    model, theta = _check_search(model, theta0, g0, dist, method, rtol)
    if not (0 <= W_min < W_max < np.inf):
        raise ValueError(f"need 0 <= W_min < W_max < inf, got W_min={W_min!r}, W_max={W_max!r}")
    check_int("n_scan", n_scan, 2)
    scalar = theta.ndim == 0
    theta = np.atleast_1d(theta)
    evaluate, slope = _functions(model, dist, method)
    M = len(theta)
    g0 = jnp.float64(g0)
    n_solves = np.zeros(M, np.int64)

    def flags(W, idx):
        n_solves[idx] += 1
        return _evaluate(evaluate, W, g0, theta, idx)

    def flag(W, idx):
        return flags(W, idx)[1:]

    def slopes(W, idx):
        n_solves[idx] += 1
        return _evaluate(slope, W, g0, theta, idx)[0]

    a, b, status = _search(flag, np.linspace(W_min, W_max, n_scan), M, rtol, max_rounds)
    ok = status == Status.OK
    fold, fold_err = (
        _fold_from_gradient(slopes, a, b, ok, W_max)
        if refine
        else (np.full(M, np.nan), np.full(M, np.nan))
    )
    j = np.nonzero(ok)[0]

    e_fail = np.full(M, np.nan)
    s_fail = np.full(M, np.nan)
    if len(j):
        Wf = np.where(ok, b, W_max)
        e_fail = np.where(ok, flags(Wf, j)[0], np.nan)
        s_fail = np.where(ok, slopes(Wf, j), np.nan)
    b = np.where(status == Status.NO_AVALANCHE, W_min, b)
    out = ThresholdResult(a, b, fold, fold_err, e_fail, s_fail, status, n_solves)
    if scalar:
        out = ThresholdResult(*(np.asarray(x)[0] for x in out))
    return out


def _fold_from_gradient(slopes, a, b, ok, W_max):
    """Fold location inside the brackets [a, b] of the realizations ``ok``: u =
    (d eta_tot/dW)^-2 at b, b + h, b + 2h (failed side, h = b - a) extrapolated linearly
    to u = 0; the two spacings give the error bar. Returns (W_fold, W_fold_err)."""
    j = np.nonzero(ok)[0]
    if not len(j):
        return np.full(len(ok), np.nan), np.full(len(ok), np.nan)
    h = np.where(ok, b - a, 0.0)
    with np.errstate(all="ignore"):
        u = [1.0 / slopes(np.where(ok, b + k * h, W_max), j) ** 2 for k in range(3)]
        est1 = b - u[0] * h / (u[1] - u[0])
        est2 = b - u[0] * 2 * h / (u[2] - u[0])
    return np.where(ok, est1, np.nan), np.where(ok, 2.0 * np.abs(est2 - est1), np.nan)


# --------------------------------------------------------------------------- threshold maps
class ThresholdMap(NamedTuple):
    """W_th(theta0) of QP realizations on a set of phases (:func:`qp_threshold_map`).

    Attributes:
        theta0: (M,) phases.
        W_th: (M,) largest avalanching W (geometric centre of the final bracket); NaN
            where status is NO_AVALANCHE, inf where it is AVALANCHE_AT_MAX.
        status: (M,) :class:`jaxmf.Status` codes.
        W_grid: the scan grid.
        rtol: relative bracket width.
    """

    theta0: np.ndarray
    W_th: np.ndarray
    status: np.ndarray
    W_grid: np.ndarray
    rtol: float


def qp_threshold_map(
    model, theta0, *, g0=1.0, W_grid=None, rtol=1e-3, dist="goe", method="auto", max_rounds=200
) -> ThresholdMap:
    """W_th(theta0) of QP realizations of ``model`` (an int R: the paper's lattice): the
    largest W at which the realization avalanches.

    Scans ``W_grid`` (ascending; default geometric 20..2000, ratio 1.1) for every theta0,
    takes the largest grid W that avalanches and bisects the flag between it and the next
    grid point to relative tolerance ``rtol`` (the scan and bisection of
    :func:`threshold_W`, without the gradient refinement). A re-entrant avalanche window
    narrower than one grid step above that point would be missed (the grid ratio bounds
    it).

    Returns:
        :class:`ThresholdMap`.
    """
    model, theta0 = _check_search(model, theta0, g0, dist, method, rtol)
    theta0 = np.atleast_1d(theta0)
    Wg = np.geomspace(20.0, 2000.0, 49) if W_grid is None else np.asarray(W_grid, float)
    if Wg.ndim != 1 or Wg.size < 2 or np.any(np.diff(Wg) <= 0) or Wg[0] < 0:
        raise ValueError("W_grid must be an ascending 1D grid of W >= 0 with >= 2 points")
    evaluate, _ = _functions(model, dist, method)
    M = len(theta0)
    g0 = jnp.float64(g0)

    def flag(W, idx):
        return _evaluate(evaluate, W, g0, theta0, idx)[1:]

    lo, hi, status = _search(flag, Wg, M, rtol, max_rounds)
    W_th = np.sqrt(lo * hi)
    W_th[status == Status.AVALANCHE_AT_MAX] = np.inf
    return ThresholdMap(theta0, W_th, status, Wg, float(rtol))


class SupThreshold(NamedTuple):
    """sup over theta0 of W_th(theta0) (:func:`sup_threshold`).

    Attributes:
        sup: the largest W_th found.
        err: its error: bisection tolerance plus the growth over the last zoom level.
        theta_star: the phase where it was found.
        history: (n_zoom + 1,) running maximum after the coarse grid and each zoom.
        coarse: the :class:`ThresholdMap` of the uniform grid.
        zooms: one :class:`ThresholdMap` per start and zoom level (level-major).
    """

    sup: float
    err: float
    theta_star: float
    history: np.ndarray
    coarse: ThresholdMap
    zooms: tuple


def sup_threshold(
    model,
    *,
    g0=1.0,
    n_theta=128,
    n_starts=4,
    n_zoom=5,
    n_local=21,
    shrink=8.0,
    rtol=1e-4,
    dist="goe",
    method="auto",
    W_grid=None,
) -> SupThreshold:
    """sup_theta0 W_th(theta0) by a coarse theta0 grid and zooms on its best cells.

    ``model``: a model with QP realizations (an int R: the paper's lattice).

    W_th(theta0) is rough, with narrow resonant spikes (docs/lattice.md): a uniform grid
    underestimates the supremum. The ``n_starts`` best points of a uniform grid of
    ``n_theta`` phases are each refined ``n_zoom`` times: ``n_local`` phases spanning
    +-h around the current best (h = 2 pi / n_theta, divided by ``shrink`` per level).
    The result is the largest W_th found (a lower bound of the supremum in principle;
    spikes narrower than the last zoom step could hide between phases). Error: the
    bisection tolerance plus the growth of the maximum over the last zoom level.

    Returns:
        :class:`SupThreshold`.
    """
    check_int("n_theta", n_theta, 1)
    check_int("n_zoom", n_zoom, 0)
    th = np.arange(n_theta) * 2 * np.pi / n_theta
    model = as_model(model)
    coarse = qp_threshold_map(model, th, g0=g0, rtol=rtol, dist=dist, method=method, W_grid=W_grid)
    Wc = np.where(np.isfinite(coarse.W_th), coarse.W_th, -np.inf)
    if not np.isfinite(Wc).any():
        raise ValueError("no phase avalanches on the W grid; lower W_grid")
    best, theta_star = float(Wc.max()), float(th[int(np.argmax(Wc))])
    local_grid = np.geomspace(0.5 * best, 4.0 * best, 15)
    history, zooms = [best], []
    centres = list(th[np.argsort(Wc)[::-1][:n_starts]])
    h = 2 * np.pi / n_theta
    for _ in range(n_zoom):
        new_centres = []
        for c in centres:
            t = c + np.linspace(-h, h, n_local)
            m = qp_threshold_map(
                model, t, g0=g0, rtol=rtol, dist=dist, method=method, W_grid=local_grid
            )
            if np.any(m.status == Status.AVALANCHE_AT_MAX):
                raise RuntimeError("a phase avalanches at 4x the coarse maximum; widen W_grid")
            w = np.where(np.isfinite(m.W_th), m.W_th, -np.inf)
            k = int(np.argmax(w))
            zooms.append(m)
            new_centres.append(t[k])
            if w[k] > best:
                best, theta_star = float(w[k]), float(t[k] % (2 * np.pi))
        centres = new_centres
        history.append(best)
        h /= shrink
    err = best * rtol + (history[-1] - history[-2] if len(history) > 1 else 0.0)
    return SupThreshold(best, float(err), theta_star, np.asarray(history), coarse, tuple(zooms))
