"""The entropic enhancement eta(g) and the single-l-bit observables (Appendix A).

    eta(g)   = 2 log E[ K(g_a, g_b) ],  g_a, g_b iid ~ p(. | g)        (A27)
    [S](g)   = E[ S(g_a) ]                                              (A13)
    Czz(g)   = E[ 1 / (1 + 4 g_a^2) ]                                   (A14)
    p_S(S|g) = p(g_a(S) | g) / S'(g_a(S))                               (A12)

All expectations are over g_a = g x with x ~ ptilde (:mod:`jaxmf.resonance`). They are
evaluated on one fixed quadrature rule in x (:func:`quadrature_nodes`): Gauss-Legendre
panels in u = log x from the lower edge of ptilde up to x = 1e18, plus the tail
x > 1e18 mapped to t = 1/x (where the density ptilde(1/t)/t^2 is smooth). Because
expectations are taken over x, the same nodes serve every g in [1e-12, 1e6].

eta itself is needed ~1e9 times in a sweep, so :func:`eta` interpolates a shipped
table (cubic Hermite in log g of log eta, with exact derivatives from the quadrature,
100 nodes per decade on [1e-12, 1e6]) and continues it with the exact asymptotic
forms outside the grid: eta ~ g (a log(1/g) + b) below, log 2 - c g^-4 above. [S] is
needed as often (every l-bit of every realization), so :func:`mean_entropy_of_log_g`
interpolates a table of it built once from the same quadrature.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._checks import LOG2, check_nonnegative, nan_where_invalid
from ._config import require_x64
from ._hermite import hermite
from .resonance import check_dist, entropy, family, goe_table_grid, k_minus_one

__all__ = [
    "eta",
    "eta_of_log_g",
    "eta_and_slope_of_log_g",
    "mean_entropy_of_log_g",
    "eta_quadrature",
    "mean_entropy",
    "czz",
    "entropy_pdf",
    "resonance_pdf",
    "quadrature_nodes",
    "inverse_entropy",
]

# Range of the eta table and of the quadrature rule.
LOG10_G_MIN, LOG10_G_MAX, NODES_PER_DECADE = -12.0, 6.0, 100
_X_HI = 1e18  # x beyond which the tail is integrated in t = 1/x


# ---------------------------------------------------------------------------------
# quadrature over x ~ ptilde
# ---------------------------------------------------------------------------------


def _gauss_panels(a, b, width, order):
    """Gauss-Legendre nodes/weights on [a, b] split into panels of about ``width``."""
    n_pan = max(1, int(np.ceil((b - a) / width - 1e-9)))
    edges = np.linspace(a, b, n_pan + 1)
    t, w = np.polynomial.legendre.leggauss(order)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()


@functools.cache
def quadrature_nodes(dist: str = "goe", refine: int = 1):
    """Fixed quadrature rule for E[f(x)], x ~ ptilde_dist.

    Args:
        dist: "goe" or "poisson".
        refine: panel-width divisor (2 doubles the nodes; used for convergence checks).

    Returns:
        (x, w): numpy arrays (M,), nodes x > 0 and weights with sum(w) = 1 (to the
        quadrature accuracy) such that E[f(x)] ~= sum_i w_i f(x_i).
    """
    with jax.ensure_compile_time_eval():
        return _nodes(family(dist), dist, refine)


def _nodes(fam, dist, refine):
    if dist == "goe":
        # align panels with the table cells: the table density is piecewise quadratic
        u_lo, u_mid, du = goe_table_grid()
        u1, w1 = _gauss_panels(u_lo, u_mid, du / refine, 3)
    else:
        u_lo, u_mid = np.log(0.2), np.log(120.0)  # ptilde(0.2) ~ 1e-34
        u1, w1 = _gauss_panels(u_lo, u_mid, 0.25 / refine, 8)
    u2, w2 = _gauss_panels(u_mid, np.log(_X_HI), 1.0 / refine, 8)
    t3, w3 = _gauss_panels(0.0, 1.0 / _X_HI, 1.0 / _X_HI, 8 * refine)
    u = np.concatenate([u1, u2])
    x = np.concatenate([np.exp(u), 1.0 / t3])
    dens_u = np.exp(np.asarray(fam.logpdf_u(jnp.asarray(u))))
    dens_t = np.asarray(fam.pdf(jnp.asarray(1.0 / t3))) / t3**2
    w = np.concatenate([w1, w2]) * dens_u
    w = np.concatenate([w, w3 * dens_t])
    keep = w > 0
    return x[keep], w[keep]


def _expect(f, g, dist, refine=1):
    """E[f(g x)] over x ~ ptilde_dist for g of any shape (vectorized)."""
    x, w = quadrature_nodes(dist, refine)
    g = jnp.asarray(g, jnp.float64)
    nodes = (None,) * g.ndim + (slice(None),)  # x, w as (1, ..., 1, M)
    return jnp.sum(f(g[..., None] * x[nodes]) * w[nodes], axis=-1)


def eta_quadrature(g, dist: str = "goe", refine: int = 1):
    """eta(g) by direct 2D quadrature of (A27) (slow: M^2 evaluations per g).

    eta = 2 log1p(E[K - 1]) with K - 1 in cancellation-free form.

    Args:
        g: couplings, any shape, within [1e-12, 1e6] for full accuracy.
        dist: ptilde family.
        refine: quadrature refinement (see :func:`quadrature_nodes`).

    Returns:
        eta(g), same shape.
    """
    x, w = quadrature_nodes(dist, refine)
    xj, wj = jnp.asarray(x), jnp.asarray(w)

    def one(gi):
        ga = gi * xj
        # K - 1 depends on g_a only through P(g_a): evaluate P once per node.
        km1 = k_minus_one(ga[:, None], ga[None, :])
        return 2.0 * jnp.log1p(wj @ km1 @ wj)

    g = jnp.asarray(g, jnp.float64)
    out = jax.lax.map(one, g.ravel(), batch_size=4)
    return out.reshape(g.shape)


# ---------------------------------------------------------------------------------
# the eta table
# ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _EtaTable:
    u0: float  # log g of the first node
    du: float
    log_eta: np.ndarray  # (M,)
    dlog_eta: np.ndarray  # (M,) d log(eta) / d log(g)


@functools.cache
def _eta_table(dist: str) -> _EtaTable:
    with resources.files("jaxmf.data").joinpath(f"eta_{dist}.npz").open("rb") as fh:
        z = np.load(fh)
        return _EtaTable(float(z["u0"]), float(z["du"]), z["log_eta"], z["dlog_eta"])


def eta_and_slope_of_log_g(log_g: ArrayLike, dist: str = "goe") -> tuple[jax.Array, jax.Array]:
    """eta and d eta / d log g at u = log g (the form the solver uses).

    Cubic Hermite interpolation of log eta on the uniform table grid (the cell index is
    computed directly, no search); exact asymptotic continuations outside the grid:
    eta = g (a log(1/g) + b) below (matched in value and slope at the first node) and
    log 2 - c g^-4 above (matched in value at the last node). The slope is the exact
    derivative of that interpolant, computed alongside it.

    Args:
        log_g: any shape, float64, finite (use :func:`eta_of_log_g` for -inf).
        dist: ptilde family.

    Returns:
        (eta, d eta / d log g), each of the shape of ``log_g``.
    """
    check_dist(dist)
    tab = _eta_table(dist)
    y, dy = jnp.asarray(tab.log_eta), jnp.asarray(tab.dlog_eta)
    m = y.shape[0]
    u_lo, u_hi = tab.u0, tab.u0 + tab.du * (m - 1)
    u = jnp.asarray(log_g, jnp.float64)
    log_eta, dlog_eta = hermite(y, dy, tab.u0, tab.du, u)
    inside = jnp.exp(log_eta)

    e0, s0 = float(np.exp(tab.log_eta[0])), float(tab.dlog_eta[0])
    a = e0 * (1.0 - s0) / np.exp(u_lo)  # from d eta/du = eta - a g at the node
    b = e0 / np.exp(u_lo) - a * (-u_lo)
    u_small = jnp.minimum(u, u_lo)
    far = u_small < -700.0  # g underflows: eta = 0 exactly, with zero derivative
    u_safe = jnp.where(far, u_lo, u_small)
    g_small = jnp.exp(u_safe)
    below = g_small * (a * (-u_safe) + b)
    below_slope = below - a * g_small
    below = jnp.where(far, 0.0, below)
    below_slope = jnp.where(far, 0.0, below_slope)

    c = LOG2 - float(np.exp(tab.log_eta[-1]))
    decay = c * jnp.exp(-4.0 * (jnp.maximum(u, u_hi) - u_hi))
    above, above_slope = LOG2 - decay, 4.0 * decay

    lo, hi = u < u_lo, u > u_hi
    val = jnp.where(lo, below, jnp.where(hi, above, inside))
    slope = jnp.where(lo, below_slope, jnp.where(hi, above_slope, inside * dlog_eta))
    return val, slope


def eta_of_log_g(log_g: ArrayLike, dist: str = "goe") -> jax.Array:
    """eta at u = log g; u = -inf gives 0. See :func:`eta_and_slope_of_log_g`."""
    return eta_and_slope_of_log_g(log_g, dist)[0]


def eta(g: ArrayLike, dist: str = "goe") -> jax.Array:
    """Entropic enhancement eta(g) of the bath by one l-bit (A27).

    Args:
        g: reduced couplings >= 0, any shape (0 and inf allowed).
        dist: ptilde family, "goe" (default) or "poisson".

    Returns:
        eta(g) in [0, log 2), same shape. eta(0) = 0, eta ~ -8 g log g as g -> 0,
        log 2 - eta = O(g^-4) as g -> inf.
    """
    require_x64()
    check_nonnegative("g", g)
    g = jnp.asarray(g, jnp.float64)
    pos = g > 0
    val = jnp.where(pos, eta_of_log_g(jnp.log(jnp.where(pos, g, 1.0)), dist), 0.0)
    return nan_where_invalid(val, g >= 0)


# ---------------------------------------------------------------------------------
# the [S] table
# ---------------------------------------------------------------------------------

# [S](g) is needed for every l-bit of every realization of a sweep; the quadrature
# behind jaxmf.mean_entropy costs ~40 us per value, more than the couplings themselves
# at R = 10-22. One table of [S] and d[S]/dl in l = log g, cubic Hermite between nodes
# (the cell index computed directly), serves every caller.
_S_LOG_MIN, _S_LOG_MAX, _S_STEP = float(np.log(1e-12)), 25.0, 0.005


@functools.cache
def _entropy_table(dist):
    n = int(round((_S_LOG_MAX - _S_LOG_MIN) / _S_STEP)) + 1
    l = _S_LOG_MIN + _S_STEP * np.arange(n)

    def value_and_slope(lc):
        f = lambda u: mean_entropy(jnp.exp(u), dist)  # noqa: E731
        return jax.jvp(f, (lc,), (jnp.ones_like(lc),))

    with jax.ensure_compile_time_eval():  # a constant, also when first needed in a trace
        parts = [value_and_slope(jnp.asarray(l[k : k + 2048])) for k in range(0, n, 2048)]
    return (
        np.concatenate([np.asarray(v) for v, _ in parts]),
        np.concatenate([np.asarray(d) for _, d in parts]),
    )


def mean_entropy_of_log_g(log_g: ArrayLike, dist: str = "goe") -> tuple[jax.Array, jax.Array]:
    """[S](g) (A13) and d[S]/d log g at l = log g, from the shipped-grid table.

    Cubic Hermite interpolation on 200 nodes per unit of log g over [1e-12, e^25]
    (relative error ~1e-10 against the quadrature of :func:`jaxmf.mean_entropy`),
    [S] = [S](1e-12) g / 1e-12 below the grid (exact linear limit), log 2 above it,
    0 at l = -inf.

    Args:
        log_g: any shape.
        dist: ptilde family.

    Returns:
        ([S], d[S]/d log g), each of the shape of ``log_g``.
    """
    check_dist(dist)
    val, slope = _entropy_table(dist)
    y, dy = jnp.asarray(val), jnp.asarray(slope)
    l = jnp.asarray(log_g, jnp.float64)
    finite = jnp.isfinite(l)
    lf = jnp.where(finite, l, _S_LOG_MIN)
    S, dS = hermite(y, dy, _S_LOG_MIN, _S_STEP, lf)
    below = lf < _S_LOG_MIN
    lin = val[0] * jnp.exp(jnp.minimum(lf - _S_LOG_MIN, 0.0))
    S = jnp.where(below, lin, S)
    dS = jnp.where(below, lin, dS)
    above = lf > _S_LOG_MAX
    S = jnp.where(above, LOG2, S)
    dS = jnp.where(above, 0.0, dS)
    S = jnp.minimum(S, LOG2)  # the interpolant may overshoot log 2 by ~1 ulp
    S = jnp.where(finite, S, jnp.where(l > 0, LOG2, 0.0))
    nan = jnp.isnan(l)  # an invalid coupling (see solve) stays invalid
    return jnp.where(nan, jnp.nan, S), jnp.where(nan, jnp.nan, jnp.where(finite, dS, 0.0))


# ---------------------------------------------------------------------------------
# single-l-bit observables
# ---------------------------------------------------------------------------------

_G_FLOOR = 10.0**LOG10_G_MIN  # below it the exact linear limits are used


def _linear_below_floor(fn, g, dist):
    """fn(g) for g >= 1e-12; fn(1e-12) g / 1e-12 below (fn ~ const * g as g -> 0)."""
    g = jnp.asarray(g, jnp.float64)
    small = g < _G_FLOOR
    val = fn(jnp.where(small, _G_FLOOR, g), dist)
    return nan_where_invalid(jnp.where(small, val * g / _G_FLOOR, val), g >= 0)


def mean_entropy(g: ArrayLike, dist: str = "goe") -> jax.Array:
    """Eigenstate-averaged entanglement entropy [S](g) of one l-bit (A13).

    Args:
        g: reduced couplings >= 0, any shape.
        dist: ptilde family.

    Returns:
        [S](g) in nats, same shape; [S]/g -> 2 pi as g -> 0, -> log 2 as g -> inf.
    """
    require_x64()
    check_nonnegative("g", g)
    check_dist(dist)
    return _linear_below_floor(lambda gg, d: _expect(entropy, gg, d), g, dist)


def czz(g: ArrayLike, dist: str = "goe") -> jax.Array:
    """Infinite-time memory of sz, Czz(g) = E[(P - Q)^2] = E[1/(1 + 4 g_a^2)] (A14).

    Args:
        g: reduced couplings >= 0, any shape.
        dist: ptilde family.

    Returns:
        Czz(g) in (0, 1], same shape; (1 - Czz)/g -> 2 pi as g -> 0.
    """
    require_x64()
    check_nonnegative("g", g)
    check_dist(dist)

    def one_minus(gg, d):
        def term(ga):  # 4 g_a^2 / (1 + 4 g_a^2), exact at small g_a; 1 at g_a = inf
            big = ga > 1e100
            ga = jnp.where(big, 1.0, ga)
            return jnp.where(big, 1.0, 4 * ga**2 / (1 + 4 * ga**2))

        return _expect(term, gg, d)

    return 1.0 - _linear_below_floor(one_minus, g, dist)


def resonance_pdf(g_a: ArrayLike, g: ArrayLike, dist: str = "goe") -> jax.Array:
    """p(g_a | g) = ptilde(g_a / g) / g (A3), broadcasting g_a against g.

    Args:
        g_a: resonance strengths >= 0.
        g: reduced couplings > 0.
        dist: ptilde family.

    Returns:
        density, broadcast shape.
    """
    require_x64()
    check_nonnegative("g_a", g_a)
    check_nonnegative("g", g, strictly_positive=True)
    fam = family(dist)
    g = jnp.asarray(g, jnp.float64)
    g_a = jnp.asarray(g_a, jnp.float64)
    return nan_where_invalid(fam.pdf(g_a / g) / g, (g > 0) & (g_a >= 0))


def inverse_entropy(S: ArrayLike) -> jax.Array:
    """g_a with S(g_a) = S, the inverse of the resonance entropy (A11).

    Bisection in log g_a (S is increasing), then one differentiable Newton step (exact
    first derivative dg_a/dS = 1/S'). S <= 0 gives 0, S >= log 2 gives inf.

    Args:
        S: entropies in nats, any shape.

    Returns:
        g_a, same shape.
    """
    S = jnp.asarray(S, jnp.float64)
    inside = (S > 0) & (S < LOG2)
    s = jnp.where(inside, S, 0.5)
    lo = jnp.full_like(s, -80.0)
    hi = jnp.full_like(s, 80.0)

    def body(_, lohi):
        lo, hi = lohi
        mid = 0.5 * (lo + hi)
        up = entropy(jnp.exp(mid)) < s
        return jnp.where(up, mid, lo), jnp.where(up, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 110, body, (lo, hi))
    y = jax.lax.stop_gradient(0.5 * (lo + hi))
    val, dval = jax.jvp(lambda yy: entropy(jnp.exp(yy)), (y,), (jnp.ones_like(y),))
    ga = jnp.exp(y - (val - s) / dval)
    return jnp.where(inside, ga, jnp.where(S <= 0, 0.0, jnp.inf))


def entropy_pdf(S: ArrayLike, g: ArrayLike, dist: str = "goe") -> jax.Array:
    """Distribution of eigenstate entanglement entropies p_S(S | g) (A12).

    p_S(S) = p(g_a(S) | g) / S'(g_a(S)), S'(g_a) = dS/dg_a. Zero outside (0, log 2);
    integrable divergence ~ (log 2 - S)^(-1/2) at S -> log 2.

    Args:
        S: entropies in nats, any shape.
        g: reduced couplings > 0, broadcastable against S.
        dist: ptilde family.

    Returns:
        density in 1/nat, broadcast shape.
    """
    require_x64()
    check_nonnegative("g", g, strictly_positive=True)
    fam = family(dist)
    S, g = jnp.broadcast_arrays(jnp.asarray(S, jnp.float64), jnp.asarray(g, jnp.float64))
    ok = (S > 0) & (S < LOG2)
    s_in = jnp.where(ok, S, 0.5)
    ga = inverse_entropy(s_in)
    dS = jax.vmap(jax.grad(entropy))(ga.ravel()).reshape(ga.shape)
    dens = fam.pdf(ga / g) / g / dS
    return nan_where_invalid(jnp.where(ok, dens, 0.0), (g > 0) & ~jnp.isnan(S))
