"""The self-consistent mean-field fixed point (eq. 11, 13, 14) and its observables.

    g_n = g_{n,0} exp( (1/2) sum_{m != n} eta(g_m) ),   eta_tot = sum_n eta(g_n).

Scalar form (docs/theory.md, "The mean-field fixed point"). For a trial H = eta_tot each l-bit
solves

    l_n = l_{n,0} + (H - eta(l_n)) / 2,       l = log g,                         (*)

whose root l_n(H) is unique (the left side minus the right is increasing in l with
slope 1 + eta'(l)/2 in [1, 1.2]). H then solves F(H) = G(H) - H = 0 with
G(H) = sum_n eta(l_n(H)), increasing in H. Iteration (13) from the bare couplings
increases monotonically to the smallest fixed point, so the physical solution is the
smallest root of F on [sum_n eta(g_{n,0}), N log 2].

Solver: a safeguarded Newton iteration on F from the left (where F >= 0):
  * F' < 0: Newton step (from the left it stays below the smallest root wherever G is
    convex, which is the case near the localized root and the threshold fold);
  * F' >= 0 (a bottleneck just past the threshold): the step doubles each time, so the
    passage costs log steps instead of the ~1/sqrt(F_min) of plain iteration;
  * once some F < 0 has been seen, the root is bracketed and the step falls back to
    bisection whenever Newton leaves the bracket.
Each realization stops on its own convergence test and reports its iteration count;
a realization that has not converged after ``max_steps`` is flagged ``converged=False``
(its values are the last iterate and must not be used).

Everything is carried in l = log g, so an avalanche of N = 10^4 l-bits (g ~ 2^(N/2))
does not overflow: ``log_g`` is exact, ``g = exp(log_g)`` may be inf. A bare coupling of
exactly 0 (or a masked-out l-bit) has l = -inf, g = 0 and eta = 0.

Gradients: eta_tot is differentiated implicitly (custom JVP): with the stability
margin m = 1 - dG/dH at the solution, dH = (dG/dl_0 . dl_0) / m. At an avalanche
threshold m -> 0 and the derivative diverges; where m < ``GRAD_MARGIN`` the tangent is
returned as NaN instead of a meaningless huge number (the value stays finite), and
``stability`` in the result tells how close each realization is. The JVP rules call
their own function for the point they differentiate at (and the couplings l_n(H) have
an implicit rule of their own), so differentiating a derivative goes through the
implicit-function identities again: second and higher derivatives (``jax.hessian``,
``jacfwd(grad)``) are exact, not the derivative of a frozen linearization.

One module for one concept, the fixed point: the solver, its implicit derivatives and
the observables read off a solution share the scalar-H formulation and its guards, and
splitting them would export those internals (the exact critical scale lives in
:mod:`jaxmf.critical`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._checks import LOG2, check_choice, check_int, is_concrete
from ._config import require_x64
from .critical import check_bracket, check_log_couplings, fold_log_scale
from .enhancement import czz, eta_and_slope_of_log_g, mean_entropy_of_log_g
from .resonance import check_dist

__all__ = [
    "MeanFieldResult",
    "solve",
    "avalanche_flag",
    "avalanches",
    "n_thermal",
    "mean_entropies",
    "memories",
    "GRAD_MARGIN",
    "CriticalScale",
    "critical_log_scale",
]

GRAD_MARGIN = 1e-9
_INNER_NEWTON = 4
# Longest unbracketed step in H beyond F itself. Measured on R = 10 random lattices
# (W = 120-300): uncapped doubling skipped a window of F < 0 about 12 wide in H (the
# localized root and its unstable partner) in 5-22 % of the potentials.
_MAX_STRIDE = 2.0


class MeanFieldResult(NamedTuple):
    """Solution of the mean-field equations; every field batched like the input.

    Attributes:
        g: (..., N) self-consistent couplings g_n (inf if exp(log_g) overflows).
        log_g: (..., N) log g_n (exact; -inf for decoupled or masked l-bits).
        eta: (..., N) eta(g_n).
        eta_tot: (...) total enhancement H = sum_n eta(g_n) (eq. 14).
        iterations: (...) solver steps used.
        converged: (...) bool; False means the values are not a solution.
        stability: (...) 1 - dG/dH at the solution (> 0: linearly stable; -> 0 at an
            avalanche threshold, where d eta_tot / d(params) diverges).
        n_lbits: (...) number of active l-bits (unmasked, g_{n,0} > 0).
    """

    g: jax.Array
    log_g: jax.Array
    eta: jax.Array
    eta_tot: jax.Array
    iterations: jax.Array
    converged: jax.Array
    stability: jax.Array
    n_lbits: jax.Array


def _eta_and_slope(l, dist):
    """eta(l) and d eta / d l (l = log g), zero for l = -inf."""
    finite = jnp.isfinite(l)
    val, slope = eta_and_slope_of_log_g(jnp.where(finite, l, -800.0), dist)
    return jnp.where(finite, val, 0.0), jnp.where(finite, slope, 0.0)


def _couplings_at(H, l0, l_guess, dist, n_newton):
    """Newton iterations on (*) for l_n(H) from l_guess. Returns (l, eta, eta')."""
    active = jnp.isfinite(l0)
    l0f = jnp.where(active, l0, 0.0)
    l = jnp.where(active, l_guess, 0.0)
    for _ in range(n_newton):
        e, de = _eta_and_slope(l, dist)
        l = l - (l + 0.5 * e - l0f - 0.5 * H) / (1.0 + 0.5 * de)
    e, de = _eta_and_slope(l, dist)
    return (jnp.where(active, l, -jnp.inf), jnp.where(active, e, 0.0), jnp.where(active, de, 0.0))


def _couplings_from_scratch(H, l0, dist):
    """l_n(H) to machine precision: one fixed-point step (error <= log(2)/2), then
    Newton (slope of (*) in [1, 1.2], so the error squares each step)."""
    l, e, _ = _couplings_at(H, l0, l0, dist, n_newton=0)
    return _couplings_at(H, l0, l0 + 0.5 * (H - e), dist, n_newton=_INNER_NEWTON)


class _State(NamedTuple):
    H: jax.Array  # next point to evaluate
    H_prev: jax.Array  # point where l, de were evaluated
    lo: jax.Array
    hi: jax.Array
    step: jax.Array
    l: jax.Array
    de: jax.Array
    it: jax.Array
    done: jax.Array


def _solve_one(l0, dist, rtol, max_steps):
    """Smallest root H of F for one realization l0 (N,). Returns (H, l, it, done, m)."""
    active = jnp.isfinite(l0)
    n_act = jnp.sum(active)
    H_lo = jnp.sum(_eta_and_slope(l0, dist)[0])
    H_max = n_act * LOG2  # G < N log 2, so F(H_max) < 0 unless N = 0
    l0f = jnp.where(active, l0, 0.0)

    def cond(s):
        return (~s.done) & (s.it < max_steps)

    def body(s):
        # predictor dl/dH = 1/(2 + eta') makes the inner error O(dH^2): two Newton
        # steps then suffice, and they are exact once the outer steps are small
        guess = s.l + (s.H - s.H_prev) / (2.0 + s.de)
        l, e, de = _couplings_at(s.H, l0, guess, dist, n_newton=2)
        F = jnp.sum(e) - s.H
        dF = jnp.sum(de / (2.0 + de)) - 1.0
        inner = jnp.max(jnp.where(active, jnp.abs(l + 0.5 * e - l0f - 0.5 * s.H), 0.0))

        left = F >= 0
        lo = jnp.where(left, s.H, s.lo)
        hi = jnp.where(left, s.hi, s.H)
        bracketed = hi <= H_max
        newton = s.H - F / jnp.where(dF != 0, dF, -1.0)
        grow = s.H + jnp.maximum(F, jnp.minimum(2.0 * s.step, _MAX_STRIDE))
        prop = jnp.where(left & (dF >= 0), grow, newton)
        # unbracketed, a step longer than F (the step of iteration (13), which never
        # passes the smallest root) may jump over a narrow window where F < 0: cap it
        prop = jnp.where(
            left & ~(hi <= H_max), jnp.minimum(prop, s.H + jnp.maximum(F, _MAX_STRIDE)), prop
        )
        prop = jnp.where(left & ~bracketed, jnp.minimum(prop, H_max), prop)
        outside = (prop <= lo) | (prop >= hi) | ~jnp.isfinite(prop)
        prop = jnp.where(outside & bracketed, 0.5 * (lo + hi), prop)
        prop = jnp.where(outside & ~bracketed, jnp.minimum(lo + F, H_max), prop)
        tol = rtol * (1.0 + s.H)
        done = ((jnp.abs(F) <= tol) | (hi - lo <= tol)) & (inner <= tol)
        H_next = jnp.where(done, s.H, prop)
        return _State(H_next, s.H, lo, hi, jnp.abs(H_next - s.H), l, de, s.it + 1, done)

    l_init, _, de_init = _couplings_from_scratch(H_lo, l0, dist)
    s0 = _State(
        H_lo,
        H_lo,
        H_lo,
        H_max + 1.0,
        jnp.zeros(()),
        l_init,
        de_init,
        jnp.zeros((), jnp.int32),
        n_act == 0,
    )
    s = jax.lax.while_loop(cond, body, s0)
    # polish the couplings at the final H and measure the stability margin
    l, _, de = _couplings_at(s.H, l0, s.l, dist, n_newton=2)
    return s.H, l, s.it, s.done, 1.0 - jnp.sum(de / (2.0 + de))


# Implicit differentiation, to every order. Both rules below call their own function
# to get the primal they differentiate at, so JAX differentiates the rules themselves
# (the tangent of a tangent goes through the rule again): second and higher derivatives
# follow from the same implicit-function identities and are exact.


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _lbit_coupling(H, l0, l_conv, dist):
    """l_n(H) of (*) for every l-bit: the converged ``l_conv`` (-inf where l0 = -inf),
    with implicit derivatives dl_n = (dl0_n + dH / 2) / (1 + eta'(l_n) / 2)."""
    del H, l0, dist
    return l_conv


@_lbit_coupling.defjvp
def _lbit_coupling_jvp(dist, primals, tangents):
    H, l0, l_conv = primals
    dH, dl0, _ = tangents
    l = _lbit_coupling(H, l0, l_conv, dist)
    _, de = _eta_and_slope(l, dist)
    active = jnp.isfinite(l0)
    dl = (jnp.where(active, dl0, 0.0) + 0.5 * dH) / (1.0 + 0.5 * de)
    return l, jnp.where(active, dl, 0.0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(3,))
def _implicit_eta_tot(l0, H_conv, l_conv, dist):
    """The converged H = eta_tot; its JVP in l0 is the implicit-function derivative
    dH = (dG/dl0 . dl0) / m, m = 1 - dG/dH the stability margin (NaN where m is below
    ``GRAD_MARGIN``: at an avalanche threshold the derivative diverges)."""
    del l0, l_conv, dist
    return H_conv


@_implicit_eta_tot.defjvp
def _implicit_eta_tot_jvp(dist, primals, tangents):
    l0, H_conv, l_conv = primals
    dl0 = tangents[0]
    H = _implicit_eta_tot(l0, H_conv, l_conv, dist)
    l = _lbit_coupling(H, l0, l_conv, dist)
    _, de = _eta_and_slope(l, dist)
    active = jnp.isfinite(l0)
    # dG/dl0_n at fixed H: eta'_n * dl_n/dl0_n, with dl_n/dl0_n = 2 / (2 + eta'_n)
    dG = jnp.sum(jnp.where(active, 2.0 * de / (2.0 + de) * jnp.where(active, dl0, 0.0), 0.0))
    margin = 1.0 - jnp.sum(de / (2.0 + de))
    ok = margin > GRAD_MARGIN
    return H, jnp.where(ok, dG / jnp.where(ok, margin, 1.0), jnp.nan)


def _solve_log(l0, dist, rtol, max_steps):
    """Solution for one realization, with implicit derivatives (all orders) in l0."""
    H_sg, l_sg, it, done, margin = _solve_one(jax.lax.stop_gradient(l0), dist, rtol, max_steps)
    H = _implicit_eta_tot(l0, H_sg, l_sg, dist)
    l = _lbit_coupling(H, l0, l_sg, dist)
    e = jnp.where(jnp.isfinite(l), _eta_and_slope(l, dist)[0], 0.0)
    return l, e, H, it, done, margin


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _solve_batch(flat_l0, dist, rtol, max_steps):
    return jax.vmap(lambda x: _solve_log(x, dist, rtol, max_steps))(flat_l0)


def solve(
    g0: ArrayLike,
    dist: str = "goe",
    *,
    mask: ArrayLike | None = None,
    rtol: float = 1e-13,
    max_steps: int = 400,
    log_input: bool = False,
) -> MeanFieldResult:
    """Solve the mean-field equations (eq. 11/13) for a batch of realizations.

    Args:
        g0: (..., N) bare couplings g_{n,0} >= 0 (or log g_{n,0} if ``log_input``),
            batched over all leading axes.
        dist: ptilde family, "goe" (default) or "poisson".
        mask: optional (..., N) bool, False marks padding for realizations with fewer
            l-bits (ragged N); masked l-bits are absent (g = 0, eta = 0).
        rtol: convergence tolerance on F = G(H) - H, relative to 1 + H; a number in
            (0, 1) (static).
        max_steps: solver step limit per realization, an integer >= 1 (static).
        log_input: g0 is given as log g0 (use for couplings that underflow).

    Returns:
        :class:`MeanFieldResult` (the smallest fixed point: the one iteration (13)
        reaches from the bare couplings). jit/vmap-compatible, differentiable in g0
        (implicit differentiation).

    Raises:
        ValueError: empty N (also under jit: shapes are static), rtol outside (0, 1)
            or NaN, max_steps not an integer >= 1, unknown dist; (concrete input)
            negative/NaN couplings, non-float dtype, mismatched mask shape. Under jit
            (traced input) the values cannot be checked: a realization with a NaN,
            negative or infinite coupling then comes back with NaN in g, log_g, eta,
            eta_tot, stability and ``converged=False``.
    """
    require_x64()
    check_dist(dist)
    _check_solve_input(g0, mask, log_input, rtol, max_steps)
    g0 = jnp.asarray(g0, jnp.float64)
    if log_input:
        l0 = g0
        invalid = jnp.isnan(g0) | (g0 == jnp.inf)
    else:
        pos = g0 > 0
        l0 = jnp.where(pos, jnp.log(jnp.where(pos, g0, 1.0)), -jnp.inf)
        invalid = ~(g0 >= 0) | jnp.isinf(g0)
    if mask is not None:
        mask = jnp.asarray(mask, bool)
        l0 = jnp.where(mask, l0, -jnp.inf)
        invalid = invalid & mask
    # under jit the eager checks cannot run: a realization with an invalid coupling is
    # solved as empty and reported as NaN with converged=False
    bad = jnp.any(invalid, axis=-1)
    l0 = jnp.where(bad[..., None], -jnp.inf, l0)
    batch = l0.shape[:-1]
    flat = l0.reshape((-1, l0.shape[-1]))
    l, e, H, it, done, margin = _solve_batch(flat, dist, rtol, max_steps)
    unflat = lambda a: a.reshape(batch + a.shape[1:])  # noqa: E731
    nan_if_bad = lambda a: jnp.where(  # noqa: E731
        bad.reshape(bad.shape + (1,) * (a.ndim - bad.ndim)), jnp.nan, a
    )
    l, e = nan_if_bad(unflat(l)), nan_if_bad(unflat(e))
    return MeanFieldResult(
        g=jnp.exp(l),
        log_g=l,
        eta=e,
        eta_tot=nan_if_bad(unflat(H)),
        iterations=unflat(it),
        converged=unflat(done) & ~bad,
        stability=nan_if_bad(unflat(margin)),
        n_lbits=jnp.where(bad, 0, jnp.sum(jnp.isfinite(l), axis=-1)),
    )


def _check_solve_input(g0, mask, log_input, rtol=0.5, max_steps=1):
    shape = np.shape(g0)  # static, also under jit
    if len(shape) < 1 or shape[-1] < 1:
        raise ValueError(f"g0 must have shape (..., N) with N >= 1, got shape {shape}")
    if not (
        isinstance(rtol, (float, int, np.floating, np.integer))
        and not isinstance(rtol, (bool, np.bool_))
        and 0.0 < rtol < 1.0
    ):
        raise ValueError(f"rtol must be a number in (0, 1) (a relative tolerance), got {rtol!r}")
    check_int("max_steps", max_steps, 1)
    if not is_concrete(g0):
        return
    a = np.asarray(g0)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"g0 must be a real float array, got dtype {a.dtype}")
    if np.isnan(a).any():
        raise ValueError("g0 contains NaN; bare couplings must lie in [0, inf)")
    if not log_input and (a < 0).any():
        raise ValueError(f"g0 must lie in [0, inf) (bare couplings); got min {a.min()!r}")
    if not log_input and np.isinf(a).any():
        raise ValueError("g0 must be finite (bare couplings in [0, inf))")
    if mask is not None and is_concrete(mask) and np.shape(mask) != a.shape:
        raise ValueError(f"mask must have the shape of g0 {a.shape}, got {np.shape(mask)}")


# ---------------------------------------------------------------------------------
# observables of a solution
# ---------------------------------------------------------------------------------


def avalanche_flag(eta_tot, n_lbits):
    """The avalanche criterion (eq. 19): eta_tot > (1/2) N log 2, elementwise (NumPy or JAX
    arrays in, the same kind out)."""
    return eta_tot > 0.5 * n_lbits * LOG2


def avalanches(result: MeanFieldResult) -> jax.Array:
    """Avalanche flag per realization: eta_tot > (1/2) N log 2 (eq. 19)."""
    return avalanche_flag(result.eta_tot, result.n_lbits)


def mean_entropies(result: MeanFieldResult, dist: str = "goe") -> jax.Array:
    """[S_n] = [S](g_n) per l-bit (A13), in nats; shape (..., N)."""
    return mean_entropy_of_log_g(result.log_g, dist)[0]


def memories(result: MeanFieldResult, dist: str = "goe") -> jax.Array:
    """Czz_n = Czz(g_n), the infinite-time memory of each l-bit (A14); shape (..., N)."""
    return czz(jnp.where(jnp.isfinite(result.g), result.g, 1e300), dist)


def n_thermal(result: MeanFieldResult, dist: str = "goe") -> jax.Array:
    """n* = sum_n [S_n] / log 2: the number of thermalized l-bits (entropy-weighted).

    A fully thermal l-bit counts 1, a decoupled one 0, partial ones in between; for a
    failed avalanche this is the bubble size including its partially thermal collar.
    Shape (...).
    """
    return jnp.sum(mean_entropies(result, dist), axis=-1) / LOG2


# ---------------------------------------------------------------------------------
# the avalanche threshold in the overall coupling scale
# ---------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(1, 4, 5))
def _critical_batch(flat_l0, dist, lo, hi, n_bisect, rtol):
    n_lbits = jnp.sum(jnp.isfinite(flat_l0), axis=-1)

    def flags(lam):
        H, _, _, done, _ = jax.vmap(lambda x, s: _solve_one(x + s, dist, rtol, 400))(flat_l0, lam)
        return avalanche_flag(H, n_lbits), done

    b = flat_l0.shape[0]
    f_lo, ok_lo = flags(jnp.full(b, lo))
    f_hi, ok_hi = flags(jnp.full(b, hi))

    def body(_, c):
        a, z, ok = c
        mid = 0.5 * (a + z)
        f, cv = flags(mid)
        return jnp.where(f, a, mid), jnp.where(f, mid, z), ok & cv

    a, z, ok = jax.lax.fori_loop(
        0, n_bisect, body, (jnp.full(b, lo), jnp.full(b, hi), ok_lo & ok_hi)
    )
    lam = jnp.where(f_lo, -jnp.inf, jnp.where(f_hi, 0.5 * (a + z), jnp.inf))
    return lam, ok


class CriticalScale(NamedTuple):
    """The avalanche threshold in the overall coupling scale (:func:`critical_log_scale`).

    Attributes:
        log_scale: (...) lambda_c = log s_c; -inf if the realization avalanches already
            at the bottom of the bracket, +inf if not even at its top.
        converged: (...) False if any solve along the bisection did not converge.
    """

    log_scale: jax.Array
    converged: jax.Array


def critical_log_scale(
    log_g0: ArrayLike,
    dist: str = "goe",
    *,
    bracket=(-40.0, 40.0),
    method: str = "fold",
    n_bisect: int = 48,
    rtol: float = 1e-13,
) -> CriticalScale:
    """The avalanche threshold in the overall coupling scale: lambda_c = log(s_c).

    Scaling all bare couplings by s (g_{n,0} -> s g_{n,0}) raises every l-bit's coupling,
    so the smallest fixed point eta_tot increases with s and the avalanche flag (eq. 19)
    switches on once, at s_c: the realization avalanches iff log s > lambda_c. For a
    lattice with couplings g0 |phi_k(0)| this is the critical grain coupling,
    log g0_c = lambda_c(log |phi_k(0)|); for symmetric couplings it is log g_c(N).

    Two methods:

    * ``"fold"`` (default): :func:`jaxmf.critical.fold_log_scale`, the saddle-node of
      the smallest fixed point (or the point where it crosses the flag) solved by a
      bracketed safeguarded Newton iteration, to ~1e-13; differentiable in ``log_g0``
      (implicit derivatives);
    * ``"bisect"``: bisection of the flag of :func:`solve` in ``bracket``, error
      (hi - lo) / 2^(n_bisect + 1); no derivative.

    Args:
        log_g0: (..., N) log bare couplings (-inf: absent l-bit).
        dist: ptilde family.
        bracket: (lo, hi) search range for lambda_c (outside: -inf below, +inf above).
        method: "fold" or "bisect".
        n_bisect: bisection steps (``"bisect"`` only).
        rtol: solver tolerance (``"bisect"`` only).

    Returns:
        :class:`CriticalScale` (log_scale, converged), each (...).

    Raises:
        ValueError: (concrete input) NaN or +inf in ``log_g0``, a bad bracket, method,
            n_bisect or dist. Under jit a realization with NaN or +inf comes back as
            NaN with ``converged=False``.
    """
    require_x64()
    check_dist(dist)
    check_choice("method", method, ("fold", "bisect"))
    lo, hi = check_bracket(bracket)
    check_int("n_bisect", n_bisect, 1)
    check_log_couplings(log_g0)
    if method == "fold":
        out = fold_log_scale(log_g0, dist, bracket=(lo, hi))
        return CriticalScale(out.log_scale, out.converged)
    l0 = jnp.asarray(log_g0, jnp.float64)
    bad = jnp.any(jnp.isnan(l0) | (l0 == jnp.inf), axis=-1)
    l0 = jnp.where(bad[..., None], -jnp.inf, l0)
    batch = l0.shape[:-1]
    lam, ok = _critical_batch(
        l0.reshape((-1, l0.shape[-1])),
        dist,
        jnp.float64(lo),
        jnp.float64(hi),
        int(n_bisect),
        float(rtol),
    )
    return CriticalScale(jnp.where(bad, jnp.nan, lam.reshape(batch)), ok.reshape(batch) & ~bad)
