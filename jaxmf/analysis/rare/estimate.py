"""Rare avalanches: f_aval(W) of random lattices far below what plain sampling sees.

For an iid random potential (``kind="random"`` of :mod:`jaxmf.models.lattice`, V_n
uniform on [-W, W]) the avalanche probability f_aval (eq. 19) stays non-zero at every W,
because a rare calm neighbourhood of the grain lets the avalanche start; for a
quasiperiodic (QP) potential the neighbourhood of the grain is fixed by theta0, so
f_aval is exactly zero above sup_theta0 W_th(theta0). This module makes both sides
computable:

* :func:`estimate`: importance sampling (IS). The sites within lattice radius ``r_b``
  of the origin draw V_n from a defensive mixture: the origin from
  q_0(v) = (1 - lam) TN(v; 0, s_0, [-W, W]) + lam / (2W), the sites of shell
  d = |n1| + |n2| in 1..r_b from q_d(v | V_0) = (1 - lam) TN(v; V_0, s_d, [-W, W])
  + lam / (2W) (Gaussians truncated to the support of p, centred on the origin's
  potential), all other sites from the original law p(v) = 1 / (2W). The estimator
  f = mean(w 1[avalanche]), w = prod_{|n| <= r_b} p(V_n) / q(V_n), is unbiased for any
  widths (q > 0 wherever p > 0), and the mixture bounds each site's ratio by 1 / lam.
* :func:`pilot_widths`: picks s_d = a W shape[d] from a ladder of a by short pilot
  runs (largest effective number of hits); :func:`cross_entropy` (multilevel
  cross-entropy on the score eta_tot / (N log 2 / 2)) is kept, but that score is nearly
  flat below the avalanche, so it only helps where avalanches are already sampled.
* the QP side, W_th(theta0) maps and sup_theta0 W_th, lives in
  :mod:`jaxmf.models.thresholds` (:func:`~jaxmf.models.thresholds.sup_threshold`).

Why calm neighbourhoods centred on V_0: at large W an avalanche needs the orbitals near
the origin to hybridize with the origin orbital, |V_n - V_0| small on a few shells, and
V_0 itself small (the unbiased sites outside then sit closest in energy: |V - V_0|
uniform on [0, W] rather than up to 2W). Measured (docs/rare_avalanches.md): the whole
ball of radius 3 is moderately calmed among avalanching draws, |V_n - V_0| ~ W / 4.
"""

from __future__ import annotations

import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special
from jax.scipy.special import ndtr, ndtri

from ... import _config  # noqa: F401  (float64)
from ..._checks import LOG2, check_radius
from ...meanfield import critical_log_scale, solve
from ...models import lattice
from . import subset as _subset

__all__ = [
    "RareEstimate",
    "potential_couplings",
    "shells",
    "sample_biased",
    "log_weights",
    "estimate",
    "plain_estimate",
    "cross_entropy",
    "pilot_widths",
    "f_aval_curve",
]



# --------------------------------------------------------------------------- couplings
def potential_couplings(V, R, *, g0=1.0, method="auto"):
    """Bare couplings g0 |phi_k(0)| (eq. 18) of the lattice with an explicit potential.

    A thin wrapper over the exact spectral routes of :mod:`jaxmf.models.lattice`
    (``"fast"``: banded host path; ``"eigh"``: dense, differentiable).

    Args:
        V: (..., N) on-site potential in the order of :func:`lattice.sites(R)`.
        R: lattice radius (static int), N = 2 R^2 + 2 R + 1.
        g0: grain coupling scale >= 0.
        method: ``"auto"``, ``"eigh"`` or ``"fast"``.

    Returns:
        (..., N) bare couplings ordered by orbital energy.
    """
    n = lattice.num_sites(R)
    V = jnp.asarray(V, jnp.float64)
    if V.shape[-1] != n:
        raise ValueError(f"V must have last axis N = {n} for R = {R}, got {V.shape}")
    spectrum = (lattice._spectrum_fast if lattice._resolve_method(method, n) == "fast"
                else lattice._spectrum_eigh)
    f = functools.partial(spectrum, R=R)
    for _ in range(V.ndim - 1):
        f = jax.vmap(f)
    return jnp.asarray(g0, jnp.float64) * f(V)[1]


def shells(R, r_b):
    """Shell index d = |n1| + |n2| of each site, and the biased-site mask d <= r_b.

    Returns:
        (d, mask): (N,) int and (N,) bool numpy arrays in the order of ``lattice.sites``.
    """
    _check_r_b(R, r_b)
    d = np.abs(lattice.sites(R)).sum(axis=-1)
    return d, d <= r_b


# --------------------------------------------------------------------------- bias law
def _check_r_b(R, r_b):
    check_radius(R)
    if isinstance(r_b, bool) or not isinstance(r_b, (int, np.integer)) or not 0 <= r_b <= R:
        raise ValueError(f"r_b (bias radius) must be an int in [0, R = {R}], got {r_b!r}")


def _check_bias(R, W, scales, lam, r_b):
    _check_r_b(R, r_b)
    W = np.asarray(W, np.float64)
    if not (np.isfinite(W) and W > 0):
        raise ValueError(f"W must be finite and > 0, got {W!r}")
    s = np.asarray(scales, np.float64)
    if s.shape != (r_b + 1,) or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(f"scales must be {r_b + 1} finite positive widths (shells 0..r_b), "
                         f"got {scales!r}")
    if not 0.0 <= float(lam) <= 1.0:
        raise ValueError(f"lam (defensive mixture weight) must be in [0, 1], got {lam!r}")


def _site_scales(R, r_b, scales):
    d, mask = shells(R, r_b)
    s = jnp.asarray(scales, jnp.float64)[np.minimum(d, r_b)]
    return s, jnp.asarray(mask)


def _tn_log_norm(mu, W, s):
    # log of the mass of N(mu, s) on [-W, W]
    return jnp.log(ndtr((W - mu) / s) - ndtr((-W - mu) / s))


def _log_q_sites(V, W, s, lam, mask):
    """log q(V_n | V_0) for every site: the origin is centred at 0, shells d >= 1 at V_0."""
    mu = jnp.where(jnp.arange(V.shape[-1]) == 0, 0.0, V[..., :1])
    log_g = (-0.5 * ((V - mu) / s) ** 2 - 0.5 * np.log(2 * np.pi) - jnp.log(s)
             - _tn_log_norm(mu, W, s))
    lq = jnp.logaddexp(jnp.log1p(-lam) + log_g, jnp.log(lam) - jnp.log(2.0 * W))
    return jnp.where(mask, lq, -jnp.log(2.0 * W))


@functools.partial(jax.jit, static_argnums=(1, 5))
def _sample(key, R, W, scales, lam, r_b):
    n = lattice.num_sites(R)
    s, mask = _site_scales(R, r_b, scales)
    k1, k2, k3 = jax.random.split(key, 3)
    uniform = jax.random.uniform(k1, (n,), jnp.float64, -W, W)
    u = jax.random.uniform(k2, (n,), jnp.float64)
    pick = mask & (jax.random.uniform(k3, (n,)) >= lam)

    def tn(mu, s, u):
        a, b = ndtr((-W - mu) / s), ndtr((W - mu) / s)
        return jnp.clip(mu + s * ndtri(a + u * (b - a)), -W, W)

    v0 = jnp.where(pick[0], tn(0.0, s[0], u[0]), uniform[0])
    V = jnp.where(pick, tn(v0, s, u), uniform).at[0].set(v0)
    return V, _log_weight(V, R, W, scales, lam, r_b)


def _log_weight(V, R, W, scales, lam, r_b):
    s, mask = _site_scales(R, r_b, scales)
    return jnp.sum(-jnp.log(2.0 * W) - _log_q_sites(V, W, s, lam, mask), axis=-1)


def sample_biased(key, R, W, *, scales, lam=0.1, r_b=None):
    """Draw one potential from the biased law q and its log likelihood ratio log p/q.

    Args:
        key: JAX PRNG key (vmap over keys for a batch).
        R: lattice radius (static int).
        W: disorder strength > 0.
        scales: (r_b + 1,) Gaussian widths s_d of shells d = 0..r_b (d = |n1| + |n2|).
        lam: defensive mixture weight in [0, 1] (1: plain sampling, w = 1).
        r_b: bias radius (default ``len(scales) - 1``).

    Returns:
        (V, log_w): (N,) potential in the order of ``lattice.sites(R)`` and the scalar
        log w = sum_{|n| <= r_b} [log p(V_n) - log q(V_n)].
    """
    r_b = len(np.atleast_1d(scales)) - 1 if r_b is None else r_b
    _check_bias(R, W, scales, lam, r_b)
    return _sample(key, R, jnp.float64(W), jnp.asarray(scales, jnp.float64),
                   jnp.float64(lam), r_b)


def log_weights(V, R, W, *, scales, lam=0.1, r_b=None):
    """log p(V)/q(V) for (..., N) potentials V (the IS log weights)."""
    r_b = len(np.atleast_1d(scales)) - 1 if r_b is None else r_b
    _check_bias(R, W, scales, lam, r_b)
    return _log_weight(jnp.asarray(V, jnp.float64), R, jnp.float64(W),
                       jnp.asarray(scales, jnp.float64), jnp.float64(lam), r_b)


# --------------------------------------------------------------------------- evaluation
@functools.lru_cache(maxsize=None)
def _scorer(R, dist, method):
    @jax.jit
    def score(V, g0):
        res = solve(potential_couplings(V, R, g0=g0, method=method), dist)
        return res.eta_tot / (0.5 * res.n_lbits * LOG2), res.converged

    return score


@functools.lru_cache(maxsize=None)
def _sampler(R, r_b):
    return jax.jit(jax.vmap(lambda k, W, s, lam: _sample(k, R, W, s, lam, r_b),
                            in_axes=(0, None, None, None)))


def _run(key, R, W, g0, scales, lam, r_b, n, dist, method, chunk):
    """n biased draws: (V, log_w, score); score >= 1 (strictly >) is an avalanche."""
    _check_bias(R, W, scales, lam, r_b)
    if g0 < 0:
        raise ValueError(f"g0 must be >= 0, got {g0!r}")
    sample, score = _sampler(R, r_b), _scorer(R, dist, method)
    keys = jax.random.split(key, n)
    Vs, lws, scs, conv = [], [], [], []
    for i in range(0, n, chunk):
        k = keys[i:i + chunk]
        if len(k) < chunk:  # pad to one compiled shape
            k = jnp.concatenate([k, jnp.repeat(k[-1:], chunk - len(k), axis=0)])
        V, lw = sample(k, jnp.float64(W), jnp.asarray(scales, jnp.float64), jnp.float64(lam))
        sc, cv = score(V, jnp.float64(g0))
        m = min(chunk, n - i)
        Vs.append(np.asarray(V)[:m]); lws.append(np.asarray(lw)[:m])
        scs.append(np.asarray(sc)[:m]); conv.append(np.asarray(cv)[:m])
    return np.concatenate(Vs), np.concatenate(lws), np.concatenate(scs), np.concatenate(conv)


class RareEstimate(NamedTuple):
    """Importance-sampling estimate of f_aval.

    Attributes:
        f: estimate mean(w 1[aval]).
        stderr: standard error, std(w 1[aval]) / sqrt(n).
        ess: effective number of hits (sum w h)^2 / sum (w h)^2.
        n: number of draws; hits: number of avalanching draws.
        mean_w: mean(w) (should be 1 within mean_w_err; a diagnostic).
        mean_w_err: its standard error.
        unconverged: draws where the solver did not converge (counted as they fall).
        shell_rms: (r_b + 1,) sqrt(E[V_n^2 | aval]) per shell d (the conditional law
            of the potential near the grain among avalanching samples), nan if no hits.
        shell_calm: (r_b + 1,) P(|V_n| < 1 | aval) per shell.
        scales, lam, r_b: the bias law used.
    """

    f: float
    stderr: float
    ess: float
    n: int
    hits: int
    mean_w: float
    mean_w_err: float
    unconverged: int
    shell_rms: np.ndarray
    shell_calm: np.ndarray
    scales: np.ndarray
    lam: float
    r_b: int


def _offsets(V, d, k):
    # shell 0: V_0 itself; shells d >= 1: V_n - V_0 (what the bias law centres on)
    v = V[:, d == k]
    return v if k == 0 else v - V[:, :1]


def _summarize(V, lw, sc, conv, R, scales, lam, r_b):
    n = len(lw)
    h = sc > 1.0
    w = np.exp(lw)
    wh = np.where(h, w, 0.0)
    f = wh.mean()
    se = wh.std(ddof=1) / np.sqrt(n) if n > 1 else np.inf
    ess = wh.sum() ** 2 / np.sum(wh ** 2) if h.any() else 0.0
    d, _ = shells(R, r_b)
    rms, calm = np.full(r_b + 1, np.nan), np.full(r_b + 1, np.nan)
    if h.any():
        ww = wh[h] / wh[h].sum()
        for k in range(r_b + 1):
            v = _offsets(V[h], d, k)
            rms[k] = np.sqrt(ww @ np.mean(v ** 2, axis=1))
            calm[k] = ww @ np.mean(np.abs(v) < 1.0, axis=1)
    return RareEstimate(float(f), float(se), float(ess), n, int(h.sum()), float(w.mean()),
                        float(w.std(ddof=1) / np.sqrt(n)) if n > 1 else np.inf,
                        int((~conv).sum()), rms, calm, np.asarray(scales, float), float(lam),
                        int(r_b))


def estimate(key, R, W, *, g0=1.0, scales, lam=0.1, r_b=None, n=1000, dist="goe",
             method="auto", chunk=128):
    """Importance-sampling estimate of the avalanche probability f_aval(W, R, g0).

    Draws ``n`` potentials from the biased law (:func:`sample_biased`), solves the
    mean-field equations for each, and returns mean(w 1[eta_tot > N log 2 / 2]) with its
    standard error. Unbiased for any widths: E_q[w h] = E_p[h].

    Args:
        key: JAX PRNG key (the estimate is a deterministic function of it).
        R: lattice radius (static int).
        W: disorder strength > 0.
        g0: grain coupling scale >= 0.
        scales: (r_b + 1,) Gaussian widths per shell (e.g. from :func:`cross_entropy`).
        lam: defensive mixture weight in [0, 1]; lam = 1 is plain sampling.
        r_b: bias radius (default ``len(scales) - 1``), 0 <= r_b <= R.
        n: number of draws.
        dist: ptilde family ("goe" or "poisson").
        method: spectral route (see :func:`potential_couplings`).
        chunk: draws per compiled batch.

    Returns:
        :class:`RareEstimate`.
    """
    r_b = len(np.atleast_1d(scales)) - 1 if r_b is None else r_b
    out = _run(key, R, W, g0, scales, lam, r_b, n, dist, method, chunk)
    return _summarize(*out, R, scales, lam, r_b)


def plain_estimate(key, R, W, *, g0=1.0, n=1000, dist="goe", method="auto", chunk=128):
    """Plain Monte Carlo f_aval from ``lattice.bare_couplings(kind="random")`` draws.

    Independent of the IS sampler (a different sampler of the same law); for checks.

    Returns:
        (f, stderr, hits).
    """
    if not (np.isfinite(W) and W >= 0):
        raise ValueError(f"W must be finite and >= 0, got {W!r}")
    f = jax.jit(jax.vmap(lambda k: lattice.bare_couplings(R, W, g0=g0, key=k, kind="random",
                                                          method=method)))
    keys = jax.random.split(key, n)
    hits = 0
    for i in range(0, n, chunk):
        res = solve(f(keys[i:i + chunk]), dist)
        hits += int(np.sum(np.asarray(res.eta_tot > 0.5 * res.n_lbits * LOG2)))
    p = hits / n
    return p, float(np.sqrt(max(p * (1 - p), 1.0 / n ** 2) / n)), hits


def cross_entropy(key, R, W, *, g0=1.0, r_b=3, lam=0.1, scales=None, n=400, rho=0.1,
                  min_hits=10, max_iter=8, smoothing=0.7, min_scale=0.05, dist="goe", method="auto",
                  chunk=128, verbose=False):
    """Adapt the per-shell widths by the multilevel cross-entropy method.

    Each iteration draws ``n`` potentials from the current law, sets the level
    gamma = min(1, weighted (1 - rho) quantile of the score eta_tot / (N log 2 / 2)),
    and refits s_d^2 = weighted mean of V_n^2 over the sites of shell d among draws with
    score >= gamma (the Gaussian maximum-likelihood step, weights w = p / q); the new
    widths are s <- s_old^(1 - smoothing) s_fit^smoothing. Stops after two iterations
    at level 1 (the avalanche itself). The widths only steer the sampler; any widths give
    an unbiased :func:`estimate`.

    Args:
        key: JAX PRNG key.
        R, W, g0: lattice radius, disorder, coupling scale.
        r_b: bias radius (shells 0..r_b are biased).
        lam: defensive mixture weight used during the adaptation and returned.
        scales: initial widths (default W / 2 in every shell).
        n: draws per iteration; rho: elite fraction.
        max_iter: iteration limit.
        smoothing: step in log width (1: no smoothing).
        min_scale: floor on the widths.

    Returns:
        dict(scales, lam, r_b, levels, iterations, draws).
    """
    _check_r_b(R, r_b)
    if not 0 < rho < 1:
        raise ValueError(f"rho must be in (0, 1), got {rho!r}")
    s = np.full(r_b + 1, W / 2.0) if scales is None else np.asarray(scales, float).copy()
    d, _ = shells(R, r_b)
    levels, at_top = [], 0
    for it in range(max_iter):
        key, sub = jax.random.split(key)
        V, lw, sc, _ = _run(sub, R, W, g0, s, lam, r_b, n, dist, method, chunk)
        w = np.exp(lw - lw.max())
        order = np.argsort(sc)[::-1]
        cw = np.cumsum(w[order]) / w.sum()
        hits = sc > 1.0
        if hits.sum() >= min_hits:
            gamma, elite = 1.0, hits
        else:
            gamma = float(sc[order][min(np.searchsorted(cw, rho), n - 1)])
            elite = sc >= gamma
        we = w[elite] / w[elite].sum()
        fit = np.array([np.sqrt(we @ np.mean(_offsets(V[elite], d, k) ** 2, axis=1))
                        for k in range(r_b + 1)])
        fit = np.clip(fit, min_scale, W)
        s = np.exp((1 - smoothing) * np.log(s) + smoothing * np.log(fit))
        levels.append(float(gamma))
        if verbose:
            print(f"  CE {it}: level {gamma:.3f}, elite {elite.sum()}, scales "
                  + " ".join(f"{x:.3g}" for x in s), flush=True)
        at_top = at_top + 1 if gamma >= 1.0 else 0
        if at_top >= 2:
            break
    return {"scales": s, "lam": lam, "r_b": r_b, "levels": levels,
            "iterations": len(levels), "draws": len(levels) * n}


SHAPE = (1.0, 1.35, 1.6, 1.8, 2.0, 2.0)
"""Default relative widths of shells d = 0, 1, 2, ... for :func:`pilot_widths`."""


def pilot_widths(key, R, W, *, g0=1.0, r_b=3, lam=0.1,
                 amplitudes=(0.06, 0.1, 0.15, 0.22, 0.32, 0.45),
                 shape=SHAPE, n=128, dist="goe", method="auto"):
    """Pick the widths s_d = a W shape[d] from a ladder of amplitudes a by pilot runs.

    Each pilot is an unbiased :func:`estimate` with ``n`` draws; the amplitude with the
    largest effective number of hits (sum w h)^2 / sum (w h)^2 wins (at least 3 hits).
    The relative standard error is not used to select: with heavy-tailed weights (too
    narrow a law) the sample error is itself badly underestimated, while a small
    effective number of hits exposes it. Robust where the cross-entropy score eta_tot
    carries no information below the avalanche (it is nearly flat there). Use a fresh
    key for the final estimate.

    Returns:
        dict(scales, amplitude, pilots=[(a, f, stderr, hits, ess), ...]).
    """
    _check_r_b(R, r_b)
    if len(shape) < r_b + 1:
        raise ValueError(f"shape needs {r_b + 1} entries, got {len(shape)}")
    pilots, best = [], None
    for i, a in enumerate(amplitudes):
        sc = np.minimum(a * W * np.asarray(shape[:r_b + 1], float), 2.0 * W)
        e = estimate(jax.random.fold_in(key, i), R, W, g0=g0, scales=sc, lam=lam, n=n,
                     dist=dist, method=method, chunk=min(128, n))
        pilots.append((float(a), e.f, e.stderr, e.hits, e.ess))
        if e.hits >= 3 and e.f > 0:
            rank = (-e.ess, e.stderr / e.f)
            if best is None or rank < best[0]:
                best = (rank, a, sc)
    if best is None:  # no pilot hit: the narrowest law (the calmest neighbourhood)
        a = amplitudes[0]
        best = (None, a, np.minimum(a * W * np.asarray(shape[:r_b + 1], float), 2.0 * W))
    return {"scales": best[2], "amplitude": float(best[1]), "pilots": pilots}


def f_aval_curve(key, R, Ws, *, g0=1.0, r_b=3, lam=0.1, n=1000, n_ce=128, adapt="pilot",
                 scales=None, dist="goe", method="auto", verbose=False, callback=None):
    """f_aval(W) with standard errors over a W grid (ascending), by IS.

    For each W the widths are chosen by :func:`pilot_widths` (``adapt="pilot"``, the
    default; ``n_ce`` draws per pilot), adapted by :func:`cross_entropy` starting from
    the previous W's widths (``adapt=True``), or taken from ``scales`` (a dict W -> widths
    or one array for every W) -- e.g. widths adapted on a smaller lattice, since the
    calm neighbourhood is local. The final estimate uses a fresh key.

    Returns:
        list of dicts, one per W: W, f, stderr, ess, hits, n, scales, shell_rms,
        shell_calm, mean_w, seconds.
    """
    out, s = [], None
    for i, W in enumerate(Ws):
        t0 = time.time()
        k_ce, k_est = jax.random.split(jax.random.fold_in(key, i))
        if isinstance(scales, dict):
            s = np.asarray(scales[W], float)
        elif scales is not None:
            s = np.asarray(scales, float)
        if adapt == "pilot":
            pil = pilot_widths(k_ce, R, W, g0=g0, r_b=r_b, lam=lam, n=n_ce, dist=dist,
                               method=method)
            s = pil["scales"]
            if verbose:
                print("  pilots (a, f, se, hits, ess): " + "; ".join(
                    f"{a:g} {f:.2g} {e:.1g} {h} {x:.1f}" for a, f, e, h, x in pil["pilots"]))
        elif adapt:
            s0 = None if s is None else np.minimum(s, W)
            s = cross_entropy(k_ce, R, W, g0=g0, r_b=r_b, lam=lam, scales=s0, n=n_ce,
                              dist=dist, method=method, verbose=verbose)["scales"]
        est = estimate(k_est, R, W, g0=g0, scales=s, lam=lam, r_b=len(s) - 1, n=n,
                       dist=dist, method=method)
        row = {"W": float(W), "R": R, "g0": g0, "f": est.f, "stderr": est.stderr,
               "ess": est.ess, "hits": est.hits, "n": est.n, "lam": lam,
               "scales": est.scales.tolist(), "shell_rms": est.shell_rms.tolist(),
               "shell_calm": est.shell_calm.tolist(), "mean_w": est.mean_w,
               "mean_w_err": est.mean_w_err, "unconverged": est.unconverged,
               "seconds": time.time() - t0}
        out.append(row)
        if verbose:
            print(f"R={R} g0={g0} W={W:g}: f = {est.f:.3e} +- {est.stderr:.1e} "
                  f"(hits {est.hits}, ess {est.ess:.1f}, {row['seconds']:.0f} s)", flush=True)
        if callback is not None:
            callback(row)
    return out


# --------------------------------------------------------------------------- subset simulation
def critical_log_g0(V, R, *, dist="goe", method="auto", bracket=(-20.0, 20.0), n_bisect=20):
    """log g0_c: the lattice with potential V avalanches iff log g0 > log g0_c.

    The bare couplings are g0 |phi_k(0)| (eq. 18), so g0 is an overall scale and
    :func:`jaxmf.meanfield.critical_log_scale` of log |phi_k(0)| is the critical grain
    coupling. One realization's g0_c answers the avalanche question for every g0 at
    once: f_aval(W, g0) = P(log g0_c < log g0).

    Args:
        V: (..., N) on-site potentials (order of ``lattice.sites(R)``).
        R: lattice radius (static int).
        dist: ptilde family.
        method: spectral route (see :func:`potential_couplings`).
        bracket: search range of log g0_c (outside: -inf / +inf).
        n_bisect: bisection steps (default: resolution 40 / 2^21 = 2e-5 in log g0).

    Returns:
        (log_g0c, converged): (...) arrays.
    """
    c = potential_couplings(V, R, g0=1.0, method=method)
    pos = c > 0
    return critical_log_scale(jnp.where(pos, jnp.log(jnp.where(pos, c, 1.0)), -jnp.inf),
                              dist, bracket=bracket, n_bisect=n_bisect)


@functools.lru_cache(maxsize=None)
def _critical_scorer(R, dist, method, bracket, n_bisect):
    @jax.jit
    def score(z, W):
        V = W * (2.0 * ndtr(z) - 1.0)  # z ~ N(0, 1) -> V ~ U(-W, W), site by site
        return critical_log_g0(V, R, dist=dist, method=method, bracket=bracket,
                               n_bisect=n_bisect)
    return score


NEAR = 4  # local moves act mostly on the shells d <= NEAR around the grain
N_SCALES = 14  # local step sizes 2^-j, j = 0 .. 13, in units of W
MOVES = ("lattice", "pcn")
THIN = 5  # Markov steps per recorded state: decorrelates each level from its seeds


def lattice_moves(R, near=NEAR, local_fraction=0.5, block_fraction=0.5, wrap=True):
    """Metropolis moves for subset simulation of the lattice potentials, in z variables.

    V_n = W (2 Phi(z_n) - 1) with z ~ N(0, I). A mixture, chosen per proposal
    independently of the state (so each kernel, and hence the mixture, is reversible
    for the prior):

    * pCN in z (all sites at once; mixes the bulk; its step is the adapted sigma);
    * with probability ``local_fraction`` instead a local move in v = V / W (uniform
      prior, symmetric move, invalid outside [-1, 1]): either (probability
      ``block_fraction``) a common shift of every site with d <= r, r uniform in
      0..near + 2, or a single-site shift of one site (3/4 of them among d <= near).
      The shift is 2^-j xi, j uniform in 0..13: down to ~1e-4 W, the width of a
      resonance |V_n - V_m| ~ t at W ~ 300. Deep in the tail the avalanching
      potentials are thin sets (a few near-resonances around the grain) that an
      isotropic move leaves at once; common shifts keep the resonances and move them.
      With ``wrap`` (default) the shift is a rotation of the circle u = (v + 1) / 2
      mod 1, which keeps the uniform prior and is valid for every step, so the grain's
      whole neighbourhood can travel through the band; without it a block containing
      a site near +-W can only move by tiny steps (the grain's potential V_0 then stays
      where the seed put it, and populations coalesce to one ancestor).

    Returns:
        propose(key, z, sigma) -> (z', valid, scaled) for :func:`jaxmf._subset.run`
        (scaled: the pCN proposals, on which sigma is adapted).
    """
    d = np.abs(lattice.sites(R)).sum(axis=-1)
    near_mask = d <= near
    w = np.where(near_mask, 0.75 / near_mask.sum(), 0.25 / max(1, (~near_mask).sum()))
    w = w / w.sum()

    def propose(key, z, sigma):
        m, N = z.shape
        k = jax.random.split(key, 7)
        zp, _ = _subset.pcn(k[0], z, sigma)
        local = np.asarray(jax.random.uniform(k[1], (m,))) < local_fraction
        block = np.asarray(jax.random.uniform(k[2], (m,))) < block_fraction
        step = 2.0 ** -np.asarray(jax.random.randint(k[3], (m,), 0, N_SCALES))
        delta = step * np.asarray(jax.random.normal(k[4], (m,), jnp.float64))
        site = np.asarray(jax.random.choice(k[5], N, (m,), p=jnp.asarray(w)))
        radius = np.asarray(jax.random.randint(k[6], (m,), 0, near + 3))
        mask = np.where(block[:, None], d[None, :] <= radius[:, None],
                        np.arange(N)[None, :] == site[:, None])
        u = scipy.special.ndtr(z) + 0.5 * delta[:, None] * mask  # u = (v + 1) / 2
        if wrap:  # rotation of the circle u in [0, 1): every shift is valid
            u = np.mod(u, 1.0)
        ok = np.all(~mask | ((u > 0.0) & (u < 1.0)), axis=1)
        zl = np.where(mask, scipy.special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), z)
        out = np.where(local[:, None], np.where(ok[:, None], zl, z), zp)
        return out, np.where(local, ok, True), ~local

    return propose


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


def subset_estimate(key, R, W, *, g0=(1.0,), n=500, replicas=4, p0=0.1, max_levels=14,
                    moves="lattice", dist="goe", method="auto", chunk=None, n_bisect=20,
                    bracket=(-20.0, 20.0), thin=THIN, progress=False):
    """f_aval(W, R, g0) of random lattices down to ~1e-13 by subset simulation.

    Reaction coordinate: the critical grain coupling log g0_c(V) (:func:`critical_log_g0`),
    a continuous score that orders every potential by how close it is to avalanching
    (eta_tot itself is nearly flat below the avalanche). Subset simulation
    (``jaxmf._subset``) in Gaussian variables z for all N sites, V_n = W (2 Phi(z_n) - 1),
    with the moves of :func:`lattice_moves`, lowers the threshold on log g0_c level by
    level (p0 per level) until it passes log min(g0); every g0 in ``g0`` is read off the
    same run. ``replicas`` independent runs give the error bar (their spread; it
    includes the correlation of the Markov chains and the O(1/n) bias of each run).

    Args:
        key: JAX PRNG key (the estimate is a deterministic function of it).
        R: lattice radius (static int).
        W: disorder strength > 0.
        g0: grain couplings (> 0) to report.
        n: samples per level and replica (n p0 and 1 / p0 integers).
        replicas: independent runs (>= 2 for an error bar).
        p0: conditional probability per level.
        max_levels: level limit (resolves f down to ~p0^max_levels / n).
        moves: "lattice" (:func:`lattice_moves`, default) or "pcn" (isotropic pCN
            only; it gets stuck below ~1e-7 at R = 10, see docs/rare_avalanches.md).
        dist, method: ptilde family and spectral route.
        chunk: lattices per compiled batch (default n p0).
        n_bisect, bracket: resolution and range of log g0_c.
        thin: Markov steps per recorded state (cost x thin; see :func:`jaxmf._subset.run`).
            With thin = 1 the chains barely leave their seeds at f < 1e-3 (R = 10) and
            the populations coalesce to a few ancestors within 3-4 levels: replicas then
            scatter over decades (docs/rare_avalanches.md).
        progress: print one line per level.

    Returns:
        :class:`SubsetEstimate`.
    """
    check_radius(R)
    if not (np.isfinite(W) and W > 0):
        raise ValueError(f"W must be finite and > 0, got {W!r}")
    g0 = np.atleast_1d(np.asarray(g0, float))
    if g0.size == 0 or not np.all(np.isfinite(g0) & (g0 > 0)):
        raise ValueError(f"g0 must be finite couplings > 0, got {g0!r}")
    if isinstance(replicas, bool) or not isinstance(replicas, (int, np.integer)) or replicas < 1:
        raise ValueError(f"replicas must be an int >= 1, got {replicas!r}")
    if moves not in MOVES:
        raise ValueError(f"moves must be one of {MOVES}, got {moves!r}")
    propose = _subset.pcn if moves == "pcn" else lattice_moves(R)
    t0 = time.time()
    score_fn = _critical_scorer(R, dist, method, tuple(float(b) for b in bracket), int(n_bisect))
    bad = [0]

    def score(z):
        lam, ok = score_fn(jnp.asarray(z), jnp.float64(W))
        bad[0] += int(np.sum(~np.asarray(ok)))
        return np.asarray(lam)

    stop = float(np.log(g0.min()))
    est, levels, acc, conds, lasts, evals, floors, distinct = [], [], [], [], [], 0, [], []
    for r in range(replicas):
        cb = None
        if progress:
            def cb(level, b, r=r):
                print(f"  R={R} W={W:g} replica {r}: level {level}, log g0_c <= {b:.4f}",
                      flush=True)
        run = _subset.run(jax.random.fold_in(key, r), score, lattice.num_sites(R), n=n,
                          p0=p0, stop=stop, max_levels=max_levels, propose=propose,
                          thin=thin,
                          chunk=chunk or max(1, int(round(n * p0))), progress=cb)
        # avalanche iff log g0 > log g0_c; P(log g0_c = log g0) = 0
        est.append(_subset.tail_probability(run, np.log(g0))[0])
        levels.append(len(run.thresholds))
        acc.append(float(np.nanmean(run.acceptance)) if len(run.acceptance) else np.nan)
        distinct.append(float(np.min(run.distinct)) if len(run.distinct) else 1.0)
        conds.append(2.0 * scipy.special.ndtr(run.samples) - 1.0)
        lasts.append(run.thresholds[-1] if len(run.thresholds) else np.inf)
        evals += run.n_evals
        floors.append(p0 ** len(run.thresholds) / n)
    rep = np.asarray(est)
    se = rep.std(axis=0, ddof=1) / np.sqrt(replicas) if replicas > 1 else np.full(g0.size, np.inf)
    return SubsetEstimate(g0, rep.mean(axis=0), se, rep, float(min(floors)), np.asarray(levels),
                          np.asarray(acc), np.asarray(distinct), int(evals), int(bad[0]),
                          W * np.concatenate(conds),
                          np.asarray(lasts), time.time() - t0)


def calm_profile(V, R, r_max=4, widths=(1.0, 3.0, 10.0)):
    """How calm the neighbourhood of the grain is, shell by shell.

    Args:
        V: (M, N) potentials (e.g. ``SubsetEstimate.conditional_V``), hopping t = 1.
        R: lattice radius.
        r_max: last shell d = |n1| + |n2| reported.
        widths: resonance widths a for the counts below.

    Returns:
        dict(rms=(r_max + 1,) root-mean-square of V_0 (d = 0) and of V_n - V_0 (d >= 1),
        median_abs=(r_max + 1,) the medians of their absolute values,
        resonant=(len(widths),) mean number of sites with 1 <= d <= r_max and
        |V_n - V_0| < a, resonant_iid=(len(widths),) the same for V uniform on [-W, W]
        (exact: sum over sites of a/W - a^2/(4 W^2), with W = max |V|)).
    """
    d = np.abs(lattice.sites(R)).sum(axis=-1)
    V = np.asarray(V, float)
    rms, med = [], []
    for k in range(min(r_max, R) + 1):
        v = _offsets(V, d, k)
        rms.append(float(np.sqrt(np.mean(v ** 2))))
        med.append(float(np.median(np.abs(v))))
    near = (d >= 1) & (d <= r_max)
    diff = np.abs(V[:, near] - V[:, :1])
    W = float(np.max(np.abs(V)))
    a = np.asarray(widths, float)
    res = np.array([float(np.mean(np.sum(diff < x, axis=1))) for x in a])
    iid = near.sum() * (a / W - a ** 2 / (4 * W ** 2))
    return {"rms": np.asarray(rms), "median_abs": np.asarray(med), "resonant": res,
            "resonant_iid": iid, "widths": a}


def reliable(replicas, levels, max_levels):
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


def f_aval_tail(key, R, Ws, *, g0=(1.0, 0.5), n=500, replicas=4, p0=0.1, max_levels=14,
                moves="lattice", thin=THIN, dist="goe", method="auto", progress=False,
                callback=None):
    """f_aval(W) for several g0 by :func:`subset_estimate`, one run per W (its key
    ``fold_in(key, round(1000 W))``, so a W grid can be split across processes).

    Returns:
        list of dicts, one per (W, g0): W, R, g0, f, stderr, reliable (:func:`reliable`),
        replicas, floor, levels, acceptance, distinct, n_evals, unconverged,
        last_threshold, calm_rms_rel (:func:`calm_profile` rms of the last population
        relative to the iid values W/sqrt3, W sqrt(2/3)), resonant, resonant_iid,
        seconds, method, moves, thin.
    """
    rows = []
    for W in Ws:
        e = subset_estimate(jax.random.fold_in(key, int(round(1000 * W))), R, float(W),
                            g0=g0, n=n, replicas=replicas, p0=p0, max_levels=max_levels,
                            moves=moves, thin=thin, dist=dist, method=method,
                            progress=progress)
        prof = calm_profile(e.conditional_V, R)
        ref = np.array([W / np.sqrt(3.0)] + [W * np.sqrt(2.0 / 3.0)] * (len(prof["rms"]) - 1))
        for j, g in enumerate(e.g0):
            rep = e.replicas[:, j]
            row = {"W": float(W), "R": R, "g0": float(g), "f": float(e.f[j]),
                   "reliable": reliable(rep, e.levels, max_levels),
                   "stderr": float(e.stderr[j]), "replicas": rep.tolist(),
                   "floor": e.floor, "levels": e.levels.tolist(),
                   "acceptance": e.acceptance.tolist(), "distinct": e.distinct.tolist(), "n": n, "n_replicas": replicas,
                   "n_evals": e.n_evals, "unconverged": e.unconverged,
                   "last_threshold": e.last_threshold.tolist(),
                   "calm_rms_rel": (prof["rms"] / ref).tolist(),
                   "resonant": prof["resonant"].tolist(),
                   "resonant_iid": prof["resonant_iid"].tolist(), "seconds": e.seconds,
                   "method": "subset", "moves": moves, "thin": thin}
            rows.append(row)
            if callback is not None:
                callback(row)
        if progress:
            print(f"R={R} W={W:g}: " + ", ".join(
                f"f(g0={g:g}) = {f:.3e} +- {s:.1e}" for g, f, s in zip(e.g0, e.f, e.stderr))
                + f" ({e.seconds:.0f} s, {e.n_evals} lattices)", flush=True)
    return rows


def fit_tail(rows, W_min=0.0):
    """Weighted fits of log f_aval(W) on rows with f > 0 and W >= W_min.

    Two forms: exponential log f = a - W / W_1 and power law log f = a - m log W.
    Weights from the relative standard errors (floor 5 %).

    Returns:
        dict(exp=(W_1, err, chi2/dof), power=(m, err, chi2/dof), n=points).
    """
    rr = sorted((r for r in rows if r["f"] > 0 and r["W"] >= W_min), key=lambda r: r["W"])
    out = {"n": len(rr)}
    if len(rr) < 3:
        return out | {"exp": (np.nan,) * 3, "power": (np.nan,) * 3}
    W = np.array([r["W"] for r in rr]); y = np.log([r["f"] for r in rr])
    sig = np.maximum([r["stderr"] / r["f"] for r in rr], 0.05)
    for name, x in (("exp", W), ("power", np.log(W))):
        A = np.stack([np.ones_like(x), x], axis=1) / sig[:, None]
        coef, *_ = np.linalg.lstsq(A, y / sig, rcond=None)
        cov = np.linalg.inv(A.T @ A)
        chi2 = float(np.sum((A @ coef - y / sig) ** 2)) / (len(rr) - 2)
        slope, err = coef[1], float(np.sqrt(cov[1, 1]))
        out[name] = ((-1.0 / slope, err / slope ** 2, chi2) if name == "exp"
                     else (-slope, err, chi2))
    return out
