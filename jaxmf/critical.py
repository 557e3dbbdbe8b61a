"""The avalanche threshold in the overall coupling scale, solved exactly as a fold.

Scale every bare coupling by e^u (l_{n,0} -> l_{n,0} + u, l = log g). In the scalar form
of the mean-field equations (docs/theory.md, "The mean-field fixed point") a trial
H = eta_tot fixes every l-bit through l_n = l_{n,0} + u + (H - eta(l_n)) / 2, so l_n
depends on (u, H) only through x = u + H / 2:

    l_n = phi(l_{n,0} + x),   phi(y): the root of l + eta(l) / 2 = y,
    G(H, u) = Gamma(x) = sum_n eta(phi(l_{n,0} + x)),   increasing in x.

A fixed point G(H, u) = H is a root x of f(x) = u with f(x) = x - Gamma(x) / 2; the
smallest fixed point is the smallest such root, and its stability margin is
1 - dG/dH = f'(x). The avalanche flag (eq. 19) is Gamma(x) > N log 2 / 2, i.e.
x > x_A with Gamma(x_A) = N log 2 / 2. Since the smallest root of f = u lies beyond x_A
iff f < u on all of (-inf, x_A],

    u_c = log s_c = max_{x <= x_A} f(x).

The maximum sits either at a fold, f'(x*) = 0 (G = H and dG/dH = 1: the smallest fixed
point meets the unstable one, a saddle-node), or at x_A itself (the localized branch
crosses the flag before its fold, e.g. symmetric couplings with N = 10). The solver
walks from the left through the zeros of f' up to x_A (each one by a bracketed,
safeguarded Newton iteration, bisection whenever Newton leaves the bracket) and keeps
the largest f; at a fold f'(x*) = 0, so u_c is second-order insensitive to the error
of x* and comes out to ~1e-14.

Derivatives are exact (implicit differentiation): at a fold the 2 x 2 system
{G = H, dG/dH = 1} gives du_c = -sum_n eta'_n / (2 + eta'_n) dl_{n,0} (the envelope
theorem: f is stationary in x) and dx* from f'(x*) = 0; at x_A, dx_A from
Gamma(x_A) = N log 2 / 2. Both points carry their own implicit JVP rule that calls the
rule's own function for its primal, so second derivatives are exact too.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from ._checks import LOG2, is_concrete
from .enhancement import eta_and_slope_of_log_g
from .resonance import check_dist

__all__ = ["Fold", "FoldKind", "fold_log_scale"]

_FAR = -800.0  # stand-in log coupling of an absent l-bit (eta = eta' = 0 exactly there)
_MAX_STEP = 2.0  # largest unbracketed step in x (a few widths of one eta' bump)
_X_TOL = 1e-10  # zeros of f' in x; u_c errs by ~f'' dx^2
_MAX_ITER = 400


class FoldKind:
    """Where the maximum of f sits (:attr:`Fold.kind`)."""

    FOLD = 0  # f'(x*) = 0: saddle-node of the smallest fixed point
    CROSSING = 1  # x_A: the localized branch crosses eta_tot = N log 2 / 2
    OUTSIDE = 2  # u_c outside the bracket (+-inf) or no l-bit


class Fold(NamedTuple):
    """The critical log scale u_c and where it comes from (:func:`fold_log_scale`).

    Attributes:
        log_scale: (...) u_c = log s_c (-inf / +inf outside the bracket, NaN for invalid
            input); the realization avalanches iff log s > u_c.
        eta_tot: (...) eta_tot of the smallest fixed point at u_c (the fold's H).
        kind: (...) int, a :class:`FoldKind` value.
        iterations: (...) walk steps used.
        converged: (...) bool; False: do not use the values.
    """

    log_scale: jax.Array
    eta_tot: jax.Array
    kind: jax.Array
    iterations: jax.Array
    converged: jax.Array


def _eta3(l, dist):
    """eta, eta', eta'' at finite l (derivatives in l = log g)."""
    (e, de), (_, dde) = jax.jvp(
        lambda v: eta_and_slope_of_log_g(v, dist), (l,), (jnp.ones_like(l),)
    )
    return e, de, dde


def _phi_newton(y, dist):
    """phi(y): the root of l + eta(l) / 2 = y (slope in [1, 1.2]: one fixed-point step,
    then Newton, whose error squares each step)."""
    l = y - 0.5 * eta_and_slope_of_log_g(y, dist)[0]
    for _ in range(4):
        e, de = eta_and_slope_of_log_g(l, dist)
        l = l - (l + 0.5 * e - y) / (1.0 + 0.5 * de)
    return l


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _phi(y, l_conv, dist):
    """phi(y) with its implicit derivative dphi = dy / (1 + eta'(phi) / 2)."""
    del y, dist
    return l_conv


@_phi.defjvp
def _phi_jvp(dist, primals, tangents):
    y, l_conv = primals
    l = _phi(y, l_conv, dist)
    de = eta_and_slope_of_log_g(l, dist)[1]
    return l, tangents[0] / (1.0 + 0.5 * de)


def _terms(x, l0, active, dist):
    """Per l-bit eta, eta', eta'' at l_n = phi(l0_n + x) (0 for absent l-bits)."""
    e, de, dde = _eta3(_phi_newton(l0 + x, dist), dist)
    return (jnp.where(active, e, 0.0), jnp.where(active, de, 0.0), jnp.where(active, dde, 0.0))


def _f_and_slopes(x, l0, active, dist):
    """f(x) = x - Gamma / 2, f'(x) = 1 - sum eta'/(2 + eta'), f''(x), Gamma(x), Gamma'."""
    e, de, dde = _terms(x, l0, active, dist)
    gamma = jnp.sum(e)
    q = de / (2.0 + de)
    f1 = 1.0 - jnp.sum(q)
    f2 = -jnp.sum(4.0 * dde / (2.0 + de) ** 3)
    return x - 0.5 * gamma, f1, f2, gamma, 2.0 * jnp.sum(q)


class _Cross(NamedTuple):
    x: jax.Array
    lo: jax.Array
    hi: jax.Array
    it: jax.Array
    done: jax.Array


def _crossing(l0, active, dist):
    """x_A: Gamma(x_A) = N log 2 / 2 (Gamma increasing; bracketed Newton)."""
    n_act = jnp.sum(active)
    target = 0.5 * n_act * LOG2
    lmax = jnp.max(jnp.where(active, l0, -jnp.inf))
    lmin = jnp.min(jnp.where(active, l0, jnp.inf))
    # below -lmax - 60 every l-bit has eta < 1e-20; above -lmin + 60 every eta > log 2 / 2
    lo0, hi0 = -lmax - 60.0, -lmin + 60.0

    def cond(s):
        return ~s.done & (s.it < _MAX_ITER)

    def body(s):
        _, _, _, gamma, dgamma = _f_and_slopes(s.x, l0, active, dist)
        F = gamma - target
        lo = jnp.where(F <= 0, s.x, s.lo)
        hi = jnp.where(F <= 0, s.hi, s.x)
        prop = s.x - F / jnp.where(dgamma > 0, dgamma, 1.0)
        bad = (prop <= lo) | (prop >= hi) | (dgamma <= 0) | ~jnp.isfinite(prop)
        prop = jnp.where(bad, 0.5 * (lo + hi), prop)
        done = (jnp.abs(F) <= 1e-14 * (1.0 + target)) | (hi - lo <= 1e-13 * (1.0 + jnp.abs(s.x)))
        return _Cross(jnp.where(done, s.x, prop), lo, hi, s.it + 1, done)

    none = n_act == 0
    lo0, hi0 = jnp.where(none, -1.0, lo0), jnp.where(none, 1.0, hi0)
    s = jax.lax.while_loop(
        cond, body, _Cross(jnp.clip(-lmax, lo0, hi0), lo0, hi0, jnp.zeros((), jnp.int32), none)
    )
    return s.x, s.it, s.done


class _Walk(NamedTuple):
    x: jax.Array  # next point to evaluate
    sign: jax.Array  # +1: looking for a zero of f' from f' > 0 (a maximum); -1: a minimum
    lo: jax.Array
    hi: jax.Array
    step: jax.Array
    best: jax.Array  # largest f seen at a maximum (or at x_A)
    x_best: jax.Array
    kind: jax.Array
    it: jax.Array
    done: jax.Array


def _walk(l0, active, x_start, x_A, dist):
    """max f on [x_start, x_A]: walk through the zeros of f' from the left."""
    fA = _f_and_slopes(x_A, l0, active, dist)[0]
    f_s, f1_s, _, _, _ = _f_and_slopes(x_start, l0, active, dist)
    # the end points are candidates too (x_start only when f' < 0 there: a descent)
    use_A = fA >= f_s
    best0 = jnp.maximum(fA, f_s)

    def cond(s):
        return ~s.done & (s.it < _MAX_ITER)

    def body(s):
        f, f1, f2, _, _ = _f_and_slopes(s.x, l0, active, dist)
        F, dF = s.sign * f1, s.sign * f2  # first zero of F >= 0 from the left
        bracketed = s.hi < jnp.inf
        lo = jnp.where(F >= 0, s.x, s.lo)
        hi = jnp.where(F >= 0, s.hi, s.x)
        now_bracketed = hi < jnp.inf
        newton = s.x - F / jnp.where(dF != 0, dF, -1.0)
        # unbracketed: Newton when F decreases towards a zero, else a growing step
        grow = s.x + jnp.clip(2.0 * s.step, 1e-3, _MAX_STEP)
        free = jnp.where(dF < 0, jnp.minimum(newton, s.x + _MAX_STEP), grow)
        free = jnp.where(free > s.x, free, grow)
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        boxed = jnp.where(inside, newton, 0.5 * (lo + hi))
        prop = jnp.where(now_bracketed, boxed, free)
        found = now_bracketed & ((hi - lo) <= _X_TOL * (1.0 + jnp.abs(s.x)))
        found = found | (~now_bracketed & (dF < 0) & (jnp.abs(newton - s.x) <= _X_TOL))
        del bracketed
        # a zero found: a maximum of f if we were coming up (sign +1)
        at_max = found & (s.sign > 0)
        better = at_max & (f > s.best)
        best = jnp.where(better, f, s.best)
        x_best = jnp.where(better, s.x, s.x_best)
        kind = jnp.where(better, FoldKind.FOLD, s.kind)
        # past the zero: start the next search just beyond it, with the sign flipped
        restart = jnp.where(now_bracketed, hi, s.x + 1e-6)
        # no zero before x_A: stop at x_A
        reached = ~now_bracketed & (s.x >= x_A)
        finished = reached | (found & (restart >= x_A))
        x_next = jnp.where(found, restart, jnp.minimum(prop, x_A))
        return _Walk(
            x_next,
            jnp.where(found, -s.sign, s.sign),
            jnp.where(found, -jnp.inf, lo),
            jnp.where(found, jnp.inf, hi),
            jnp.where(found, 0.0, jnp.abs(x_next - s.x)),
            best,
            x_best,
            kind,
            s.it + 1,
            finished,
        )

    s0 = _Walk(
        x_start,
        jnp.where(f1_s >= 0, 1.0, -1.0),
        -jnp.inf,  # pyright: ignore[reportArgumentType]  (a float leaf is fine in the loop)
        jnp.inf,  # pyright: ignore[reportArgumentType]
        jnp.zeros(()),
        best0,
        jnp.where(use_A, x_A, x_start),
        jnp.where(use_A, FoldKind.CROSSING, FoldKind.FOLD),
        jnp.zeros((), jnp.int32),
        x_start >= x_A,
    )
    s = jax.lax.while_loop(cond, body, s0)
    return s.best, s.x_best, s.kind, s.it, s.done


def _locate(l0, active, dist, lo):
    """One realization: (x of the maximum, kind, iterations, converged), no gradients."""
    n_act = jnp.sum(active)
    x_A, it_a, ok_a = _crossing(l0, active, dist)
    fA = _f_and_slopes(x_A, l0, active, dist)[0]
    # f(x) <= x, and max f >= f(x_A): nothing left of max(lo, f(x_A)) can be the maximum
    x_start = jnp.minimum(jnp.maximum(lo, fA), x_A)
    best, x_best, kind, it_w, ok_w = _walk(l0, active, x_start, x_A, dist)
    kind = jnp.where(n_act == 0, FoldKind.OUTSIDE, kind)
    return x_best, kind, it_a + it_w, (ok_a & ok_w) | (n_act == 0), x_A


# Implicit derivatives of the two kinds of maximum point. Each rule calls its own
# function for the primal, so derivatives of derivatives go through the rule again.


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _fold_point(l0, x_conv, dist):
    """x* with f'(x*) = 0: dx* = -(sum_n c_n dl0_n) / (sum_n c_n),
    c_n = eta''_n / (2 + eta'_n)^3 (from d f' = 0 at fixed u)."""
    del l0, dist
    return x_conv


@_fold_point.defjvp
def _fold_point_jvp(dist, primals, tangents):
    l0, x_conv = primals
    x = _fold_point(l0, x_conv, dist)
    l = _phi(l0 + x, _phi_newton(l0 + x, dist), dist)
    _, de, dde = _eta3(l, dist)
    c = dde / (2.0 + de) ** 3
    total = jnp.sum(c)
    return x, -jnp.sum(c * tangents[0]) / jnp.where(total != 0, total, 1.0)


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def _crossing_point(l0, x_conv, dist):
    """x_A with Gamma(x_A) = N log 2 / 2: dx_A = -(sum_n w_n dl0_n) / (sum_n w_n),
    w_n = eta'_n / (2 + eta'_n)."""
    del l0, dist
    return x_conv


@_crossing_point.defjvp
def _crossing_point_jvp(dist, primals, tangents):
    l0, x_conv = primals
    x = _crossing_point(l0, x_conv, dist)
    l = _phi(l0 + x, _phi_newton(l0 + x, dist), dist)
    de = eta_and_slope_of_log_g(l, dist)[1]
    w = de / (2.0 + de)
    total = jnp.sum(w)
    return x, -jnp.sum(w * tangents[0]) / jnp.where(total > 0, total, 1.0)


def _fold_one(l0, dist, lo, hi):
    """u_c of one realization l0 (N,) (-inf entries: absent), differentiable in l0."""
    active = jnp.isfinite(l0)
    l0s = jnp.where(active, l0, _FAR)
    x_sg, kind, it, ok, _ = _locate(jax.lax.stop_gradient(l0s), active, dist, lo)
    # tangents of absent l-bits are dropped (their eta is exactly 0)
    l0d = jnp.where(active, l0s, jax.lax.stop_gradient(l0s))
    x = jnp.where(
        kind == FoldKind.FOLD, _fold_point(l0d, x_sg, dist), _crossing_point(l0d, x_sg, dist)
    )
    y = l0d + x
    e = eta_and_slope_of_log_g(_phi(y, _phi_newton(y, dist), dist), dist)[0]
    gamma = jnp.sum(jnp.where(active, e, 0.0))
    u = x - 0.5 * gamma
    out_lo, out_hi = u < lo, u > hi
    kind = jnp.where(out_lo | out_hi, FoldKind.OUTSIDE, kind)
    u = jnp.where(out_lo, -jnp.inf, jnp.where(out_hi | (kind == FoldKind.OUTSIDE), jnp.inf, u))
    return u, gamma, kind, it, ok


@functools.partial(jax.jit, static_argnums=(1,))
def _fold_batch(flat_l0, dist, lo, hi):
    return jax.vmap(lambda v: _fold_one(v, dist, lo, hi))(flat_l0)


def fold_log_scale(log_g0: ArrayLike, dist: str = "goe", *, bracket=(-40.0, 40.0)) -> Fold:
    """The critical log scale u_c = max_{x <= x_A} (x - Gamma(x) / 2), exactly.

    Scaling every bare coupling by s, the realization avalanches (eq. 19) iff
    log s > u_c. For a lattice with couplings g0 |phi_k(0)| this is log g0_c; for
    symmetric couplings it is log g_c(N) (eq. 22). Solved as the fold of the scalar
    mean-field equation (module docstring), to ~1e-13 in u_c; jit/vmap-compatible and
    differentiable in ``log_g0`` (implicit, second derivatives included).

    Args:
        log_g0: (..., N) log bare couplings (-inf: absent l-bit).
        dist: ptilde family.
        bracket: (lo, hi): u_c below lo is reported as -inf, above hi as +inf.

    Returns:
        :class:`Fold`, each field (...).

    Raises:
        ValueError: (concrete input) NaN or +inf in ``log_g0``, empty N, a bad bracket
            or dist. Under jit a realization with NaN or +inf comes back with NaN and
            ``converged=False``.
    """
    check_dist(dist)
    lo, hi = check_bracket(bracket)
    check_log_couplings(log_g0)
    l0 = jnp.asarray(log_g0, jnp.float64)
    bad = jnp.any(jnp.isnan(l0) | (l0 == jnp.inf), axis=-1)
    l0 = jnp.where(bad[..., None], -jnp.inf, l0)
    batch = l0.shape[:-1]
    u, gamma, kind, it, ok = _fold_batch(
        l0.reshape((-1, l0.shape[-1])), dist, jnp.float64(lo), jnp.float64(hi)
    )
    shape = lambda a: a.reshape(batch)  # noqa: E731
    nan = lambda a: jnp.where(bad, jnp.nan, shape(a))  # noqa: E731
    return Fold(nan(u), nan(gamma), shape(kind), shape(it), shape(ok) & ~bad)


def check_bracket(bracket):
    """(lo, hi) as floats, finite with lo < hi, else ValueError naming ``bracket``."""
    try:
        lo, hi = (float(b) for b in bracket)
    except (TypeError, ValueError):
        raise ValueError(
            f"bracket must be a pair (lo, hi) of finite floats, got {bracket!r}"
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"bracket must be finite with lo < hi, got {bracket!r}")
    return lo, hi


def check_log_couplings(log_g0):
    """Eager check of (..., N) log bare couplings: real, N >= 1, no NaN, no +inf."""
    if not is_concrete(log_g0):
        return
    a = np.asarray(log_g0)
    if a.ndim < 1 or a.shape[-1] < 1:
        raise ValueError(f"log_g0 must have shape (..., N) with N >= 1, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"log_g0 must be a real float array, got dtype {a.dtype}")
    if np.isnan(a).any():
        raise ValueError("log_g0 contains NaN; log bare couplings must lie in [-inf, inf)")
    if (a == np.inf).any():
        raise ValueError(
            "log_g0 contains +inf; log bare couplings must lie in [-inf, inf) "
            "(an infinite bare coupling)"
        )
