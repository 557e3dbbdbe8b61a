"""Band -> narrower band in XLA: blocked Householder bulge chasing (stage one of the
device band route).

A symmetric band matrix H of half-bandwidth kd is reduced to half-bandwidth b < kd by
orthogonal similarity, H' = Q^T H Q with Q e_0 = e_0, before the bulge chasing of
:mod:`jaxmf.models._band_device` takes the narrow band to tridiagonal form. This is the
first stage of the two-stage (successive band) reductions of SBR, PLASMA and MAGMA,
written for a matrix that is already banded:

* Sweep s takes the panel of columns [s b, s b + b) to bandwidth b: a block reflector
  Q_0 = I - V T V^T (compact WY, V kd x b) from the QR factorization of the panel's
  kd x b block below its band (rows [p, p + kd), p = (s + 1) b), whose R replaces it.
* Task j of the sweep, at p = (s + 1) b + j kd, applies its reflector two-sidedly to
  the diagonal block D = H[p:p+kd, p:p+kd] and from the right to the block below,
  B = H[p+kd:p+2kd, p:p+kd], which fills in (the bulge); the QR factorization of B's
  first b columns gives the next task's reflector, applied to B from the left. Only
  those b columns are chased; the fill of the others stays within 2 kd - b of the
  diagonal and belongs to the panels of the next sweeps, which absorb it.
* Pipelining as in LAPACK ``dsytrd_sb2st``: task j of sweep s runs at step t = 2 s + j;
  the tasks of one step own disjoint column windows [p, p + kd) spaced 2 kd - b apart,
  so a step is one vectorized update of all of them and of the whole batch:
  2 N / b + N / kd sequential steps in all (against 2 N for kd -> 1 directly), each a
  few batched matrix products of rank b (the work, ~16 kd^2 b per task, 16 N^2 kd per
  realization, is GEMM-shaped).

No reflector touches index 0 (the first panel's block starts at row b), so the first
components of the eigenvectors are unchanged. Storage is the column-band form of
:mod:`jaxmf.models._band_device` (C[c, k] = H[c + k, c], 2 kd diagonals), O(N kd).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["reduce_band", "block_schedule", "sequential_steps", "qr_block"]

# Upper bound on the number of loop phases (separately compiled loops with fewer slots).
_MAX_PHASES = 4


def _house(x):
    """Householder reflectors of the rows of x (G, L): (I - tau v v^T) x = beta e_0
    (LAPACK dlarfg). Returns v (G, L) with v[:, 0] = 1, tau (G,), beta (G,)."""
    alpha = x[:, 0]
    xnorm = jnp.sqrt(jnp.sum(x[:, 1:] ** 2, axis=1))
    r = jnp.hypot(alpha, xnorm)
    beta = jnp.where(alpha >= 0, -r, r)
    zero = xnorm == 0
    tau = jnp.where(zero, 0.0, (beta - alpha) / jnp.where(zero, 1.0, beta))
    scale = jnp.where(zero, 0.0, 1.0 / jnp.where(zero, 1.0, alpha - beta))
    v = jnp.concatenate([jnp.ones_like(alpha)[:, None], x[:, 1:] * scale[:, None]], axis=1)
    return v, tau, jnp.where(zero, alpha, beta)


def qr_block(x):
    """Householder QR of G blocks, x = Q R with Q = I - V T V^T (LAPACK dgeqr2 + dlarft).

    Args:
        x: (G, L, b), L >= b.

    Returns:
        (V, T, R): V (G, L, b) unit lower trapezoidal, T (G, b, b) upper triangular,
        R (G, b, b) upper triangular. A zero column gives tau = 0 (no reflection).
    """
    _, _, b = x.shape
    vs, taus = [], []
    for i in range(b):
        v, tau, beta = _house(x[:, i:, i])
        rest = x[:, i:, i + 1 :]
        vr = jnp.einsum("gl,glk->gk", v, rest)
        rest = rest - tau[:, None, None] * v[:, :, None] * vr[:, None]
        x = x.at[:, i:, i + 1 :].set(rest).at[:, i, i].set(beta)
        vs.append(jnp.pad(v, ((0, 0), (i, 0))))
        taus.append(tau)
    V = jnp.stack(vs, axis=2)
    gram = jnp.einsum("gli,glj->gij", V, V)
    T = jnp.zeros((x.shape[0], b, b), x.dtype)
    for i in range(b):  # T[:i, i] = -tau_i T[:i, :i] V[:, :i]^T v_i
        T = T.at[:, i, i].set(taus[i])
        if i:
            T = T.at[:, :i, i].set(
                -taus[i][:, None] * jnp.einsum("gjk,gk->gj", T[:, :i, :i], gram[:, :i, i])
            )
    return V, T, jnp.triu(x[:, :b])


def _skew(a, width):
    """y[..., j, x] = a[..., j, x - j] (0 where x < j), x < width; a (G, n, L)."""
    g, n, length = a.shape
    a = jnp.pad(a, ((0, 0), (0, 0), (0, n)))
    flat = a.reshape(g, n * (length + n))[:, : n * (length + n - 1)]
    return flat.reshape(g, n, length + n - 1)[:, :, :width]


def _unskew(y, width):
    """a[..., j, k] = y[..., j, j + k], k < width; y (G, n, L)."""
    g, n, length = y.shape
    flat = jnp.pad(y.reshape(g, n * length), ((0, 0), (0, n)))
    return flat.reshape(g, n, length + 1)[:, :, :width]


def _tasks(win, V, T, kd, b):
    """One step of all task slots, batch-leading.

    Args:
        win: (G, kd, 2 kd) band windows, win[g, j, k] = H[p + j + k, p + j] (G = batch
            x slots, realization-major).
        V, T: (G, kd, b), (G, b, b) the tasks' block reflectors on rows [p, p + kd).

    Returns:
        (win, V2, T2): updated windows and the reflectors of the next tasks.
    """
    g = win.shape[0]
    xt = _skew(win, 2 * kd)  # xt[j, r] = H[p + r, p + j] for r >= j
    dl, bt = xt[:, :, :kd], xt[:, :, kd:]  # D's lower triangle (column-major); B^T
    d = (
        dl
        + jnp.swapaxes(dl, 1, 2)
        - jnp.diagonal(dl, axis1=1, axis2=2)[:, :, None] * np.eye(kd)[None]
    )
    # Q^T D Q = D - V Z^T - Z V^T, Z = W - V (T^T V^T W) / 2, W = D V T
    w = (d @ V) @ T
    z = w - 0.5 * V @ (jnp.swapaxes(T, 1, 2) @ (jnp.swapaxes(V, 1, 2) @ w))
    d_new = d - jnp.concatenate([V, z], 2) @ jnp.swapaxes(jnp.concatenate([z, V], 2), 1, 2)
    # B Q, as (B Q)^T = B^T - V T^T V^T B^T
    bt = bt - V @ (jnp.swapaxes(T, 1, 2) @ (jnp.swapaxes(V, 1, 2) @ bt))
    # the next reflector from B's first b columns; Q2^T B = (B^T Q2)^T
    V2, T2, R2 = qr_block(jnp.swapaxes(bt[:, :b], 1, 2))
    bt = bt - ((bt @ V2) @ T2) @ jnp.swapaxes(V2, 1, 2)
    first = jnp.concatenate([jnp.swapaxes(R2, 1, 2), jnp.zeros((g, b, kd - b), bt.dtype)], 2)
    bt = jnp.concatenate([first, bt[:, b:]], axis=1)
    new = _unskew(jnp.concatenate([d_new, bt], axis=2), 2 * kd)
    # entries more than 2 kd - 1 below the window's columns are not the task's
    inside = (np.arange(kd)[:, None] + np.arange(2 * kd)[None, :]) < 2 * kd
    return jnp.where(inside[None], new, win), V2, T2


def block_schedule(n, kd, b, phases=None):
    """Static plan of the blocked reduction kd -> b of an n x n band matrix.

    Returns:
        (plan, rows): ``plan`` a list of (first, stop, slots): steps t in [first, stop)
        with ``slots`` task slots; ``rows`` the rows of the working band storage.
    """
    stride = 2 * kd - b
    sweeps = max(-(-(n - 1 - b) // b), 0)
    if sweeps == 0:
        return [], n
    last = sweeps - 1
    steps = 2 * last + max(-(-(n - 1 - (last + 1) * b) // kd), 1) + 1
    t = np.arange(steps)
    p = (t // 2 + 1) * b + (t % 2) * kd  # the first slot's window
    active = np.minimum(np.maximum(-(-(n - 1 - p) // stride), 1), t // 2 + 1)
    if phases is None:
        phases = 1 if active.max() <= 8 else min(_MAX_PHASES, int(active.max()) // 4)
    bounds = np.unique(np.linspace(0, steps, phases + 1).round().astype(int))
    plan = [(int(a), int(c), int(active[a:c].max())) for a, c in zip(bounds[:-1], bounds[1:])]
    # the slab of step t: the panel [p - b, p), then slots x stride rows
    rows = max(int(p[a:c].max()) + m * stride for a, c, m in plan)
    return plan, max(rows, n)


def sequential_steps(n, kd, b):
    """(steps, tasks): sequential steps and tasks of the blocked reduction kd -> b."""
    plan, _ = block_schedule(n, kd, b)
    return sum(c - a for a, c, _ in plan), sum((c - a) * m for a, c, m in plan)


def reduce_band(C, n, kd, b):
    """Reduce column-band storage of half-bandwidth kd to half-bandwidth b.

    Args:
        C: (N', 2 kd, B) column-band storage, C[c, k] = H[c + k, c] (entries k > kd and
            rows c >= n zero), any N' >= n.
        n: matrix size; kd: half-bandwidth; b: target half-bandwidth, 1 <= b < kd.

    Returns:
        (n, b + 1, B) column-band storage of H' = Q^T H Q (Q e_0 = e_0).
    """
    width, stride = 2 * kd, 2 * kd - b
    batch = C.shape[-1]
    plan, rows = block_schedule(n, kd, b)
    if not plan:
        return C[:n, : b + 1]
    C = jnp.pad(C[:n], ((0, rows - n), (0, 0), (0, 0)))
    ii, rr, kk = np.arange(b)[:, None], np.arange(kd)[None, :], np.arange(width)[None, :]
    kidx = kk - b + ii  # panel column i, entry k: row k - b + i of its block (b, width)
    keep, from_r = kk < b - ii, (kidx >= 0) & (kidx <= ii)
    # batch first inside the loop: a window of every (realization, slot) is one matrix
    C = jnp.moveaxis(C, -1, 0)  # (B, rows, width)
    V = jnp.zeros((batch, plan[0][2], kd, b), C.dtype)
    T = jnp.zeros((batch, plan[0][2], b, b), C.dtype)

    for first, stop, slots in plan:
        # slots beyond a phase's count hold finished tasks (identity reflectors); the
        # count first grows (one new sweep every other step), then falls
        grow = ((0, 0), (0, max(slots - V.shape[1], 0)), (0, 0), (0, 0))
        V, T = jnp.pad(V[:, :slots], grow), jnp.pad(T[:, :slots], grow)

        def body(t, carry, slots=slots):
            C, V, T = carry
            s, odd = t // 2, t % 2
            even = odd == 0
            p0 = s * b + odd * kd  # the panel (even t: sweep s begins), then the slots
            slab = lax.dynamic_slice_in_dim(C, p0, b + slots * stride, axis=1)
            panel, rest = slab[:, :b], slab[:, b:].reshape(batch, slots, stride, width)
            V0, T0, R0 = qr_block(jnp.swapaxes(panel[:, ii, b - ii + rr], 1, 2))
            r_part = jnp.where(from_r[None], R0[:, np.clip(kidx, 0, b - 1), ii], 0.0)
            panel = jnp.where(even, jnp.where(keep[None], panel, r_part), panel)
            # even t: the new sweep takes slot 0, the others move one slot on
            V = jnp.where(even, jnp.concatenate([V0[:, None], V[:, :-1]], 1), V)
            T = jnp.where(even, jnp.concatenate([T0[:, None], T[:, :-1]], 1), T)
            win = rest[:, :, :kd].reshape(batch * slots, kd, width)
            new, V, T = _tasks(win, V.reshape(-1, kd, b), T.reshape(-1, b, b), kd, b)
            new = new.reshape(batch, slots, kd, width)
            rest = jnp.concatenate([new, rest[:, :, kd:]], axis=2).reshape(batch, -1, width)
            slab = jnp.concatenate([panel, rest], axis=1)
            C = lax.dynamic_update_slice_in_dim(C, slab, p0, axis=1)
            return C, V.reshape(batch, slots, kd, b), T.reshape(batch, slots, b, b)

        C, V, T = lax.fori_loop(first, stop, body, (C, V, T))
    C = jnp.moveaxis(C, 0, -1)
    return C[:n, : b + 1]
