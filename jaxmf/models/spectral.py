"""Spectral routes: eigenvalues and grain-site amplitudes |phi_k(site)| of a Hamiltonian.

The mean-field theory needs, per realization, only the orbital energies and the
amplitudes of the orbitals on the grain's site (eq. 16, 18): g_{k,0} = g0 |phi_k(0)|.
This module computes them for any real symmetric single-particle Hamiltonian, by one of
the exact routes in :data:`ROUTES` (a table: a new route is one more entry):

* ``"eigh"``: dense ``jnp.linalg.eigh``, O(N^3); any device, differentiable.
* ``"fast"``: band reduction on the host (LAPACK, rotations that never touch index 0,
  see ``jaxmf/models/_banded.py``) and twisted factorizations in JAX, O(N^2 kd) for
  half-bandwidth kd; a ``pure_callback`` (vmapped: a host loop). Derivatives are exact
  and come from the dense route (they need all eigenvectors).
* ``"device"``: the same band route entirely in XLA (no callback; band reduction by
  pipelined Householder bulge chasing, bisection, twisted factorizations, see
  ``jaxmf/models/_band_device.py``), O(N^2 kd) work and O(N kd) memory per
  realization; runs on any device, vectorized over the batch, shards over devices.
  Derivatives as for ``"fast"``.
* ``"auto"``: ``"fast"`` on the CPU backend from N >= 200 sites on, else ``"eigh"``;
  on accelerators ``"device"`` for band models from N >= 1000 on (projected to
  overtake batched dense eigh there), else ``"eigh"`` (see :func:`resolve_method`).

All routes agree to ~1e-12. A band matrix needs the grain first and a small
bandwidth: :func:`banded_ordering` finds such a site order for any bond graph (breadth
first from the grain, or a reverse Cuthill-McKee order folded about the grain,
whichever has the smaller bandwidth). Tight-binding models compute it once
(:class:`Band`); :func:`couplings_from_hamiltonian` does it per matrix on the host.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.sparse.csgraph

from .._checks import check_choice, check_nonnegative, nan_where_invalid
from .._config import require_x64
from . import _band_device, _banded

__all__ = [
    "METHODS",
    "ROUTES",
    "Band",
    "banded_ordering",
    "bandwidth_of",
    "resolve_method",
    "grain_spectrum",
    "couplings_from_hamiltonian",
]

# "auto" uses the banded host path on CPU from this many sites on (bench_lattice.py on a
# 2-core CPU: eigh is 1.5x faster at R = 5, N = 61; the fast path 1.3x faster at R = 10,
# N = 221, 5x at R = 33 and ~7x at R = 50).
_FAST_MIN_SITES = 200
# "auto" uses the device band route on accelerators from this many sites on, for band
# matrices with a half-bandwidth of at most this fraction of N (bench_spectral's GPU
# projection: it overtakes batched dense eigh between R = 18 and 22, N = 685 and 1013).
_DEVICE_MIN_SITES = 1000
_DEVICE_MAX_BAND_FRACTION = 0.1
# A dense matrix whose best ordering has a half-bandwidth above this fraction of N is
# not banded: the host route then diagonalizes it densely.
_MAX_BAND_FRACTION = 0.5


# --------------------------------------------------------------------------- orderings
def bandwidth_of(bonds, order=None):
    """Half-bandwidth max |pos(i) - pos(j)| over bonds (i, j), positions in ``order``."""
    bonds = np.asarray(bonds, np.int64).reshape(-1, 2)
    if not len(bonds):
        return 0
    if order is None:
        return int(np.max(np.abs(bonds[:, 1] - bonds[:, 0])))
    pos = np.empty(len(order), np.int64)
    pos[np.asarray(order)] = np.arange(len(order))
    return int(np.max(np.abs(pos[bonds[:, 1]] - pos[bonds[:, 0]])))


def _graph(n, bonds):
    b = np.asarray(bonds, np.int64).reshape(-1, 2)
    a = scipy.sparse.coo_matrix((np.ones(len(b)), (b[:, 0], b[:, 1])), shape=(n, n))
    return (a + a.T).tocsr()


def _complete(order, n):
    # sites not reached from the grain (other components) go last, in index order
    seen = np.zeros(n, bool)
    seen[order] = True
    return np.concatenate([order, np.nonzero(~seen)[0]]).astype(np.int64)


def _fold(order, grain):
    c = int(np.nonzero(order == grain)[0][0])
    left, right = order[:c][::-1], order[c + 1 :]
    m = min(len(left), len(right))
    middle = np.stack([left[:m], right[:m]], axis=-1).ravel()
    return np.concatenate([[grain], middle, left[m:], right[m:]]).astype(np.int64)


def banded_ordering(n, bonds, grain=0):
    """A site order with the grain first and a small bandwidth.

    Two candidates, the one with the smaller half-bandwidth wins: (i) breadth first
    from the grain (Cuthill-McKee levels: bonds join equal or consecutive distance
    shells, so the bandwidth is at most two shells); (ii) scipy's reverse Cuthill-McKee
    order (bandwidth b, started from a peripheral site) folded about the grain as
    g, g-1, g+1, g-2, ... (bandwidth <= 2b + 1), which generalises the diagonal-row
    fold of the paper's 2D lattice.

    Args:
        n: number of sites.
        bonds: (M, 2) site index pairs.
        grain: the grain's site index.

    Returns:
        (order, bandwidth): (n,) int permutation (order[i] = site at position i,
        order[0] = grain) and its half-bandwidth.
    """
    graph = _graph(n, bonds)
    bfs = scipy.sparse.csgraph.breadth_first_order(
        graph, grain, directed=False, return_predecessors=False
    )
    candidates = [_complete(bfs, n)]
    rcm = np.asarray(scipy.sparse.csgraph.reverse_cuthill_mckee(graph, symmetric_mode=True))
    candidates.append(_fold(rcm.astype(np.int64), grain))
    widths = [bandwidth_of(bonds, c) for c in candidates]
    best = int(np.argmin(widths))
    return candidates[best], widths[best]


# --------------------------------------------------------------------------- band matrices
class Band:
    """The fixed part of a tight-binding Hamiltonian in a banded site order.

    H = T + diag(V) with T the hopping matrix (``bonds`` with values ``hopping``);
    index 0 is the grain's site. Compared and hashed by identity (it keys jit caches
    and is a static argument of the spectral routes).

    Args:
        n: number of sites.
        bonds: (M, 2) index pairs (i, j), i < j, in the banded order.
        hopping: (M,) hopping amplitudes.
    """

    def __init__(self, n, bonds, hopping):
        self.n = int(n)
        self.bonds = np.asarray(bonds, np.int64).reshape(-1, 2)
        self.hopping = np.broadcast_to(np.asarray(hopping, np.float64), (len(self.bonds),)).copy()
        self.bandwidth = bandwidth_of(self.bonds)
        # LAPACK lower band storage of the hopping matrix, ab[i - j, j] = H[i, j]; row 0
        # (the diagonal) is filled with the potential per realization.
        ab = np.zeros((self.bandwidth + 1, self.n), order="F")
        lo, hi = self.bonds.min(axis=1), self.bonds.max(axis=1)
        ab[hi - lo, lo] = self.hopping
        ab.flags.writeable = False
        self.template = ab

    def dense(self, V):
        """(n, n) dense H = T + diag(V) for V of shape (n,)."""
        b, n = self.bonds, self.n
        hop = (
            jnp.zeros((n, n))
            .at[b[:, 0], b[:, 1]]
            .set(self.hopping)
            .at[b[:, 1], b[:, 0]]
            .set(self.hopping)
        )
        return hop + jnp.diag(V)


def _route_eigh(V, band):
    energies, vectors = jnp.linalg.eigh(band.dense(V))
    return energies, jnp.abs(vectors[0])


def _band_host(V, *, band):
    # Called by pure_callback with V of shape (..., N); loops over the leading axes.
    V = np.asarray(V, np.float64)
    n, lead = V.shape[-1], V.shape[:-1]
    flat = V.reshape(-1, n)
    d, lam, amp = (np.empty_like(flat) for _ in range(3))
    e, use_dense = np.empty((len(flat), n - 1)), np.empty(len(flat), bool)
    ab = np.array(band.template, order="F")
    for i, v in enumerate(flat):
        ab[0] = v
        d[i], e[i], lam[i], amp[i], use_dense[i] = _banded.tridiagonal_host(ab)
    return (
        d.reshape(V.shape),
        e.reshape(lead + (n - 1,)),
        lam.reshape(V.shape),
        amp.reshape(V.shape),
        use_dense.reshape(lead),
    )


def _host_shapes(n):
    f64 = functools.partial(jax.ShapeDtypeStruct, dtype=jnp.float64)
    return f64((n,)), f64((n - 1,)), f64((n,)), f64((n,)), jax.ShapeDtypeStruct((), bool)


def _host_spectrum(host, x):
    # the host reduction (a callback, looping over any vmapped batch), then the
    # amplitudes in JAX unless the host fell back to a dense eigh
    d, e, lam, dense_amp, use_dense = jax.pure_callback(
        host, _host_shapes(x.shape[-1]), x, vmap_method="expand_dims"
    )
    return lam, jnp.where(use_dense, dense_amp, _banded.first_components(d, e, lam))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _route_fast(V, band):
    return _host_spectrum(functools.partial(_band_host, band=band), V)


@_route_fast.defjvp
def _route_fast_jvp(band, primals, tangents):
    # Derivatives of |phi_k(0)| need all eigenvectors (first-order perturbation theory),
    # so the tangent comes from the dense eigh route; the primal stays on the fast one.
    (V,), (dV,) = primals, tangents
    _, tangent_out = jax.jvp(lambda v: _route_eigh(v, band), (V,), (dV,))
    return _route_fast(V, band), tangent_out


def _route_device(V, band):
    ab = jnp.asarray(band.template).at[0].set(V)
    return _band_device.band_spectrum(ab)


ROUTES = {"eigh": _route_eigh, "fast": _route_fast, "device": _route_device}
"""Spectral routes for :class:`Band` Hamiltonians: name -> f(V (N,), band) ->
(energies (N,), |phi_k(0)| (N,)). Every route is exact; "auto" picks one."""

METHODS = ("auto", *ROUTES)


def resolve_method(method, n, bandwidth=None, backend=None):
    """The route used for ``n`` sites: ``method`` itself unless "auto".

    "auto": on the CPU backend "fast" for n >= 200, else "eigh" (measured); on
    accelerators "device" for band matrices (``bandwidth`` given, at most n / 10) from
    n >= 1000 on, else "eigh" (projected: no GPU has run it yet). The numbers this
    rests on (benchmarks/bench_spectral.py; docs/scaling.md), per realization, QP
    lattice:

    ================  =====  ======  =======  ========  =========================
    where             R      N       device   eigh      note
    ================  =====  ======  =======  ========  =========================
    CPU, one core     10     221     3.1x     1.2x      of "fast", measured
    CPU, one core     22     1013    3.0x     2.1x      of "fast", measured
    CPU, one core     50     5101    6.2x     -         of "fast", measured
    H200 (projected)  18     685     0.28 ms  0.28 ms   about equal
    H200 (projected)  22     1013    0.67 ms  0.91 ms   device wins
    H200 (projected)  50     5101    60 ms    116 ms    device wins
    H100 (projected)  22     1013    0.98 ms  1.03 ms   device wins
    ================  =====  ======  =======  ========  =========================

    The projection: 10% of the FP64 peak, 5 us per kernel launch, the band reduction's
    kernels and passes counted from its compiled loops (two stages: blocked kd -> 8,
    then bulge chasing), memory traffic per pass over the band windows.

    Args:
        method: a name in :data:`METHODS`.
        n: number of sites.
        bandwidth: the half-bandwidth of the band matrix, or None (a dense matrix).
        backend: JAX backend name (default: ``jax.default_backend()``).
    """
    check_choice("method", method, METHODS)
    if method != "auto":
        return method
    if (backend or jax.default_backend()) == "cpu":
        return "fast" if n >= _FAST_MIN_SITES else "eigh"
    banded = bandwidth is not None and bandwidth <= _DEVICE_MAX_BAND_FRACTION * n
    return "device" if banded and n >= _DEVICE_MIN_SITES else "eigh"


def grain_spectrum(V, band, method="auto"):
    """Energies and grain amplitudes of H = T + diag(V), one realization.

    Args:
        V: (N,) on-site potential in the band's order (grain first).
        band: :class:`Band`.
        method: a name in :data:`METHODS`.

    Returns:
        (energies, amplitudes): (N,) ascending energies and |phi_k(0)|,
        sum_k |phi_k(0)|^2 = 1.
    """
    require_x64()
    return ROUTES[resolve_method(method, band.n, band.bandwidth)](V, band)


# --------------------------------------------------------------------------- dense input
def _dense_host(H, *, site):
    # pure_callback body for dense matrices (..., n, n): order each one banded from the
    # site (its sparsity pattern may differ per matrix), then the band route; a matrix
    # that is not banded is diagonalized densely.
    H = np.asarray(H, np.float64)
    n, lead = H.shape[-1], H.shape[:-2]
    flat = H.reshape(-1, n, n)
    out = [
        np.empty((len(flat), n)),
        np.empty((len(flat), max(n - 1, 0))),
        np.empty((len(flat), n)),
        np.empty((len(flat), n)),
        np.empty(len(flat), bool),
    ]
    for i, h in enumerate(flat):
        if not np.all(np.isfinite(h)):
            nan = np.full(n, np.nan)
            res = (nan, nan[: n - 1], nan, nan, True)
            for o, r in zip(out, res):
                o[i] = r
            continue
        rows, cols = np.nonzero(np.triu(h, 1))
        order, kd = banded_ordering(n, np.stack([rows, cols], axis=-1), site)
        if kd > _MAX_BAND_FRACTION * n:
            lam, vectors = np.linalg.eigh(h)
            res = (np.zeros(n), np.zeros(n - 1), lam, np.abs(vectors[site]), True)
        else:
            hp = h[np.ix_(order, order)]
            ab = np.zeros((kd + 1, n), order="F")
            for k in range(kd + 1):
                ab[k, : n - k] = np.diagonal(hp, -k)
            res = _banded.tridiagonal_host(ab)
        for o, r in zip(out, res):
            o[i] = r
    return (
        out[0].reshape(lead + (n,)),
        out[1].reshape(lead + (n - 1,)),
        out[2].reshape(lead + (n,)),
        out[3].reshape(lead + (n,)),
        out[4].reshape(lead),
    )


def _dense_eigh(H, site):
    energies, vectors = jnp.linalg.eigh(H)
    return energies, jnp.abs(vectors[site])


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _dense_fast(H, site):
    return _host_spectrum(functools.partial(_dense_host, site=site), H)


@_dense_fast.defjvp
def _dense_fast_jvp(site, primals, tangents):
    (H,), (dH,) = primals, tangents
    _, tangent_out = jax.jvp(lambda h: _dense_eigh(h, site), (H,), (dH,))
    return _dense_fast(H, site), tangent_out


def _dense_device(H, site):
    # the grain's site first, then the full lower band (kd = N - 1): the device route
    # cannot reorder per matrix (its sparsity is not static), so it is O(N^3) here
    n = H.shape[-1]
    order = np.concatenate([[site], np.delete(np.arange(n), site)])
    hp = H[order][:, order]
    ab = jnp.stack([jnp.pad(jnp.diagonal(hp, -k), (0, k)) for k in range(n)])
    return _band_device.band_spectrum(ab)


_DENSE_ROUTES = {"eigh": _dense_eigh, "fast": _dense_fast, "device": _dense_device}


def couplings_from_hamiltonian(H, *, site=0, g0=1.0, method="auto"):
    """Bare couplings g0 |phi_k(site)| of a user's single-particle Hamiltonian (eq. 18).

    The grain couples to ``site``; the orbitals phi_k are the eigenvectors of H,
    ordered by ascending energy. Jittable, vmappable and differentiable in H and g0.

    Args:
        H: (..., N, N) real symmetric matrices (only the lower triangle is read by the
            dense route; give an exactly symmetric H), batched over leading axes.
        site: index of the grain's site, 0 <= site < N (static int).
        g0: grain coupling scale >= 0 (scalar or broadcastable to (..., 1)).
        method: ``"eigh"`` (dense), ``"fast"`` (host band route: each matrix is put in
            a banded order from ``site`` (:func:`banded_ordering`), reduced to
            tridiagonal form and its site amplitudes read off, O(N^2 kd); a matrix
            whose bandwidth exceeds N/2 is diagonalized densely on the host),
            ``"device"`` (the XLA band route on the full lower band, O(N^3): H's
            sparsity is not static, so it is not reordered) or ``"auto"`` (see
            :func:`resolve_method`).

    Returns:
        (..., N) couplings, sum of squares g0^2; NaN where H or g0 is not finite.
    """
    require_x64()
    H = jnp.asarray(H, jnp.float64)
    if H.ndim < 2 or H.shape[-1] != H.shape[-2] or H.shape[-1] < 1:
        raise ValueError(f"H must have shape (..., N, N) with N >= 1, got {H.shape}")
    n = H.shape[-1]
    if isinstance(site, bool) or not isinstance(site, (int, np.integer)) or not (0 <= site < n):
        raise ValueError(f"site must be an int in [0, {n}), got {site!r}")
    check_nonnegative("g0", g0, finite=True)
    route = _DENSE_ROUTES[resolve_method(method, n)]
    site = int(site)

    def f(h):
        return route(h, site)

    for _ in range(H.ndim - 2):
        f = jax.vmap(f)
    amplitudes = f(H)[1]
    g0 = jnp.asarray(g0, jnp.float64)
    valid = (g0 >= 0) & jnp.isfinite(g0) & jnp.all(jnp.isfinite(H), axis=(-2, -1))[..., None]
    return nan_where_invalid(g0 * amplitudes, valid)
