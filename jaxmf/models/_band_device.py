"""Spectral measure of site 0 of a symmetric band matrix, entirely in XLA.

The device counterpart of :mod:`jaxmf.models._banded` (same mathematics, no host
callback): eigenvalues lambda_k and amplitudes |phi_k(0)| of a symmetric band matrix H
(half-bandwidth kd), as needed for the bare couplings g0 |phi_k(0)| (eq. 16, 18).

1. Band -> tridiagonal, T = Q^T H Q. From kd >= 20 on (:func:`intermediate_band`) a
   blocked first stage takes the band to half-bandwidth 8 (block reflectors, rank-8
   updates, 2 N / 8 + N / kd steps: :mod:`jaxmf.models._band_blocked`); then the
   Householder bulge chasing below, on the narrow band (the kernels of LAPACK
   ``dsytrd_sb2st``): sweep i annihilates column i below its subdiagonal with a
   reflector on rows i+1 .. i+kd, and chases the bulge this creates down the band in
   blocks of kd. A task of a sweep at position p applies the sweep's current reflector
   two-sidedly to the diagonal block D = H[p:p+kd, p:p+kd] and from the right to the
   block below, B = H[p+kd:p+2kd, p:p+kd], then annihilates B's first column with a
   new reflector (applied to B from the left; to the rest of its rows by the next task
   of the sweep). Every reflector acts on indices >= 1, so Q e_0 = e_0 and the first
   components of T's eigenvectors are the phi_k(0).

   Pipelining: task b of sweep i runs at step t = 2 i + b. Tasks of one step touch
   disjoint column windows [p, p + kd) spaced 2 kd - 1 apart, so each step is one
   vectorized update of all of them (and of the whole batch): 2 (N - 2) sequential
   steps in all, each O(N kd) work. Storage is the band only: column-band form
   C[c, k] = H[c + k, c] with 2 kd diagonals (the bulges reach 2 kd - 1 below the
   diagonal), N + O(N / phases + kd) rows; the batch is the last (fastest) axis, so
   every operation is SIMD over realizations. The number of active tasks falls
   linearly with t (the finished, tridiagonal part grows), so the loop is split into
   phases with fewer task slots.

2. Eigenvalues of T by bisection (CPU) or multisection (accelerators: 7 points per
   interval and sweep, a third of the sequential sweeps) on Sturm counts, all
   eigenvalues and the whole batch in parallel, to 2 eps ||T||
   (:func:`tridiagonal_eigenvalues`).

3. Amplitudes by twisted factorizations with a Rayleigh-quotient correction
   (:func:`jaxmf.models._banded.first_components`).

Degenerate or nearly degenerate eigenvalues make twisted factorizations inaccurate
(each vector is computed alone, so a close pair is not orthogonalised): a realization
is flagged when two eigenvalues are closer than 1e-12 max |lambda| (the clean lattice)
or when the a-posteriori error bound of some |phi_k(0)| from its neighbours j,
4 rho_k |z_j[r_k]| |phi_j(0)| / |lambda_k - lambda_j| (rho_k >= eps ||T|| the residual
norm of the computed vector z_k, which a twisted factorization puts at its twist index
r_k), exceeds 1e-13: a close pair overlapping each other and site 0, e.g. a symmetric
lattice split by a weak potential, W = 1e-3. Flagged
realizations, and only those, are recomputed by a dense ``eigh`` inside the same XLA
program (a ``while_loop`` over the flagged members of the batch, inside a ``cond``). Derivatives go
through the dense eigh route (they need all eigenvectors), as on the host path.

(One module of ~520 lines: the route's three steps, its exactness flags and fallback,
and its batching and derivative rules form one computation with shared constants; the
blocked first stage, which has its own schedule, lives in :mod:`._band_blocked`.)
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .._checks import check_int
from . import _band_blocked, _banded

__all__ = ["band_to_tridiagonal", "band_spectrum", "tridiagonal_eigenvalues", "schedule"]

# Eigenvalues of T closer than this (relative to max |lambda|) count as degenerate
# (the host path's threshold).
_DEGENERATE_GAP = 1e-12
# Realizations whose amplitude error bound (rho_k |phi_j(0)| / gap for neighbours j,
# rho_k the residual of the computed vector, times this safety factor) exceeds
# _AMPLITUDE_TOL go dense.
_ERROR_FACTOR = 4.0
_AMPLITUDE_TOL = 1e-13
# Multisection points per interval and sweep on accelerators (3 bits per sweep).
_ACCELERATOR_POINTS = 7
# Upper bound on the number of phases (separately compiled loops with fewer task slots).
_MAX_PHASES = 4
# The blocked first stage kd -> _INTERMEDIATE_BAND runs from kd >= _TWO_STAGE_MIN_KD on.
_INTERMEDIATE_BAND = 8
_TWO_STAGE_MIN_KD = 20


# --------------------------------------------------------------------------- schedule
def schedule(n, kd, phases=None):
    """Static plan of the pipelined reduction of an n x n band matrix.

    Args:
        n: matrix size.
        kd: half-bandwidth (>= 2; smaller bands are already tridiagonal).
        phases: number of loop phases (default: up to 4, fewer for few task slots).

    Returns:
        (phases, rows): ``phases`` a list of (first, stop, slots): loop iterations
        s in [first, stop) (two steps each, t = 2 s and 2 s + 1) with ``slots`` task
        slots; ``rows`` the rows of the working band storage.
    """
    stride = 2 * kd - 1
    steps = max(n - 2, 0)

    def slots(first):
        return (n - 2 - first) // stride + 2

    if phases is None:  # one loop while few slots would idle, else up to _MAX_PHASES
        phases = 1 if slots(0) <= 8 else min(_MAX_PHASES, slots(0) // 4)
    bounds = np.unique(np.linspace(0, steps, phases + 1).round().astype(int))
    plan = [(int(a), int(b), slots(int(a))) for a, b in zip(bounds[:-1], bounds[1:])]
    longest = max((b - a for a, b, _ in plan), default=0)
    return plan, n + longest + 5 * kd + 2


def sequential_steps(n, kd):
    """Sequential steps of the reduction, 2 (n - 2), and band entries updated per step
    at the first step of each phase (slots x kd x 2 kd), as (steps, [entries, ...])."""
    plan, _ = schedule(n, kd)
    return 2 * max(n - 2, 0), [m * kd * 2 * kd for _, _, m in plan]


# --------------------------------------------------------------------------- kernels
def _house(x):
    """Householder reflector (LAPACK dlarfg) of x (L, ...): (I - tau v v^T) x = beta e_0.

    Returns v (L, ...) with v[0] = 1, tau (...), beta (...); tau = 0 when x[1:] = 0.
    """
    alpha = x[0]
    xnorm = jnp.sqrt(jnp.sum(x[1:] ** 2, axis=0))
    r = jnp.hypot(alpha, xnorm)
    beta = jnp.where(alpha >= 0, -r, r)
    zero = xnorm == 0
    tau = jnp.where(zero, 0.0, (beta - alpha) / jnp.where(zero, 1.0, beta))
    scale = jnp.where(zero, 0.0, 1.0 / jnp.where(zero, 1.0, alpha - beta))
    v = jnp.concatenate([jnp.ones_like(alpha)[None], x[1:] * scale[None]], axis=0)
    return v, tau, jnp.where(zero, alpha, beta)


def _skew(a, width):
    """y[m, j, x] = a[m, j, x - j] (0 where x < j), x < width; a (M, n, L, B).

    Row j shifted right by j, with a pad and two reshapes (no gather).
    """
    m_, n, length, b = a.shape
    a = jnp.pad(a, ((0, 0), (0, 0), (0, n), (0, 0)))
    flat = a.reshape(m_, n * (length + n), b)[:, : n * (length + n - 1)]
    return flat.reshape(m_, n, length + n - 1, b)[:, :, :width]


def _unskew(y, width):
    """a[m, j, k] = y[m, j, j + k] (valid where j + k < L), k < width; y (M, n, L, B)."""
    m_, n, length, b = y.shape
    flat = jnp.pad(y.reshape(m_, n * length, b), ((0, 0), (0, n), (0, 0)))
    return flat.reshape(m_, n, length + 1, b)[:, :, :width]


def _materialize(arrays):
    """The (M, ...) arrays, computed once: as the product with the M x M identity (a dot,
    exact for finite values), which XLA does not fuse into (and recompute inside) its
    consumers; optimization barriers are removed before fusion on some backends."""
    eye = jnp.eye(arrays[0].shape[0], dtype=arrays[0].dtype)
    return tuple((eye @ x.reshape(x.shape[0], -1)).reshape(x.shape) for x in arrays)


def _tasks(win, v, tau, kd):
    """One step of all task slots.

    Args:
        win: (M, kd, 2 kd, B) band windows, win[m, j, k] = H[p_m + j + k, p_m + j].
        v, tau: (M, kd, B), (M, B) the sweeps' reflectors for rows [p_m, p_m + kd).

    Returns:
        (win, v2, tau2): updated windows and the reflectors for the next tasks.
    """
    xt = _skew(win, 2 * kd)  # xt[j, r] = H[p + r, p + j] for r >= j (dense coordinates)
    dl, bt = xt[:, :, :kd], xt[:, :, kd:]  # lower part of D; B^T
    diag = jnp.sum(jnp.where(np.eye(kd, dtype=bool)[None, :, :, None], dl, 0.0), axis=2)
    # D v from D's lower triangle, and z = v^T B^T: one pass over the window
    dv = jnp.sum(dl * v[:, None], axis=2) + jnp.sum(dl * v[:, :, None], axis=1) - diag * v
    z = jnp.sum(bt * v[:, :, None], axis=1)
    t = tau[:, None]
    w = t * dv
    u = w - 0.5 * t * jnp.sum(w * v, axis=1, keepdims=True) * v  # P D P = D - v u^T - u v^T
    # first column of B P (v[0] = 1) -> the next reflector
    v2, tau2, beta2 = jax.vmap(_house)(bt[:, 0] - t * z)
    # (B P)^T v2 without forming B P
    y = jnp.sum(bt * v2[:, None], axis=2) - t * v * jnp.sum(z * v2, axis=1, keepdims=True)
    # the rank-two updates' vectors, materialized: fused into the window-sized update
    # XLA would recompute the reflectors (square roots, divisions) for every entry
    u, tv, z, ty, v2, beta2 = _materialize((u, t * v, z, tau2[:, None] * y, v2, beta2))
    d_new = dl - v[:, :, None] * u[:, None] - u[:, :, None] * v[:, None]
    b_new = bt - tv[:, :, None] * z[:, None] - ty[:, :, None] * v2[:, None]
    first = np.arange(kd) == 0
    b_new = jnp.where(
        first[None, :, None, None],
        jnp.where(first[None, None, :, None], beta2[:, None, None], 0.0),
        b_new,
    )
    new = _unskew(jnp.concatenate([d_new, b_new], axis=2), 2 * kd)
    # entries more than 2 kd - 1 below the window's columns are not the task's: keep them
    inside = (np.arange(kd)[:, None] + np.arange(2 * kd)[None, :]) < 2 * kd
    return jnp.where(inside[None, :, :, None], new, win), v2, tau2


def _tridiagonalize(C, n, kd):
    """(N', 2 kd, B) column-band storage -> (d, e) of shapes (n, B), (n - 1, B)."""
    stride, width = 2 * kd - 1, 2 * kd
    plan, _ = schedule(n, kd)
    batch = C.shape[-1]
    v = jnp.zeros((plan[0][2], kd, batch))
    tau = jnp.zeros((plan[0][2], batch))
    first_row = (np.arange(kd) == 0)[:, None]

    for first, stop, slots in plan:
        v, tau = v[:slots], tau[:slots]

        def body(t, carry, slots=slots):
            C, v, tau = carry
            s, odd = t // 2, t % 2
            even = odd == 0
            # task b = t - 2 i of sweep i = s - m sits at p = 1 + s + odd kd + m (2 kd - 1);
            # one slice from the column before the first task (even t: column s, whose
            # reflector starts sweep s) to the last task's window, updated in place
            p0 = s + odd * kd
            slab = lax.dynamic_slice_in_dim(C, p0, 1 + slots * stride, axis=0)
            col, rows = slab[0], slab[1:].reshape(slots, stride, width, batch)
            v0, tau0, beta0 = _house(col[1 : kd + 1])
            col = col.at[1 : kd + 1].set(
                jnp.where(even, jnp.where(first_row, beta0[None], 0.0), col[1 : kd + 1])
            )
            # even t: the new sweep takes slot 0, the others move one slot on
            v = jnp.where(even, jnp.concatenate([v0[None], v[:-1]]), v)
            tau = jnp.where(even, jnp.concatenate([tau0[None], tau[:-1]]), tau)
            new, v, tau = _tasks(rows[:, :kd], v, tau, kd)
            rows = jnp.concatenate([new, rows[:, kd:]], axis=1).reshape(-1, width, batch)
            slab = jnp.concatenate([col[None], rows])
            return lax.dynamic_update_slice_in_dim(C, slab, p0, axis=0), v, tau

        C, v, tau = lax.fori_loop(2 * first, 2 * stop, body, (C, v, tau))
    return C[:n, 0], C[: n - 1, 1]


def intermediate_band(kd):
    """Half-bandwidth b of the blocked first stage for a band of half-bandwidth kd, or
    None for the direct reduction: b = 8 from kd >= 20 on. Measured (one CPU core, the
    band reduction per realization, one process each): two stages 1.5x faster than one
    at kd = 22 (R = 10), 2.9x at kd = 46 (R = 22) and kd = 68 (R = 33); at kd = 102
    (R = 50) b = 8 took 12.5 s against 17.4 s (b = 16), 17.5 s (b = 4) and 13.9 s
    (three stages 102 -> 16 -> 4 -> 1)."""
    return _INTERMEDIATE_BAND if kd >= _TWO_STAGE_MIN_KD else None


def _to_tridiagonal(ab, band=None):
    """ab (kd + 1, N, B) lower band storage -> d (N, B), e (N - 1, B).

    ``band``: half-bandwidth of the blocked first stage (:mod:`._band_blocked`), 0 for
    the direct reduction, None for :func:`intermediate_band`."""
    kd1, n, batch = ab.shape
    kd = min(kd1 - 1, n - 1)
    # entries of the storage outside the matrix (H[c + k, c] with c + k >= n) are unused
    inside = (np.arange(n)[None, :] + np.arange(kd1)[:, None] < n)[:, :, None]
    ab = jnp.where(inside, ab, 0.0)
    if kd <= 1:
        e = ab[1, : n - 1] if kd == 1 else jnp.zeros((max(n - 1, 0), batch), ab.dtype)
        return ab[0], e
    b = (intermediate_band(kd) or 0) if band is None else int(band)
    if 1 <= b < kd:
        C = jnp.zeros((n, 2 * kd, batch), ab.dtype)
        C = C.at[:, : kd + 1].set(jnp.moveaxis(ab[: kd + 1], 0, 1))
        return _to_tridiagonal(jnp.moveaxis(_band_blocked.reduce_band(C, n, kd, b), 1, 0), 0)
    _, rows = schedule(n, kd)
    C = jnp.zeros((rows, 2 * kd, batch), ab.dtype)
    C = C.at[:n, : kd + 1].set(jnp.moveaxis(ab[: kd + 1], 0, 1))
    return _tridiagonalize(C, n, kd)


@functools.cache
def _tridiagonal_one(band):
    @jax.custom_batching.custom_vmap
    def one(ab):
        d, e = _to_tridiagonal(ab[..., None], band)
        return d[..., 0], e[..., 0]

    @one.def_vmap
    def _(axis_size, in_batched, ab):
        del axis_size, in_batched
        return band_to_tridiagonal(ab, band=band), (True, True)

    return one


def band_to_tridiagonal(ab, *, band=None):
    """Tridiagonal form T = Q^T H Q of symmetric band matrices, with Q e_0 = e_0, in XLA.

    Args:
        ab: (..., kd + 1, N) lower band storage, ab[..., i - j, j] = H[i, j] for
            0 <= i - j <= kd (LAPACK's layout; entries with i >= N are ignored).
        band: half-bandwidth b of the blocked first stage kd -> b
            (:mod:`jaxmf.models._band_blocked`), 0 for the direct bulge chasing
            kd -> 1, None (default) for :func:`intermediate_band`.

    Returns:
        (d, e): (..., N) diagonal and (..., N - 1) off-diagonal of T. Under ``vmap``
        the batch is processed as one vectorized reduction (batch as the fastest axis).
    """
    ab = jnp.asarray(ab, jnp.float64)
    if band is not None:
        band = check_int("band", band, 0)
    if ab.ndim == 2:
        return _tridiagonal_one(band)(ab)
    lead = ab.shape[:-2]
    flat = ab.reshape((-1,) + ab.shape[-2:])
    d, e = _to_tridiagonal(jnp.moveaxis(flat, 0, -1), band)
    return (
        jnp.moveaxis(d, -1, 0).reshape(lead + d.shape[:1]),
        jnp.moveaxis(e, -1, 0).reshape(lead + e.shape[:1]),
    )


# --------------------------------------------------------------------------- spectrum
def _sturm_count(d, e2, x, pivmin):
    """Eigenvalues of tridiag below x: negative pivots of the LDL^T of T - x (LAPACK
    dlaebz's guarded recurrence). d (N, B), e2 (N - 1, B), x (..., B) -> (..., B) counts."""

    def pivot(q):
        return jnp.where(jnp.abs(q) < pivmin, -pivmin, q)

    def lift(a):  # (B,) -> (1, ..., 1, B) like x
        return a.reshape((1,) * (x.ndim - 1) + a.shape)

    pivmin = lift(pivmin)
    q = pivot(lift(d[0]) - x)

    def row(i, carry):
        q, count = carry
        q = pivot(lift(d[i]) - x - lift(e2[i - 1]) / q)
        return q, count + (q <= 0)

    _, count = lax.fori_loop(1, d.shape[0], row, (q, (q <= 0).astype(jnp.int32)), unroll=4)
    return count


def _points_per_sweep():
    # Multisection: k points per interval and sweep shrink it (k + 1)-fold, so the ~53
    # halvings take ~53 / log2(k + 1) sweeps of k times the work. On accelerators the
    # sweeps' N sequential steps (kernel launches) dominate, on a CPU the work.
    return 1 if jax.default_backend() == "cpu" else _ACCELERATOR_POINTS


def _eigenvalues_batch(d, e, points=None):
    """d (N, B), e (N - 1, B) -> (N, B) ascending eigenvalues by multisection on Sturm
    counts (``points`` per interval and sweep; 1: bisection)."""
    points = _points_per_sweep() if points is None else points
    n = d.shape[0]
    eps, tiny = jnp.finfo(jnp.float64).eps, jnp.finfo(jnp.float64).tiny
    ae = jnp.abs(e)
    zero = jnp.zeros_like(d[:1])
    radius = jnp.concatenate([ae, zero]) + jnp.concatenate([zero, ae])
    lo, hi = jnp.min(d - radius, axis=0), jnp.max(d + radius, axis=0)  # Gershgorin
    tnorm = jnp.maximum(jnp.abs(lo), jnp.abs(hi))
    e2 = e * e
    pivmin = tiny * jnp.maximum(1.0, jnp.max(e2, axis=0, initial=0.0))
    slack = 2.1 * n * eps * tnorm + 4.2 * pivmin
    lower = jnp.broadcast_to(lo - slack, d.shape)
    upper = jnp.broadcast_to(hi + slack, d.shape)
    target = jnp.arange(n)[:, None]
    tol = 2.0 * eps * tnorm
    frac = (np.arange(1, points + 1) / (points + 1))[:, None, None]

    def sweep(state):
        i, lower, upper = state
        x = lower[None] + frac * (upper - lower)[None]  # (points, N, B), ascending
        # counts grow with x: the eigenvalue lies above the points counting <= target
        below = _sturm_count(d, e2, x, pivmin) <= target[None]
        lower = jnp.maximum(lower, jnp.max(jnp.where(below, x, -jnp.inf), axis=0))
        upper = jnp.minimum(upper, jnp.min(jnp.where(below, jnp.inf, x), axis=0))
        return i + 1, lower, upper

    def more(state):
        i, lower, upper = state
        return (i < 64) & jnp.any(upper - lower > tol[None])

    _, lower, upper = lax.while_loop(more, sweep, (0, lower, upper))
    return 0.5 * (lower + upper)


def tridiagonal_eigenvalues(d, e, points=None):
    """Eigenvalues (ascending) of tridiag(e, d, e) by parallel multisection on Sturm counts.

    All N eigenvalues (and the batch) advance together: each sweep evaluates the Sturm
    count at ``points`` equispaced points of every eigenvalue's interval (an O(N)
    recurrence over vectors of points x N x batch) and keeps the sub-interval holding
    it, until the intervals are 2 eps ||T|| wide: ~53 / log2(points + 1) sweeps from
    the Gershgorin interval (53 for bisection, 18 for 7 points).

    Args:
        d: (..., N) diagonal; e: (..., N - 1) off-diagonal.
        points: points per interval and sweep (static int >= 1); default 1 (bisection)
            on the CPU backend, where the work counts, and 7 on accelerators, where the
            sweeps' sequential steps do.

    Returns:
        (..., N) eigenvalues.
    """
    d, e = jnp.asarray(d, jnp.float64), jnp.asarray(e, jnp.float64)
    lead, n = d.shape[:-1], d.shape[-1]
    if n == 1:
        return d
    flat_d = jnp.moveaxis(d.reshape(-1, n), 0, -1)
    flat_e = jnp.moveaxis(e.reshape(-1, n - 1), 0, -1)
    lam = _eigenvalues_batch(flat_d, flat_e, points)
    return jnp.moveaxis(lam, -1, 0).reshape(lead + (n,))


def _dense_from_band(ab):
    kd1, n = ab.shape[-2:]
    h = jnp.zeros(ab.shape[:-2] + (n, n), ab.dtype)
    for k in range(min(kd1, n)):
        i = np.arange(k, n)
        h = h.at[..., i, i - k].set(ab[..., k, : n - k])
    return h + jnp.swapaxes(jnp.tril(h, -1), -1, -2)


def _dense_spectrum(ab):
    lam, vectors = jnp.linalg.eigh(_dense_from_band(ab))
    return lam, jnp.abs(vectors[..., 0, :])


def amplitudes_and_flags(d, e, lam):
    """(amp (B, N), flagged (B,)): |phi_k(0)| by twisted factorizations and whether a
    realization needs the dense fallback (degenerate eigenvalues, or an a-posteriori
    error bound above _AMPLITUDE_TOL); d, e, lam (B, N), (B, N - 1), (B, N)."""
    amp, rho, overlap = jax.vmap(_banded.first_components_and_residuals)(d, e, lam)
    eps, tiny = jnp.finfo(jnp.float64).eps, jnp.finfo(jnp.float64).tiny
    scale = jnp.maximum(jnp.max(jnp.abs(lam), axis=-1), tiny)
    gap = jnp.diff(lam, axis=-1)
    flagged = jnp.min(gap, axis=-1) <= _DEGENERATE_GAP * scale
    # The vector computed for lambda_k has residual rho_k e_{r_k}, so it mixes in its
    # neighbour j with weight rho_k |v_j[r_k]| / |lambda_k - lambda_j| (v_j[r_k] is
    # z_j[r_k] up to z_j's own mixing, rho_j / gap), and |phi_k(0)| errs by that times
    # |phi_j(0)|: realizations where this bound (residuals no smaller than eps ||T||,
    # times a safety factor) exceeds _AMPLITUDE_TOL for a neighbouring pair go dense:
    # close pairs overlapping each other and site 0, e.g. a symmetric lattice split by
    # a weak potential. (Close pairs far apart, common in large disordered lattices,
    # do not mix.) The reduction's own backward error perturbs the eigenvectors no
    # more than dense eigh's does its: that is the problem's condition.
    inv_gap = 1.0 / jnp.maximum(gap, tiny)
    rho = _ERROR_FACTOR * jnp.maximum(rho, eps * scale[:, None])
    lo, hi = rho[:, :-1], rho[:, 1:]
    mix_lo = lo * (overlap[:, 1:, 0] + hi * inv_gap) * amp[:, 1:]  # v_{k+1} in z_k
    mix_hi = hi * (overlap[:, :-1, 1] + lo * inv_gap) * amp[:, :-1]  # v_k in z_{k+1}
    bound = (mix_lo + mix_hi) * inv_gap
    return amp, flagged | (jnp.max(bound, axis=-1) > _AMPLITUDE_TOL)


def _spectrum_batch(ab):
    """(B, kd + 1, N) -> (lam, amp), each (B, N), with the degenerate fallback."""
    n = ab.shape[-1]
    d, e = band_to_tridiagonal(ab)
    if n == 1:
        return d, jnp.ones_like(d)
    lam = tridiagonal_eigenvalues(d, e)
    amp, flagged = amplitudes_and_flags(d, e, lam)
    finite = jnp.all(jnp.isfinite(ab), axis=(-2, -1))
    flagged = flagged & finite

    def dense_one(state):  # one flagged realization by dense eigh
        lam, amp, todo = state
        i = jnp.argmax(todo)
        lam_i, amp_i = _dense_spectrum(ab[i])
        return lam.at[i].set(lam_i), amp.at[i].set(amp_i), todo.at[i].set(False)

    def dense(args):
        lam, amp, _ = lax.while_loop(lambda s: jnp.any(s[2]), dense_one, args + (flagged,))
        return lam, amp

    # inside a cond: a bare while_loop here made XLA:CPU run the whole route 3x slower
    # at R = 50 (45 s against 15 s per realization) even with no member flagged
    lam, amp = lax.cond(jnp.any(flagged), dense, lambda args: args, (lam, amp))
    nan = jnp.full_like(lam, jnp.nan)
    return (jnp.where(finite[:, None], lam, nan), jnp.where(finite[:, None], amp, nan))


@jax.custom_batching.custom_vmap
def _spectrum_one(ab):
    lam, amp = _spectrum_batch(ab[None])
    return lam[0], amp[0]


@_spectrum_one.def_vmap
def _spectrum_one_vmap(axis_size, in_batched, ab):
    del axis_size, in_batched
    return _spectrum_leading(ab), (True, True)


def _spectrum_leading(ab):
    lead = ab.shape[:-2]
    lam, amp = _spectrum_batch(ab.reshape((-1,) + ab.shape[-2:]))
    return lam.reshape(lead + lam.shape[-1:]), amp.reshape(lead + amp.shape[-1:])


@jax.custom_jvp
def band_spectrum(ab):
    """Eigenvalues and |first eigenvector components| of symmetric band matrices, in XLA.

    The spectral measure of site 0 (eq. 16, 18: g_k = g0 |phi_k(0)|), exact to ~1e-12
    like a dense eigh, in O(N^2 kd) work with no host callback: band reduction with
    reflectors that fix index 0, bisection, twisted factorizations (module docstring).
    Realizations with (nearly) degenerate eigenvalues fall back to a dense eigh on the
    device. Non-finite input gives NaN. jvp/grad: exact, through the dense eigh route.

    Args:
        ab: (..., kd + 1, N) lower band storage, ab[..., i - j, j] = H[i, j].

    Returns:
        (lam, amp): (..., N) ascending eigenvalues and |phi_k(0)| (sum of squares 1).
    """
    ab = jnp.asarray(ab, jnp.float64)
    if ab.ndim == 2:
        return _spectrum_one(ab)
    return _spectrum_leading(ab)


@band_spectrum.defjvp
def _band_spectrum_jvp(primals, tangents):
    (ab,), (dab,) = primals, tangents
    _, tangent_out = jax.jvp(_dense_spectrum, (ab,), (dab,))
    return band_spectrum(ab), tangent_out
