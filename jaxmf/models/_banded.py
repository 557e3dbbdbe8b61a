"""Spectral measure of site 0 of a symmetric band matrix, without eigenvectors.

Computes the eigenvalues lambda_k and amplitudes |phi_k(0)| in O(N^2 kd) instead of the
O(N^3) of a dense eigensolver:

1. Host, LAPACK ``dsbtrd``: plane rotations reduce the band matrix H (half-bandwidth kd)
   to tridiagonal T = Q^T H Q. None of them touches index 0, so Q e_0 = e_0 and
   phi_k(0) is the first component of the k-th eigenvector of T (T is the Jacobi
   matrix of the spectral measure of site 0, as Lanczos from e_0 would give it, but
   backward stable). Then ``dsterf`` gives the eigenvalues of T.
2. JAX, :func:`first_components`: for each eigenvalue, a twisted factorization of
   T - lambda (Parlett & Dhillon) gives the eigenvector up to normalisation, of which only
   v[0]^2 / |v|^2 is accumulated (two O(N) recurrences, vectorised over eigenvalues).
   A first pass yields the Rayleigh-quotient correction of each eigenvalue, a second
   pass at the corrected eigenvalue the amplitudes: with dsterf's eigenvalues alone the
   error is ~10x larger (up to ~3e-11 seen), with the correction ~1e-13, within a few
   times of a dense eigh (checked against eigenpairs refined in extended precision).

Twisted factorizations do not orthogonalise eigenvectors of (numerically) degenerate
eigenvalues, so when two eigenvalues of T are closer than ``_DEGENERATE_GAP`` x ||T||
(the clean lattice, W = 0; for disordered potentials about once in 1e4 realizations at
N = 5101) the host returns a dense ``numpy.linalg.eigh`` result instead.

Not used: (i) the interlacing formula |phi_k(0)|^2 = prod_j (lambda_k - mu_j) /
prod_{j != k} (lambda_k - lambda_j) (mu: eigenvalues without site 0) has absolute error
~eps ||H|| / gap in |phi|^2, i.e. ~1e-7 in |phi| for the far orbitals; (ii) ``dbdsqr``
on the Cholesky factor of T - sigma, tracking one row: orthogonal, but its relative
convergence tolerance (~100 eps) gives errors up to ~2e-10 in |phi| at W = 5.

The band reduction uses LAPACK ``dsytrd_sb2st`` (the cache-efficient bulge chasing of
LAPACK >= 3.7, ~1.5x faster than ``dsbtrd`` at N = 5101) when the OpenBLAS bundled with
scipy's wheels exports it, and ``dsbtrd`` otherwise. Both only rotate indices >= 1.
Neither has a Python wrapper in scipy.linalg.lapack: ``dsbtrd`` is called through
scipy's public Cython LAPACK table (scipy.linalg.cython_lapack), ``dsytrd_sb2st``
through the bundled library, both via ctypes.
"""

from __future__ import annotations

import ctypes
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import scipy
import scipy.linalg.cython_lapack as _cython_lapack
from scipy.linalg import lapack as _lapack

_dbl = ctypes.POINTER(ctypes.c_double)
_int = ctypes.POINTER(ctypes.c_int)
_chr = ctypes.c_char_p

# Eigenvalues of T closer than this (relative to max |lambda|) count as degenerate.
_DEGENERATE_GAP = 1e-12
# Clamp for the running sums of squared ratios (keeps inf * 0 out of the recurrences).
_BIG = 1e300
# Eigenvalues per block of the twisted-factorization sweep (cache-sized working set).
_CHUNK = 256


def _lapack_function(name, *argtypes):
    capsule = _cython_lapack.__pyx_capi__[name]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype = ctypes.c_char_p
    api.PyCapsule_GetName.argtypes = [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer = api.PyCapsule_GetPointer(capsule, api.PyCapsule_GetName(capsule))
    return ctypes.CFUNCTYPE(None, *argtypes)(pointer)


# DSBTRD(VECT, UPLO, N, KD, AB, LDAB, D, E, Q, LDQ, WORK, INFO)
_dsbtrd = _lapack_function(
    "dsbtrd", _chr, _chr, _int, _int, _dbl, _int, _dbl, _dbl, _dbl, _int, _dbl, _int
)


def _find_sb2st():
    """DSYTRD_SB2ST from scipy's bundled OpenBLAS as (function, int type), or None."""
    root = pathlib.Path(scipy.__file__).parent
    for path in sorted(
        [
            *root.parent.glob("scipy.libs/libscipy_openblas*"),
            *root.glob(".dylibs/libscipy_openblas*"),
        ]
    ):
        try:
            lib = ctypes.CDLL(str(path))
        except OSError:  # pragma: no cover
            continue
        for symbol, int_t in (
            ("scipy_dsytrd_sb2st_", ctypes.c_int),
            ("scipy_dsytrd_sb2st_64_", ctypes.c_int64),
        ):
            if hasattr(lib, symbol):
                function = getattr(lib, symbol)
                function.restype = None
                return function, int_t
    return None  # pragma: no cover - other scipy builds


_sb2st = _find_sb2st()


def _i(value):
    return ctypes.byref(ctypes.c_int(value))


def _p(array):
    return array.ctypes.data_as(_dbl)


# --------------------------------------------------------------------------- host side
def band_to_tridiagonal(ab, *, driver="auto"):
    """Tridiagonal form of a symmetric band matrix, leaving e_0 invariant.

    Args:
        ab: (kd + 1, N) lower band storage, ab[i - j, j] = H[i, j] for 0 <= i - j <= kd.
        driver: ``"sb2st"`` (LAPACK dsytrd_sb2st), ``"sbtrd"`` (dsbtrd) or ``"auto"``
            (sb2st where available and kd >= 2).

    Returns:
        (d, e): (N,) diagonal and (N - 1,) off-diagonal of T = Q^T H Q, with Q e_0 = e_0.
        (T is determined by H only up to rounding amplified along the diagonal -- the
        Jacobi matrix of a discrete measure is ill-conditioned -- but its eigenvalues
        and first eigenvector components are as accurate as H's.)
    """
    kd1, n = ab.shape
    if driver == "sb2st" or (driver == "auto" and _sb2st is not None and kd1 >= 3):
        return _band_to_tridiagonal_sb2st(ab)
    return _band_to_tridiagonal_sbtrd(ab)


def _band_to_tridiagonal_sb2st(ab):
    assert _sb2st is not None, "LAPACK's dsb2st is not available in this SciPy build"
    function, int_t = _sb2st
    kd1, n = ab.shape
    ab = np.array(ab, dtype=np.float64, order="F")

    def call(hous, lhous, work, lwork):
        info = int_t(0)
        ref = lambda v: ctypes.byref(int_t(v))  # noqa: E731
        one = ctypes.c_size_t(1)  # hidden lengths of the three CHARACTER arguments
        function(
            b"N",
            b"N",
            b"L",
            ref(n),
            ref(kd1 - 1),
            _p(ab),
            ref(kd1),
            _p(d),
            _p(e),
            _p(hous),
            ref(lhous),
            _p(work),
            ref(lwork),
            ctypes.byref(info),
            one,
            one,
            one,
        )
        if info.value != 0:  # pragma: no cover - only for invalid arguments
            raise np.linalg.LinAlgError(f"dsytrd_sb2st failed, info = {info.value}")

    d, e = np.empty(n), np.empty(max(n - 1, 1))
    hous, work = np.empty(1), np.empty(1)
    call(hous, -1, work, -1)  # workspace query
    lhous, lwork = max(int(hous[0]), 1), max(int(work[0]), 1)
    call(np.empty(lhous), lhous, np.empty(lwork), lwork)
    return d, e[: n - 1]


def _band_to_tridiagonal_sbtrd(ab):
    kd1, n = ab.shape
    ab = np.array(ab, dtype=np.float64, order="F")  # overwritten by LAPACK
    d, e, work = np.empty(n), np.empty(max(n - 1, 1)), np.empty(n)
    q, info = np.zeros(1), ctypes.c_int(0)
    _dsbtrd(
        b"N",
        b"L",
        _i(n),
        _i(kd1 - 1),
        _p(ab),
        _i(kd1),
        _p(d),
        _p(e),
        _p(q),
        _i(1),
        _p(work),
        ctypes.byref(info),
    )
    if info.value != 0:  # pragma: no cover - only for invalid arguments
        raise np.linalg.LinAlgError(f"dsbtrd failed, info = {info.value}")
    return d, e[: n - 1]


def _dense_from_band(ab):
    kd1, n = ab.shape
    h = np.zeros((n, n))
    for k in range(kd1):
        h[np.arange(k, n), np.arange(n - k)] = ab[k, : n - k]
    return h + np.tril(h, -1).T


def tridiagonal_host(ab):
    """Host part of the fast path for one band matrix.

    Args:
        ab: (kd + 1, N) lower band storage (see :func:`band_to_tridiagonal`).

    Returns:
        (d, e, lam, dense_amp, use_dense): T's diagonal (N,) and off-diagonal (N - 1,),
        its eigenvalues (N,) ascending, and -- only where T has (near-)degenerate
        eigenvalues, ``use_dense`` True -- eigenvalues and |phi_k(0)| from a dense eigh
        (``lam`` and ``dense_amp``; ``dense_amp`` is zeros otherwise).
    """
    n = ab.shape[1]
    if not np.all(np.isfinite(ab)):
        nan = np.full(n, np.nan)
        return nan, nan[: n - 1], nan, nan, np.bool_(True)
    d, e = band_to_tridiagonal(ab)
    if n == 1:
        return d, e, d.copy(), np.zeros(1), np.bool_(False)
    lam, info = _lapack.dsterf(d, e)  # pyright: ignore[reportAttributeAccessIssue] (no stub)
    gaps = np.diff(lam)
    scale = max(np.max(np.abs(lam)), np.finfo(np.float64).tiny)
    if info == 0 and gaps.min() > _DEGENERATE_GAP * scale:
        return d, e, lam, np.zeros(n), np.bool_(False)
    lam, vectors = np.linalg.eigh(_dense_from_band(ab))
    return d, e, lam, np.abs(vectors[0]), np.bool_(True)


# --------------------------------------------------------------------------- JAX side
def _twisted_amplitudes(d, e2, lam, pivmin):
    """|v[0]|^2 of the eigenvectors of T = tridiag(e, d, e) at eigenvalues lam (K,), and
    the residual norm of each computed unit vector (both (K,)).

    (One function of ~60 lines of code: the three scans of the twisted factorization
    share their guards and are easiest to check against LAPACK's dlar1v side by side.)

    Twisted factorization of T - lam: top-down pivots D+_i and bottom-up pivots D-_i;
    the twist index r minimises |gamma_i|, gamma_i = D+_i + D-_i - (d_i - lam)
    = 1 / [(T - lam)^-1]_ii. The vector with z_r = 1 solves (T - lam) z = gamma_r e_r:
    z_i = -(e_i / D+_i) z_{i+1} for i < r and z_i = -(e_{i-1} / D-_i) z_{i-1} for i > r.
    Instead of z, the sweeps carry the finite quantities
        t_i = sum_{j<=i} (z_j / z_i)^2,  c_i = z_0^2 / sum_{j<=i} z_j^2,
        S_i = sum_{j>i} (z_j / z_i)^2,
    so |z|^2 = t_r + S_r and z_0^2 / |z|^2 = c_r t_r / (t_r + S_r). The vector is then
    recomputed at the Rayleigh quotient lam + gamma_r / |z|^2 (same twist index).
    Five O(N) sweeps per eigenvalue; only D-_i is stored.
    """
    n = d.shape[0]
    idx = jnp.arange(n)
    e2_prev = jnp.concatenate([jnp.zeros(1), e2])  # e_{i-1}^2, 0 at the top
    e2_next = jnp.concatenate([e2, jnp.zeros(1)])  # e_i^2, 0 at the bottom
    zeros, ones = jnp.zeros_like(lam), jnp.ones_like(lam)

    def pivot(x):  # LAPACK's guard against a zero pivot
        x = jnp.where(jnp.abs(x) < pivmin, -pivmin, x)
        return x, 1.0 / x

    def grow(ratio2, total):  # sum of squares relative to the next entry, clamped
        return jnp.minimum(ratio2 * total, _BIG)

    def bottom_up_pivots(inv_next, xs):
        di, en = xs
        dm, inv = pivot(di - lam - en * inv_next)
        return inv, dm

    _, dm = jax.lax.scan(bottom_up_pivots, zeros, (d, e2_next), reverse=True)

    def twist(carry, xs):
        inv_prev, t, best, r, gamma_r, t_r = carry
        i, di, ep, en, dmi = xs
        dp, inv = pivot(di - lam - ep * inv_prev)
        gamma = dp + dmi - (di - lam)
        better = jnp.abs(gamma) < best
        best, r = jnp.where(better, jnp.abs(gamma), best), jnp.where(better, i, r)
        gamma_r, t_r = jnp.where(better, gamma, gamma_r), jnp.where(better, t, t_r)
        return (inv, 1.0 + grow(en * inv * inv, t), best, r, gamma_r, t_r), None

    init = (zeros, ones, jnp.full_like(lam, jnp.inf), jnp.zeros(lam.shape, int), zeros, ones)
    (_, _, _, r, gamma_r, t_r), _ = jax.lax.scan(twist, init, (idx, d, e2_prev, e2_next, dm))

    def lower_sum(lam_):  # S_r and D-_r
        def step(carry, xs):
            inv_next, s, s_r, dm_r = carry
            i, di, ep, en = xs
            dm, inv = pivot(di - lam_ - en * inv_next)
            s_r, dm_r = jnp.where(i == r, s, s_r), jnp.where(i == r, dm, dm_r)
            return (inv, grow(ep * inv * inv, 1.0 + s), s_r, dm_r), None

        (_, _, s_r, dm_r), _ = jax.lax.scan(
            step, (zeros, zeros, zeros, zeros), (idx, d, e2_prev, e2_next), reverse=True
        )
        return s_r, dm_r

    def upper_sums(lam_):  # c_r, t_r, D+_r
        def step(carry, xs):
            inv_prev, c, t, c_r, t_r, dp_r = carry
            i, di, ep, en = xs
            dp, inv = pivot(di - lam_ - ep * inv_prev)
            c_r, t_r = jnp.where(i == r, c, c_r), jnp.where(i == r, t, t_r)
            dp_r = jnp.where(i == r, dp, dp_r)
            q = grow(en * inv * inv, t)
            return (inv, c * q / (1.0 + q), 1.0 + q, c_r, t_r, dp_r), None

        (_, _, _, c_r, t_r, dp_r), _ = jax.lax.scan(
            step, (zeros, ones, ones, zeros, ones, zeros), (idx, d, e2_prev, e2_next)
        )
        return c_r, t_r, dp_r

    lam = lam + gamma_r / (t_r + lower_sum(lam)[0])  # Rayleigh-quotient correction
    c_r, t_r, dp_r = upper_sums(lam)
    s_r, dm_r = lower_sum(lam)
    # (T - lam) z = gamma e_r for the final z (z_r = 1, |z|^2 = t_r + S_r): the residual
    # of the unit vector is |gamma| / |z|
    residual = jnp.abs(dp_r + dm_r - (d[r] - lam)) / jnp.sqrt(t_r + s_r)
    return c_r * t_r / (t_r + s_r), residual, r, lam, t_r + s_r


def _vector_entries(d, e2, lam, r, norm2, probes, pivmin):
    """|z_k[q]| / |z_k| at P probe indices q per vector: the twisted-factorization vectors
    of :func:`_twisted_amplitudes` (final eigenvalue estimates lam (K,), twist indices r,
    |z|^2 norm2), probes (K, P) int. Two O(N) sweeps: z_q / z_i carried from q towards r
    (z_{i+1} / z_i = -D+_i / e_i above r, z_{i-1} / z_i = -D-_i / e_{i-1} below it)."""
    n = d.shape[0]
    idx = jnp.arange(n)
    e2_prev = jnp.concatenate([jnp.zeros(1), e2])
    e2_next = jnp.concatenate([e2, jnp.zeros(1)])
    zeros = jnp.zeros_like(lam)
    r_ = r[:, None]

    def pivot(x):
        return 1.0 / jnp.where(jnp.abs(x) < pivmin, -pivmin, x)

    def sweep(reverse):
        def step(carry, xs):
            inv_near, ratio, at_r = carry
            i, di, ep, en = xs
            inv = pivot(di - lam - (en if reverse else ep) * inv_near)
            ratio = jnp.where(i == probes, 1.0, ratio)  # z_q / z_i
            at_r = jnp.where(i == r_, ratio, at_r)
            step_ = jnp.sqrt(ep if reverse else en) * jnp.abs(inv)
            return (inv, jnp.minimum(ratio * step_[:, None], _BIG), at_r), None

        init = (zeros, jnp.zeros(probes.shape), jnp.zeros(probes.shape))
        (_, _, at_r), _ = jax.lax.scan(step, init, (idx, d, e2_prev, e2_next), reverse=reverse)
        return at_r

    entry = jnp.where(probes <= r_, sweep(False), sweep(True))
    return entry / jnp.sqrt(norm2)[:, None]


@jax.jit  # compiled once per shape, also for eager (op-by-op) callers
def first_components(d, e, lam):
    """|v_k[0]| for the eigenvectors of tridiag(e, d, e), given its eigenvalues.

    Twisted factorizations (see :func:`_twisted_amplitudes`), the second at the
    Rayleigh-quotient-corrected eigenvalues. O(N^2) work, O(N * _CHUNK) memory.

    Args:
        d: (N,) diagonal.
        e: (N - 1,) off-diagonal.
        lam: (N,) eigenvalues (accurate to O(eps ||T||), e.g. from dsterf).

    Returns:
        (N,) |v_k[0]|, in the order of lam.
    """
    return _first_pass(d, e, lam)[0]


def _chunks(x, n, chunk):
    blocks = -(-n // chunk)
    pad = jnp.broadcast_to(x[:1], (blocks * chunk - n,) + x.shape[1:])
    return jnp.concatenate([x, pad]).reshape((blocks, chunk) + x.shape[1:])


def _first_pass(d, e, lam):
    """(|v_k[0]|, rho_k, r_k, mu_k, |z_k|^2, e^2, pivmin): the twisted factorizations of
    all eigenvalues, in blocks of _CHUNK (:func:`_twisted_amplitudes`)."""
    n = d.shape[0]
    e2 = e * e
    pivmin = jnp.finfo(jnp.float64).tiny * jnp.maximum(1.0, jnp.max(e2, initial=0.0))

    def amplitudes(lam_chunk):
        amp2, residual, r, mu, norm2 = _twisted_amplitudes(d, e2, lam_chunk, pivmin)
        return jnp.sqrt(amp2), residual, r, mu, norm2

    out = jax.lax.map(amplitudes, _chunks(lam, n, min(n, _CHUNK)))
    return tuple(x.reshape(-1)[:n] for x in out) + (e2, pivmin)


def first_components_and_residuals(d, e, lam):
    """(|v_k[0]|, rho_k, overlap_k): :func:`first_components`, the residual norm
    rho_k = ||(T - mu_k) z_k|| of each computed unit vector z_k at its corrected
    eigenvalue mu_k, and |z_k| at the neighbours' twist indices, overlap (N, 2) =
    (|z_k[r_{k-1}]|, |z_k[r_{k+1}]|) (0 at the ends).

    The residual of z_k is rho_k e_{r_k} (a twisted factorization puts it at its twist
    index r_k), so z_k's component along another eigenvector v_j is
    rho_k v_j[r_k] / (lambda_j - mu_k): with v_j[r_k] ~ z_j[r_k] this is the
    a-posteriori error of |v_k[0]| from its neighbours (Davis-Kahan with the residual's
    direction). Two O(N) sweeps per eigenvalue more than :func:`first_components`' five."""
    n = d.shape[0]
    amp, residual, r, mu, norm2, e2, pivmin = _first_pass(d, e, lam)
    probes = jnp.stack([jnp.roll(r, 1), jnp.roll(r, -1)], axis=1)

    def entries(args):
        mu_, r_, norm2_, probes_ = args
        return _vector_entries(d, e2, mu_, r_, norm2_, probes_, pivmin)

    chunk = min(n, _CHUNK)
    args = tuple(_chunks(x, n, chunk) for x in (mu, r, norm2, probes))
    overlap = jax.lax.map(entries, args).reshape(-1, 2)[:n]
    ends = jnp.zeros((n, 2), bool).at[0, 0].set(True).at[-1, 1].set(True)
    return amp, residual, jnp.where(ends, 0.0, overlap)
