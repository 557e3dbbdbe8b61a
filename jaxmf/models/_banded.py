"""Host (LAPACK) kernels for the spectral measure of one site of a banded matrix.

Only the eigenvalues lambda_k and the amplitudes |phi_k(0)| of the eigenvectors at index 0
are computed, without forming eigenvectors, in O(N^2 kd) instead of O(N^3):

1. ``dsbtrd`` reduces the band matrix (bandwidth kd) to tridiagonal T = Q^T H Q with
   plane rotations. None of them touches index 0, so Q e_0 = e_0 and
   phi_k(0) = first component of the k-th eigenvector of T (T is the Jacobi matrix of
   the spectral measure of site 0, as Lanczos from e_0 would give, but backward stable).
2. T - sigma = B^T B (sigma below the spectrum, B upper bidiagonal, from ``dpttrf``);
   ``dbdsqr`` with one right-hand column returns the singular values s_k and P^T e_0,
   i.e. lambda_k = sigma + s_k^2 and the first components of the eigenvectors (QR
   iteration tracking one row: orthogonal even for (near-)degenerate eigenvalues).

Errors are those of a dense eigensolver: eigenvalues to O(eps ||H||), amplitudes to
O(eps ||H|| / gap) absolute. This avoids the eigenvalue-interlacing formula
|phi_k(0)|^2 = prod_j (lambda_k - mu_j) / prod_{j != k} (lambda_k - lambda_j), whose
absolute error ~eps ||H|| / gap is in |phi|^2, i.e. ~1e-7 in |phi| for the far orbitals.

``dsbtrd`` and ``dbdsqr`` have no Python wrappers in scipy.linalg.lapack; they are called
through scipy's public Cython LAPACK table (scipy.linalg.cython_lapack), via ctypes.
"""

from __future__ import annotations

import ctypes

import numpy as np
import scipy.linalg.cython_lapack as _cython_lapack
from scipy.linalg import lapack as _lapack

_dbl = ctypes.POINTER(ctypes.c_double)
_int = ctypes.POINTER(ctypes.c_int)
_chr = ctypes.c_char_p


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
# DBDSQR(UPLO, N, NCVT, NRU, NCC, D, E, VT, LDVT, U, LDU, C, LDC, WORK, INFO)
_dbdsqr = _lapack_function(
    "dbdsqr", _chr, _int, _int, _int, _int, _dbl, _dbl, _dbl, _int, _dbl, _int, _dbl,
    _int, _dbl, _int,
)


def _i(value):
    return ctypes.byref(ctypes.c_int(value))


def _p(array):
    return array.ctypes.data_as(_dbl)


def band_to_tridiagonal(ab):
    """Tridiagonal form of a symmetric band matrix, leaving e_0 invariant (``dsbtrd``).

    Args:
        ab: (kd + 1, N) lower band storage, ab[i - j, j] = H[i, j] for 0 <= i - j <= kd.

    Returns:
        (d, e): (N,) diagonal and (N - 1,) off-diagonal of T = Q^T H Q, Q e_0 = e_0.
    """
    kd1, n = ab.shape
    ab = np.array(ab, dtype=np.float64, order="F")  # overwritten by LAPACK
    d, e, work = np.empty(n), np.empty(max(n - 1, 1)), np.empty(n)
    q, info = np.zeros(1), ctypes.c_int(0)
    _dsbtrd(b"N", b"L", _i(n), _i(kd1 - 1), _p(ab), _i(kd1), _p(d), _p(e), _p(q), _i(1),
            _p(work), ctypes.byref(info))
    if info.value != 0:
        raise np.linalg.LinAlgError(f"dsbtrd failed, info = {info.value}")
    return d, e[: n - 1]


def tridiagonal_first_components(d, e):
    """Eigenvalues and |first components| of the eigenvectors of tridiag(e, d, e).

    Args:
        d: (N,) diagonal.
        e: (N - 1,) off-diagonal.

    Returns:
        (lam, z): (N,) eigenvalues in ascending order and (N,) |v_k[0]|.
    """
    n = d.shape[0]
    if n == 1:
        return d.copy(), np.ones(1)
    # A shift below the spectrum (Gershgorin, with a margin) makes T - sigma positive
    # definite with condition number <~ 1e3, so its Cholesky factor is accurate.
    radius = np.abs(np.r_[e, 0.0]) + np.abs(np.r_[0.0, e])
    lo, hi = np.min(d - radius), np.max(d + radius)
    sigma = lo - 1e-3 * (hi - lo) - np.finfo(float).tiny
    piv, sub, info = _lapack.dpttrf(d - sigma, e)  # T - sigma = L diag(piv) L^T
    if info != 0:
        raise np.linalg.LinAlgError(f"dpttrf failed, info = {info}")
    root = np.sqrt(piv)
    s = np.array(root, order="F")
    f = np.array(sub * root[:-1], order="F")  # B = diag(root) L^T, upper bidiagonal
    vt = np.zeros((n, 1), order="F")
    vt[0, 0] = 1.0
    work, dummy, info = np.empty(4 * n), np.zeros(1), ctypes.c_int(0)
    _dbdsqr(b"U", _i(n), _i(1), _i(0), _i(0), _p(s), _p(f), _p(vt), _i(n), _p(dummy), _i(1),
            _p(dummy), _i(1), _p(work), ctypes.byref(info))
    if info.value != 0:
        raise np.linalg.LinAlgError(f"dbdsqr did not converge, info = {info.value}")
    # singular values come in descending order
    return (sigma + s**2)[::-1], np.abs(vt[::-1, 0])


def origin_spectrum(ab):
    """Eigenvalues and |phi_k(0)| of a symmetric band matrix, without eigenvectors.

    Falls back on a dense ``numpy.linalg.eigh`` if LAPACK reports a failure.

    Args:
        ab: (kd + 1, N) lower band storage (see :func:`band_to_tridiagonal`).

    Returns:
        (lam, amp): (N,) eigenvalues ascending and (N,) amplitudes |phi_k(0)|.
    """
    if not np.all(np.isfinite(ab)):
        nan = np.full(ab.shape[1], np.nan)
        return nan, nan.copy()
    try:
        return tridiagonal_first_components(*band_to_tridiagonal(ab))
    except np.linalg.LinAlgError:  # pragma: no cover - not seen in practice
        kd1, n = ab.shape
        h = np.zeros((n, n))
        for k in range(kd1):
            h[np.arange(k, n), np.arange(n - k)] = ab[k, : n - k]
        lam, vec = np.linalg.eigh(h, UPLO="L")
        return lam, np.abs(vec[0])
