"""The fold of the symmetric model, g_{n,0} = g0 for all n: g_c(N) (eq. 21-22).

All l-bits are equivalent, so the mean-field equations reduce to one scalar equation
for l = log g,  l - (N - 1) eta(l) / 2 = log g0  =: f(l) = l0.
f increases from -inf up to its first maximum at l*, where (N - 1) eta'(l*) = 2
(eta' = d eta / d log g); the localized (smallest) root exists iff l0 <= f(l*).
Hence the critical coupling, exactly:  log g_c(N) = f(l*).
Asymptotically g_c ~ 1 / (4 e N log N) since eta ~ 8 g log(1/g) at small g.

Below the eta table (g < 1e-12, reached by the fold for N >~ 1e10) eta is exactly
g (a log(1/g) + b) (see `jaxmf.enhancement.eta_and_slope_of_log_g`), and the fold is
solved in log space, L = -log g: L = log(N - 1) + log(a L + b - a) - log 2, so g_c is
right for any N up to the float64 range (g_c N log N -> 1/(4e) as N -> inf).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import is_concrete, nan_where_invalid
from ..enhancement import LOG10_G_MIN, eta_and_slope_of_log_g, eta_of_log_g
from ..resonance import check_dist

__all__ = ["critical_coupling", "localized_log_coupling"]


def _eta_slope(l, dist):
    """eta' = d eta / d log g (the table's exact interpolant slope)."""
    return eta_and_slope_of_log_g(l, dist)[1]


def _first_fold(n_minus_1, dist):
    """Smallest l with (N - 1) eta'(l) = 2 (bisection in log g; eta' rises from 0)."""
    grid = jnp.linspace(-40.0, 10.0, 2001)
    slopes = _eta_slope(grid, dist)
    # eta' is increasing on the left of its peak: bracket [-40, l_peak]
    hi0 = grid[jnp.argmax(slopes)]

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        below = n_minus_1 * _eta_slope(mid, dist) < 2.0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(
        0, 80, body, (jnp.full_like(n_minus_1, -40.0), jnp.full_like(n_minus_1, 1.0) * hi0)
    )
    return 0.5 * (lo + hi)


U_TABLE_MIN = LOG10_G_MIN * float(np.log(10.0))
"""log g of the first node of the eta table; below it eta = g (a log(1/g) + b)."""


def _small_g_law(dist):
    """(a, b) of eta = g (a log(1/g) + b), the continuation of eta below the table."""
    u = U_TABLE_MIN - 2.0
    e, s = eta_and_slope_of_log_g(jnp.float64(u), dist)
    g = np.exp(u)
    a = (e - s) / g  # d eta / du = eta - a g
    return a, e / g + a * u


def _log_gc_below_table(n1, dist):
    """log g_c when the fold lies below the table: with g = e^-L the fold condition
    (N - 1) d eta/du = 2 reads (N - 1) e^-L (a L + b - a) = 2; a fixed point in L
    (contraction ~ 1/L < 0.04), then log g_c = -L - (N - 1) eta / 2 in log space."""
    a, b = _small_g_law(dist)
    log_n1 = jnp.log(n1)
    L = jax.lax.fori_loop(0, 40, lambda _, L: log_n1 + jnp.log(a * L + b - a) - np.log(2.0), log_n1)
    return -L - (a * L + b) / (a * L + b - a)


def critical_coupling(N, dist: str = "goe"):
    """g_c(N): the largest symmetric bare coupling with a localized solution.

    Args:
        N: number of l-bits (>= 2), scalar or array (float OK for smooth scans).
        dist: ptilde family.

    Returns:
        g_c, same shape as N. (For N = 1 there is no fold: g_c = inf.)
    """
    check_dist(dist)
    if is_concrete(N) and np.any(np.asarray(N) < 2):
        raise ValueError(f"N must be >= 2 for a finite g_c, got {N}")
    n1 = jnp.asarray(N, jnp.float64) - 1.0
    valid = (n1 >= 1.0) & jnp.isfinite(n1)  # under jit N < 2 gives NaN
    n1 = jnp.where(valid, n1, 1.0)
    below = n1 * eta_and_slope_of_log_g(jnp.float64(U_TABLE_MIN), dist)[1] > 2.0
    l_star = _first_fold(jnp.where(below, 1.0, n1), dist)
    log_gc = jnp.where(
        below,
        _log_gc_below_table(jnp.where(below, n1, 1e12), dist),
        l_star - 0.5 * n1 * eta_of_log_g(l_star, dist),
    )
    return nan_where_invalid(jnp.exp(log_gc), valid)


def localized_log_coupling(N, g0, dist: str = "goe"):
    """log g on the localized branch for g0 <= g_c(N) (NaN above): bisection on
    f(l) = l - (N - 1) eta(l)/2 = log g0 over [log g0, l*], an independent scalar
    reference for the N-l-bit solver."""
    n1 = jnp.asarray(N, jnp.float64) - 1.0
    l0 = jnp.log(jnp.asarray(g0, jnp.float64))
    l_star = _first_fold(n1, dist)

    def f(l):
        return l - 0.5 * n1 * eta_of_log_g(l, dist)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        below = f(mid) < l0
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 200, body, (l0, jnp.maximum(l_star, l0)))
    return jnp.where(l0 <= f(l_star), 0.5 * (lo + hi), jnp.nan)
