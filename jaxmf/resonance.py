"""Resonance functions of one l-bit and the distribution of resonance strengths.

Two-level resonance ansatz of Appendix A of Crowley & Chandran (PRB 106, 184208):

    P(g) = (1 - 1/sqrt(1 + 4 g^2)) / 2,  Q = 1 - P            (A7-A10)
    S(g) = -P log P - Q log Q                                  (A11)
    K(g, g') = sqrt(P P' + Q Q') + sqrt(P Q' + Q P')           (A24-A26)

and the scaling law of the eigenstate resonance strength g_a (A3),

    p(g_a | g) = ptilde(g_a / g) / g,   ptilde(x) ~ 2 / x^2   (x -> inf).

Two families of ptilde share one interface (:class:`ResonanceFamily`: pdf, cdf,
quantile): ``"poisson"`` (closed form) and ``"goe"`` (a shipped Monte Carlo table; see
``jaxmf/data/README.md`` and :mod:`jaxmf.tables.goe`).

All functions are exact and finite on [0, inf], with finite derivatives there.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erfc, erfinv
from jax.typing import ArrayLike

from ._checks import LOG2, check_nonnegative, nan_where_invalid
from ._hermite import hermite

__all__ = [
    "resonance_probability",
    "entropy",
    "k_minus_one",
    "overlap_k",
    "ResonanceFamily",
    "family",
    "goe_table_grid",
    "check_dist",
    "DISTRIBUTIONS",
]


# Beyond this, P(g) = 1/2 - 1/(4g) + ... equals 1/2 to double precision; clipping
# keeps g**2 finite and the derivative at g = inf exactly 0 instead of NaN.
_G_CLIP = 1e100


def resonance_probability(g: ArrayLike) -> jax.Array:
    """P(g), the weight of the minority component of a resonant pair (A7-A10).

    Args:
        g: reduced coupling(s) g >= 0, any shape (inf allowed).

    Returns:
        P(g) in [0, 1/2], same shape. Q(g) = 1 - P(g).
    """
    check_nonnegative("g", g)
    g = jnp.asarray(g, jnp.float64)
    valid = g >= 0  # NaN and negative couplings give NaN (eq. A7-A10 need g >= 0)
    g = jnp.minimum(jnp.where(valid, g, 0.0), _G_CLIP)
    s = jnp.sqrt(1.0 + 4.0 * g * g)
    # 2 g^2 / (s (1 + s)) is (1 - 1/s) / 2 without the cancellation at small g.
    return nan_where_invalid(2.0 * g * g / (s * (1.0 + s)), valid)


def _xlogx(p):
    """p log p with the value 0 and a finite derivative at p = 0 (double where)."""
    safe = jnp.where(p > 0, p, 1.0)
    return jnp.where(p > 0, p * jnp.log(safe), 0.0)


def entropy(g: ArrayLike) -> jax.Array:
    """S(g) = -P log P - Q log Q, the entanglement entropy of a resonance (A11).

    Args:
        g: reduced coupling(s) g >= 0, any shape.

    Returns:
        S in [0, log 2], same shape; S(0) = 0, S(inf) = log 2.
    """
    p = resonance_probability(g)
    return -_xlogx(p) - (1.0 - p) * jnp.log1p(-p)


def k_minus_one(g: ArrayLike, gp: ArrayLike) -> jax.Array:
    """K(g, g') - 1 free of cancellation (A24-A26).

    With D = P + P' - 2 P P' (so that P Q' + Q P' = D and P P' + Q Q' = 1 - D),
    K - 1 = sqrt(D) - D / (1 + sqrt(1 - D)).  D >= 0, and D = 0 only at g = g' = 0,
    where the double-where keeps the derivative finite.

    Args:
        g, gp: broadcastable arrays of couplings >= 0.

    Returns:
        K(g, g') - 1 >= 0, broadcast shape.
    """
    p, pp = resonance_probability(g), resonance_probability(gp)
    d = p + pp - 2.0 * p * pp
    pos = d > 0
    sqrt_d = jnp.where(pos, jnp.sqrt(jnp.where(pos, d, 1.0)), 0.0)
    return sqrt_d - d / (1.0 + jnp.sqrt(1.0 - d))


def overlap_k(g: ArrayLike, gp: ArrayLike) -> jax.Array:
    """K(g, g') = sqrt(P P' + Q Q') + sqrt(P Q' + Q P') (A26); g, g' >= 0 broadcast."""
    check_nonnegative("g", g)
    check_nonnegative("gp", gp)
    return 1.0 + k_minus_one(g, gp)


# ---------------------------------------------------------------------------------
# ptilde families
# ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResonanceFamily:
    """A scaled resonance law ptilde(x), x = g_a / g (A3).

    Attributes:
        name: "goe" or "poisson".
        pdf: x -> ptilde(x), normalized on [0, inf), ~ 2/x^2 at large x.
        cdf: x -> F(x).
        quantile: t in [0, 1] -> x with F(x) = t.
        logpdf_u: u = log x -> log(x ptilde(x)), the density of log x (for quadrature).
    """

    name: str
    pdf: Callable
    cdf: Callable
    quantile: Callable
    logpdf_u: Callable


# ---- poisson: one-sided Levy law of g_a^2 -----------------------------------------


def _poisson_pdf(x):
    x = jnp.asarray(x, jnp.float64)
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    return jnp.where(pos, 2.0 / xs**2 * jnp.exp(-jnp.pi / xs**2), 0.0)


def _poisson_cdf(x):
    x = jnp.asarray(x, jnp.float64)
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    return jnp.where(pos, erfc(jnp.sqrt(jnp.pi) / xs), 0.0)


def _poisson_sf(x):
    """1 - F(x) = erf(sqrt(pi)/x), accurate in the tail."""
    x = jnp.asarray(x, jnp.float64)
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    return jnp.where(pos, jax.scipy.special.erf(jnp.sqrt(jnp.pi) / xs), 1.0)


def _poisson_quantile(t):
    t = jnp.asarray(t, jnp.float64)
    # erfcinv(t) = erfinv(1 - t); for t -> 1 this loses relative accuracy, so use
    # the tail form erfinv(1 - t) with 1 - t computed as given.
    inner = jnp.where((t > 0) & (t < 1), t, 0.5)
    x = jnp.sqrt(jnp.pi) / erfinv(1.0 - inner)
    return jnp.where(t <= 0, 0.0, jnp.where(t >= 1, jnp.inf, x))


def _poisson_logpdf_u(u):
    x = jnp.exp(u)
    return LOG2 - u - jnp.pi / x**2


POISSON = ResonanceFamily(
    "poisson", _poisson_pdf, _poisson_cdf, _poisson_quantile, _poisson_logpdf_u
)


# ---- goe: shipped Monte Carlo table of the density of u = log x -------------------


@dataclasses.dataclass(frozen=True)
class _UTable:
    """Density of u = log x on a uniform grid: CDF values and densities at nodes.

    Between nodes the CDF is the cubic Hermite interpolant of (F, f), so the pdf is
    its exact derivative; beyond the last node the 2/x^2 tail continues it exactly.
    """

    u0: float
    du: float
    cdf: np.ndarray  # (M,)
    dens: np.ndarray  # (M,) density of u, i.e. x * ptilde(x)


@functools.cache
def _goe_table() -> _UTable:
    with resources.files("jaxmf.data").joinpath("ptilde_goe.npz").open("rb") as fh:
        z = np.load(fh)
        return _UTable(float(z["u0"]), float(z["du"]), z["cdf"], z["dens"])


def goe_table_grid() -> tuple[float, float, float]:
    """(u_first, u_last, du): the uniform grid in u = log x of the shipped GOE table.

    Quadrature over x ~ ptilde_goe aligns its panels with these cells, inside which the
    tabulated density is smooth.
    """
    tab = _goe_table()
    return tab.u0, tab.u0 + tab.du * (tab.cdf.shape[0] - 1), tab.du


def _hermite(tab: _UTable, u):
    """Cubic Hermite CDF and its derivative (the density of u) at u inside the grid."""
    return hermite(jnp.asarray(tab.cdf), jnp.asarray(tab.dens), tab.u0, tab.du, u)


def _goe_dens_u(u):
    tab = _goe_table()
    u = jnp.asarray(u, jnp.float64)
    u_end = tab.u0 + tab.du * (tab.cdf.shape[0] - 1)
    inside = (u >= tab.u0) & (u <= u_end)
    _, dens = _hermite(tab, jnp.clip(u, tab.u0, u_end))
    tail = 2.0 * jnp.exp(-jnp.maximum(u, u_end))  # x * 2/x^2
    return jnp.where(inside, jnp.maximum(dens, 0.0), jnp.where(u > u_end, tail, 0.0))


def _goe_pdf(x):
    x = jnp.asarray(x, jnp.float64)
    pos = x > 0
    xs = jnp.where(pos, x, 1.0)
    return jnp.where(pos, _goe_dens_u(jnp.log(xs)) / xs, 0.0)


def _goe_cdf(x):
    tab = _goe_table()
    x = jnp.asarray(x, jnp.float64)
    pos = x > 0
    u = jnp.log(jnp.where(pos, x, 1.0))
    u_end = tab.u0 + tab.du * (tab.cdf.shape[0] - 1)
    F, _ = _hermite(tab, jnp.clip(u, tab.u0, u_end))
    tail = 1.0 - 2.0 * jnp.exp(-jnp.maximum(u, u_end))
    F = jnp.where(u > u_end, tail, jnp.where(u < tab.u0, 0.0, F))
    return jnp.where(pos, F, 0.0)


def _goe_quantile(t):
    """Inverse of the table CDF: bisection on the monotone node CDF, then Newton."""
    tab = _goe_table()
    t = jnp.asarray(t, jnp.float64)
    cdf = jnp.asarray(tab.cdf)
    m = cdf.shape[0]
    t_end = tab.cdf[-1]
    tc = jnp.clip(t, 0.0, t_end)
    i = jnp.clip(jnp.searchsorted(cdf, tc, side="right") - 1, 0, m - 2)
    frac = (tc - cdf[i]) / jnp.maximum(cdf[i + 1] - cdf[i], 1e-300)
    u = tab.u0 + tab.du * (i + jnp.clip(frac, 0.0, 1.0))
    lo, hi = tab.u0 + tab.du * i, tab.u0 + tab.du * (i + 1)
    for _ in range(6):  # Newton on a cubic inside one cell, kept in the cell
        F, dF = _hermite(tab, u)
        u = jnp.clip(u - (F - tc) / jnp.maximum(dF, 1e-300), lo, hi)
    x_in = jnp.exp(u)
    # tail: 1 - 2/x = t  ->  x = 2 / (1 - t)
    x_tail = 2.0 / jnp.maximum(1.0 - t, 1e-300)
    x = jnp.where(t > t_end, x_tail, x_in)
    return jnp.where(t <= 0, 0.0, jnp.where(t >= 1, jnp.inf, x))


def _goe_logpdf_u(u):
    return jnp.log(jnp.maximum(_goe_dens_u(u), 1e-300))


GOE = ResonanceFamily("goe", _goe_pdf, _goe_cdf, _goe_quantile, _goe_logpdf_u)

# The registry of ptilde families: the one place that lists them.
_FAMILIES = {"goe": GOE, "poisson": POISSON}

DISTRIBUTIONS = tuple(_FAMILIES)
"""The ptilde families of the resonance strengths (A3): "goe" and "poisson"."""


def family(dist: str) -> ResonanceFamily:
    """The ptilde family called ``dist``; ValueError listing the choices otherwise."""
    try:
        return _FAMILIES[dist]
    except (KeyError, TypeError):
        raise ValueError(f"dist must be one of {list(DISTRIBUTIONS)}, got {dist!r}") from None


def check_dist(dist) -> None:
    """ValueError unless ``dist`` is one of :data:`DISTRIBUTIONS` (eager, also under jit:
    ``dist`` is a static string)."""
    family(dist)


def goe_table_info() -> dict:
    """Provenance of the shipped GOE table (sample count, seed, command)."""
    with resources.files("jaxmf.data").joinpath("ptilde_goe.npz").open("rb") as fh:
        z = np.load(fh)
        return {k: z[k].item() for k in z.files if z[k].ndim == 0}
