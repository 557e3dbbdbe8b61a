"""2D lattice model: a grain coupled to free fermions on a square lattice (Sec. VII).

Crowley & Chandran, PRB 106, 184208 (2022), eq. (15)-(18):

    H_2D = sum_<n m> c_n^+ c_m + sum_n V(theta_n) c_n^+ c_n          (15)
    g_{n,0} = g0 |phi_n(0)|                                            (18)

on the sites |n1| + |n2| <= R (N = 2R^2 + 2R + 1), nearest-neighbour hopping 1, open
boundaries. The grain couples to the origin, so the bare couplings are the amplitudes at
the origin of the orbitals phi_n (eigenvectors of H_2D), eq. (16).

Potential (text after eq. 15): V is the asymmetric triangle wave of period 2 pi, linear
between V(0) = W, V(2 pi / q1) = -W and V(2 pi) = W. It is sampled at

* ``kind="qp"`` (quasiperiodic): theta_n = q . n + theta0, q = pi (1 + sqrt5, 1 + sqrt3);
* ``kind="random"``: theta_n iid uniform on [0, 2 pi), so V(theta_n) is uniform on
  [-W, W] (the two linear pieces together cover [-W, W] with constant density).

Conventions (checked against eq. 15-18 and the text around them):

* n = (n1, n2) are integer lattice coordinates (Fig. 4 only draws the lattice rotated
  by 45 degrees); V(theta) is evaluated at theta mod 2 pi.
* Hopping +1 as written in eq. (15). The lattice is bipartite, so the gauge
  c_n -> (-1)^(n1 + n2) c_n maps hopping -1 onto +1 without changing any |phi_k(n)|:
  the couplings do not depend on this sign.
* The random angles are drawn on [0, 2 pi) (the paper's [0, 2 pi] differs by a null set).
* phi_k(0) is the paper's phi_{k 0} (f_k = sum_m phi_{k m} c_m, eq. 16): the amplitude
  of orbital k at the origin. Orbitals are indexed by ascending energy; the paper's
  site labels (assignment rule after eq. 16) come from :func:`assign_orbitals` and
  only matter for spatial maps, not for eta_tot.

Site order (see :func:`sites`): site 0 is the origin, and the hopping matrix is banded
with bandwidth 2R + 2 (R >= 1). The exact fast path for the couplings (Performance in
DESIGN.md) reduces this band matrix to tridiagonal form with rotations that leave site 0
fixed, and reads |phi_n(0)| off the tridiagonal matrix; see :func:`origin_spectrum`.

Everything is a pure function of (R, W, g0, theta0 | key): R is static (it fixes shapes),
the rest may be traced, so the functions jit and vmap over W, g0, theta0 and key.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from .. import _config  # noqa: F401  (float64)
from ..meanfield import avalanches, mean_entropies, solve, thermalized_count
from . import _banded

__all__ = [
    "Q",
    "KINDS",
    "METHODS",
    "num_sites",
    "sites",
    "bonds",
    "bandwidth",
    "triangle_wave",
    "angles",
    "potential",
    "hamiltonian",
    "orbitals",
    "origin_spectrum",
    "bare_couplings",
    "assign_orbitals",
    "orbital_radii",
    "collar_radius",
    "EntropyMap",
    "entropy_map",
    "failed_collar_radii",
]

Q = np.pi * np.array([1.0 + np.sqrt(5.0), 1.0 + np.sqrt(3.0)])
"""Quasiperiodic wave vector q = pi (1 + sqrt5, 1 + sqrt3) (Sec. VII)."""

KINDS = ("qp", "random")
METHODS = ("auto", "eigh", "fast")

# "auto" uses the banded host path on CPU from this many sites on (bench_lattice.py on a
# 2-core CPU: eigh is 1.5x faster at R = 5, N = 61; the fast path 1.3x faster at R = 10,
# N = 221, 5x at R = 33 and ~7x at R = 50).
_FAST_MIN_SITES = 200


# --------------------------------------------------------------------------- geometry
def num_sites(R):
    """Number of sites N = 2 R^2 + 2 R + 1 of the lattice |n1| + |n2| <= R."""
    R = _check_radius(R)
    return 2 * R * R + 2 * R + 1


@functools.lru_cache(maxsize=None)
def _sites(R):
    # Diagonal rows: u = n1 + n2 and v = n1 - n2 range over [-R, R] with u = v (mod 2).
    # Hops change u and v by +-1 each, so in (u, v)-lexicographic order neighbours are at
    # most one row (R + 1 sites) apart. Folding this order about its centre (the origin)
    # as c, c-1, c+1, c-2, c+2, ... puts the origin first at twice that bandwidth.
    u, v = np.meshgrid(np.arange(-R, R + 1), np.arange(-R, R + 1), indexing="ij")
    keep = (u - v) % 2 == 0
    rows = np.stack([(u + v)[keep] // 2, (u - v)[keep] // 2], axis=-1)
    c = (len(rows) - 1) // 2
    m = np.arange(1, c + 1)
    order = np.concatenate([[c], np.stack([c - m, c + m], axis=-1).ravel()])
    out = rows[order]
    out.flags.writeable = False
    return out


def sites(R):
    """Lattice sites n = (n1, n2) with |n1| + |n2| <= R, in the order used everywhere.

    The order: site 0 is the origin; then sites come in pairs (-n, n) following the
    diagonal rows n1 + n2 = const outward from the origin. Neighbours are at most
    2R + 2 apart in this order (:func:`bandwidth`), so the Hamiltonian is a band matrix.

    Args:
        R: lattice radius, a non-negative Python int (static).

    Returns:
        (N, 2) int array (read-only), N = 2 R^2 + 2 R + 1.
    """
    return _sites(_check_radius(R))


@functools.lru_cache(maxsize=None)
def _bonds(R):
    s = _sites(R)
    index = np.full((2 * R + 3, 2 * R + 3), -1)
    index[s[:, 0] + R + 1, s[:, 1] + R + 1] = np.arange(len(s))
    pairs = []
    for step in ((1, 0), (0, 1)):
        j = index[s[:, 0] + R + 1 + step[0], s[:, 1] + R + 1 + step[1]]
        pairs.append(np.stack([np.arange(len(s)), j], axis=-1)[j >= 0])
    out = np.sort(np.concatenate(pairs), axis=-1)
    out.flags.writeable = False
    return out


def bonds(R):
    """Nearest-neighbour bonds (i, j), i < j, as indices into :func:`sites`.

    Returns:
        (4 R^2, 2) int array (read-only).
    """
    return _bonds(_check_radius(R))


def bandwidth(R):
    """Largest |i - j| over bonds: the half-bandwidth of the hopping matrix (2R + 2)."""
    b = bonds(R)
    return int(np.max(b[:, 1] - b[:, 0])) if len(b) else 0


@functools.lru_cache(maxsize=None)
def _band_template(R):
    # LAPACK lower band storage of the hopping matrix, ab[i - j, j] = H[i, j]; row 0 (the
    # diagonal) is filled with the potential per realization.
    b, n = _bonds(R), num_sites(R)
    ab = np.zeros((bandwidth(R) + 1, n), order="F")
    ab[b[:, 1] - b[:, 0], b[:, 0]] = 1.0
    ab.flags.writeable = False
    return ab


# --------------------------------------------------------------------------- potential
def triangle_wave(theta):
    """Asymmetric triangle wave of unit amplitude, period 2 pi (Sec. VII).

    Linear between v(0) = 1, v(2 pi / q1) = -1 and v(2 pi) = 1, with q1 = pi (1 + sqrt5),
    so the minimum sits at 2 pi / q1 = 2 / (1 + sqrt5) ~ 0.618. V(theta) = W v(theta).

    Args:
        theta: angles, any shape.

    Returns:
        v(theta) in [-1, 1], same shape.
    """
    x = jnp.mod(jnp.asarray(theta, jnp.float64), 2.0 * np.pi)
    a = 2.0 * np.pi / Q[0]
    return jnp.where(x < a, 1.0 - 2.0 * x / a, -1.0 + 2.0 * (x - a) / (2.0 * np.pi - a))


def angles(R, *, theta0=None, key=None, kind="qp"):
    """Phases theta_n of the sites (Sec. VII).

    Args:
        R: lattice radius (static int).
        theta0: scalar offset, required for ``kind="qp"``: theta_n = q . n + theta0.
        key: JAX PRNG key, required for ``kind="random"``: theta_n iid uniform [0, 2 pi).
        kind: ``"qp"`` or ``"random"``.

    Returns:
        (N,) angles in the order of :func:`sites`.
    """
    _check_kind(kind, theta0, key)
    s = sites(R)
    if kind == "qp":
        return jnp.asarray(s @ Q) + jnp.asarray(theta0, jnp.float64)
    return jax.random.uniform(key, (len(s),), jnp.float64, 0.0, 2.0 * np.pi)


def potential(R, W, *, theta0=None, key=None, kind="qp"):
    """On-site potential V_n = V(theta_n) = W v(theta_n) (eq. 15 and text after it).

    Args:
        R: lattice radius (static int).
        W: potential strength W >= 0 (scalar, may be traced).
        theta0, key, kind: see :func:`angles`.

    Returns:
        (N,) potential in [-W, W], in the order of :func:`sites`.
    """
    _check_nonnegative("W", W)
    return jnp.asarray(W, jnp.float64) * triangle_wave(
        angles(R, theta0=theta0, key=key, kind=kind)
    )


def _dense(V, R):
    b = bonds(R)
    n = V.shape[-1]
    hop = jnp.zeros((n, n)).at[b[:, 0], b[:, 1]].set(1.0).at[b[:, 1], b[:, 0]].set(1.0)
    return hop + jnp.diag(V)


def hamiltonian(R, W, *, theta0=None, key=None, kind="qp"):
    """Single-particle Hamiltonian H_2D (eq. 15) as a dense matrix.

    Args:
        R, W, theta0, key, kind: see :func:`potential`.

    Returns:
        (N, N) symmetric matrix, rows/columns in the order of :func:`sites`.
    """
    return _dense(potential(R, W, theta0=theta0, key=key, kind=kind), R)


def orbitals(R, W, *, theta0=None, key=None, kind="qp"):
    """Orbital energies and orbitals of H_2D (eq. 16), by dense ``jnp.linalg.eigh``.

    Args:
        R, W, theta0, key, kind: see :func:`potential`.

    Returns:
        (energies, phi): (N,) ascending energies eps_k and (N, N) orbitals with
        phi[k, i] the amplitude of orbital k on site i (paper's phi_{k i}, rows are
        orbitals). The bare couplings (18) are g0 * |phi[:, 0]|.
    """
    energies, vectors = jnp.linalg.eigh(hamiltonian(R, W, theta0=theta0, key=key, kind=kind))
    return energies, vectors.T


# --------------------------------------------------------------------------- couplings
def _spectrum_eigh(V, R):
    energies, vectors = jnp.linalg.eigh(_dense(V, R))
    return energies, jnp.abs(vectors[0])


def _spectrum_host(V, *, R):
    # Called by pure_callback with V of shape (..., N); loops over the leading axes.
    V = np.asarray(V, np.float64)
    n, lead = V.shape[-1], V.shape[:-1]
    flat = V.reshape(-1, n)
    d, lam, amp = (np.empty_like(flat) for _ in range(3))
    e, use_dense = np.empty((len(flat), n - 1)), np.empty(len(flat), bool)
    ab = np.array(_band_template(R), order="F")
    for i, v in enumerate(flat):
        ab[0] = v
        d[i], e[i], lam[i], amp[i], use_dense[i] = _banded.tridiagonal_host(ab)
    return (d.reshape(V.shape), e.reshape(lead + (n - 1,)), lam.reshape(V.shape),
            amp.reshape(V.shape), use_dense.reshape(lead))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _spectrum_fast(V, R):
    n = V.shape[-1]
    f64 = functools.partial(jax.ShapeDtypeStruct, dtype=jnp.float64)
    shapes = (f64((n,)), f64((n - 1,)), f64((n,)), f64((n,)), jax.ShapeDtypeStruct((), bool))
    d, e, lam, dense_amp, use_dense = jax.pure_callback(
        functools.partial(_spectrum_host, R=R), shapes, V, vmap_method="expand_dims"
    )
    return lam, jnp.where(use_dense, dense_amp, _banded.first_components(d, e, lam))


@_spectrum_fast.defjvp
def _spectrum_fast_jvp(R, primals, tangents):
    # Derivatives of |phi_k(0)| need all eigenvectors (first-order perturbation theory),
    # so the tangent comes from the dense eigh path; the primal stays on the fast path.
    (V,), (dV,) = primals, tangents
    _, tangent_out = jax.jvp(lambda v: _spectrum_eigh(v, R), (V,), (dV,))
    return _spectrum_fast(V, R), tangent_out


def _resolve_method(method, n):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    on_cpu = jax.default_backend() == "cpu"
    return "fast" if on_cpu and n >= _FAST_MIN_SITES else "eigh"


def origin_spectrum(R, W, *, theta0=None, key=None, kind="qp", method="auto"):
    """Orbital energies and amplitudes at the origin |phi_k(0)|, for one realization.

    These are all the mean-field theory needs (eq. 16, 18). Two exact routes:

    * ``"eigh"``: dense ``jnp.linalg.eigh`` of H_2D, O(N^3); runs on any device.
    * ``"fast"``: the band matrix (bandwidth 2R + 2) is reduced on the host to
      tridiagonal form by rotations that fix site 0 (LAPACK ``dsbtrd`` via
      ``jax.pure_callback``, O(N^2 R)); the first components of the tridiagonal
      eigenvectors then come from twisted factorizations in JAX (O(N^2)); see
      ``jaxmf/models/_banded.py``. Agrees with eigh to ~1e-12 or better. Under vmap the
      callback loops over the batch on the host. Derivatives (jvp/grad) are exact but
      are computed through the eigh path (they need all eigenvectors).
    * ``"auto"``: ``"fast"`` on CPU for N >= 200 sites, ``"eigh"`` otherwise (GPU/TPU).

    Args:
        R: lattice radius (static int).
        W: potential strength >= 0.
        theta0, key, kind: see :func:`angles`.
        method: ``"auto"``, ``"eigh"`` or ``"fast"``.

    Returns:
        (energies, amplitudes): (N,) ascending orbital energies and (N,) |phi_k(0)|,
        with sum_k |phi_k(0)|^2 = 1.
    """
    V = potential(R, W, theta0=theta0, key=key, kind=kind)
    if _resolve_method(method, V.shape[-1]) == "fast":
        return _spectrum_fast(V, R)
    return _spectrum_eigh(V, R)


def bare_couplings(R, W, *, g0=1.0, theta0=None, key=None, kind="qp", method="auto"):
    """Bare couplings g_{k,0} = g0 |phi_k(0)| of one realization (eq. 18).

    Ordered by orbital energy (ascending), as returned by :func:`orbitals`; eta_tot does
    not depend on the order. Vmap over ``theta0`` (qp) or ``key`` (random), and over W
    and g0; under jit keep R static, e.g. ``jax.jit(bare_couplings, static_argnums=0,
    static_argnames=("kind", "method"))``.

    Args:
        R: lattice radius, non-negative int (static); N = 2 R^2 + 2 R + 1.
        W: potential strength >= 0.
        g0: grain coupling scale >= 0.
        theta0: QP phase offset (required for ``kind="qp"``).
        key: JAX PRNG key (required for ``kind="random"``).
        kind: ``"qp"`` or ``"random"``.
        method: ``"auto"``, ``"eigh"`` or ``"fast"`` (see :func:`origin_spectrum`).

    Returns:
        (N,) bare couplings, sum of squares g0^2.
    """
    _check_nonnegative("g0", g0)
    _, amplitudes = origin_spectrum(R, W, theta0=theta0, key=key, kind=kind, method=method)
    return jnp.asarray(g0, jnp.float64) * amplitudes


# --------------------------------------------------------------------------- labelling
def assign_orbitals(phi):
    """Label orbitals by sites: maximise prod_k |phi[k, site_k]| over permutations.

    The rule of the paper (text after eq. 16), solved as a linear assignment on
    -log|phi| (scipy's ``linear_sum_assignment``). Host-side (not jittable).

    Args:
        phi: (N, N) orbitals, phi[k, i] = amplitude of orbital k on site i
            (as returned by :func:`orbitals`).

    Returns:
        (N,) int permutation ``site_of`` with orbital k labelled by site site_of[k].
        To map per-orbital values x to sites: ``x_site = np.empty(N); x_site[site_of] = x``.
    """
    amp = np.abs(np.asarray(phi, np.float64))
    if amp.ndim != 2 or amp.shape[0] != amp.shape[1]:
        raise ValueError(f"phi must be a square (N, N) matrix, got shape {amp.shape}")
    cost = -np.log(np.maximum(amp, np.finfo(np.float64).tiny))
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    site_of = np.empty(len(rows), dtype=np.int64)
    site_of[rows] = cols
    return site_of


def orbital_radii(phi, R, *, how="assignment"):
    """Distance |n|_1 = |n1| + |n2| of each orbital from the origin (for eq. 20).

    Args:
        phi: (N, N) orbitals (rows), as returned by :func:`orbitals`.
        R: lattice radius (static int).
        how: ``"assignment"`` (radius of the site assigned by :func:`assign_orbitals`,
            an integer; the paper's labelling) or ``"centre"`` (mean radius
            sum_i |phi[k, i]|^2 |n_i|_1, real).

    Returns:
        (N,) radii, one per orbital (rows of phi).
    """
    r = np.abs(sites(R)).sum(axis=-1)
    if how == "assignment":
        return r[assign_orbitals(phi)]
    if how == "centre":
        return np.abs(np.asarray(phi)) ** 2 @ r
    raise ValueError(f"how must be 'assignment' or 'centre', got {how!r}")


def collar_radius(g, radii, eta_tot, *, d_g=8, eps=0.1):
    """Collar radius of a failed avalanche (eq. 20).

    The bubble has dimension d = d_g exp(eta_tot); l-bits outside radius R_c are only
    perturbatively corrected if sum_{|n| > R_c} g_n << 1 / d. Returns the smallest R_c
    in {0} U {radii} with sum_{radii_n > R_c} g_n <= eps / d (compared in log space, so
    large eta_tot does not overflow). Distances are lattice (L1) radii |n1| + |n2|, the
    same norm that defines the system radius R.

    Args:
        g: (..., N) dressed couplings g_n = g_{n,0} exp(eta_tot / 2) (eq. 11).
        radii: (..., N) or (N,) distance of each orbital from the origin, e.g. from
            :func:`orbital_radii`.
        eta_tot: (...,) total entropic enhancement (eq. 14).
        d_g: grain dimension (default 8).
        eps: tolerance replacing "<<" (default 0.1).

    Returns:
        (...,) collar radius R_c (same dtype as radii, promoted to float).
    """
    g = jnp.asarray(g, jnp.float64)
    radii = jnp.broadcast_to(jnp.asarray(radii, jnp.float64), g.shape)
    order = jnp.argsort(radii, axis=-1)
    r = jnp.take_along_axis(radii, order, axis=-1)
    gs = jnp.take_along_axis(g, order, axis=-1)
    # tail[j] = sum_{i >= j} g_sorted[i]; the sum outside radius r[j] starts at the first
    # index with a radius > r[j] (ties are inside).
    tail = jnp.concatenate([jnp.cumsum(gs[..., ::-1], axis=-1)[..., ::-1],
                            jnp.zeros(g.shape[:-1] + (1,))], axis=-1)
    first_out = jax.vmap(functools.partial(jnp.searchsorted, side="right"))(
        r.reshape(-1, r.shape[-1]), r.reshape(-1, r.shape[-1])).reshape(r.shape)
    outside = jnp.take_along_axis(tail, first_out, axis=-1)
    log_threshold = jnp.log(eps) - jnp.log(d_g) - jnp.asarray(eta_tot, jnp.float64)[..., None]
    ok = jnp.log(outside) <= log_threshold
    ok_at_zero = jnp.log(jnp.sum(jnp.where(radii > 0, g, 0.0), axis=-1)) <= log_threshold[..., 0]
    best = jnp.min(jnp.where(ok, r, jnp.inf), axis=-1)
    return jnp.where(ok_at_zero, 0.0, best)


# --------------------------------------------------------------------------- maps
class EntropyMap(NamedTuple):
    """Mean-field solution of one realization with its orbitals placed on sites (Fig. 4).

    Attributes:
        sites: (N, 2) lattice coordinates n = (n1, n2) (order of :func:`sites`).
        entropy: (N,) [S] (nats) of the orbital labelled by each site (A13).
        radius: (N,) radius |n1| + |n2| of each site.
        site_of: (N,) site index of each orbital (ascending energy), from
            :func:`assign_orbitals`.
        g: (N,) dressed couplings per orbital (ascending energy).
        eta_tot: total enhancement (eq. 14).
        avalanche: eta_tot > N log 2 / 2 (eq. 19).
        n_thermal: n* = sum_n [S_n] / log 2.
        collar: collar radius R_c (eq. 20) with the default d_g = 8, eps = 0.1
            (meaningful for a failed avalanche).
    """

    sites: np.ndarray
    entropy: np.ndarray
    radius: np.ndarray
    site_of: np.ndarray
    g: np.ndarray
    eta_tot: float
    avalanche: bool
    n_thermal: float
    collar: float


def entropy_map(R, W, *, g0=1.0, theta0=None, key=None, kind="qp", dist="goe"):
    """[S_n] of one realization on the lattice sites (the paper's Fig. 4).

    Orbitals from dense ``eigh`` (all eigenvectors are needed for the labelling), bare
    couplings g0 |phi_k(0)| (eq. 18), the mean-field solution, and each orbital placed on
    the site given by the assignment rule (:func:`assign_orbitals`). Host-side.

    Args:
        R, W, g0, theta0, key, kind: see :func:`bare_couplings`.
        dist: ptilde family for eta and [S].

    Returns:
        :class:`EntropyMap`.
    """
    _check_nonnegative("g0", g0)
    _, phi = orbitals(R, W, theta0=theta0, key=key, kind=kind)
    phi = np.asarray(phi)
    res = solve(float(g0) * np.abs(phi[:, 0]), dist)
    site_of = assign_orbitals(phi)
    s = sites(R)
    entropy = np.empty(len(s))
    entropy[site_of] = np.asarray(mean_entropies(res, dist))
    radius = np.abs(s).sum(-1)
    collar = collar_radius(res.g, radius[site_of], res.eta_tot)
    return EntropyMap(s, entropy, radius, site_of, np.asarray(res.g),
                      float(res.eta_tot), bool(avalanches(res)),
                      float(thermalized_count(res, dist)), float(collar))


def failed_collar_radii(R, W, *, g0=1.0, theta0=None, keys=None, kind="qp", dist="goe",
                        d_g=8, eps=0.1, how="assignment"):
    """Collar radius (eq. 20) of a set of realizations; NaN where they avalanche.

    For each realization: orbitals by dense ``eigh``, orbital radii
    (:func:`orbital_radii`), the mean-field solution and :func:`collar_radius`. A
    collar is only meaningful for a failed avalanche, so avalanching realizations give
    NaN. Host loop over realizations (the assignment is not jittable).

    Args:
        R, W, g0, kind, dist: as in :func:`entropy_map`.
        theta0: (M,) QP phases (kind="qp").
        keys: (M,) PRNG keys (kind="random").
        d_g, eps: see :func:`collar_radius`.
        how: orbital radius rule, "assignment" (the paper's labelling) or "centre".

    Returns:
        dict of (M,) arrays: collar (R_c), eta_tot, avalanche, n_thermal.
    """
    _check_kind(kind, theta0, keys)
    items = np.atleast_1d(np.asarray(theta0, np.float64)) if kind == "qp" else keys
    out = {"collar": [], "eta_tot": [], "avalanche": [], "n_thermal": []}
    for item in items:
        kw = {"theta0": item} if kind == "qp" else {"key": item}
        _, phi = orbitals(R, W, kind=kind, **kw)
        phi = np.asarray(phi)
        res = solve(float(g0) * np.abs(phi[:, 0]), dist)
        aval = bool(avalanches(res))
        rc = collar_radius(res.g, orbital_radii(phi, R, how=how), res.eta_tot,
                           d_g=d_g, eps=eps)
        out["collar"].append(np.nan if aval else float(rc))
        out["eta_tot"].append(float(res.eta_tot))
        out["avalanche"].append(aval)
        out["n_thermal"].append(float(thermalized_count(res, dist)))
    return {k: np.asarray(v) for k, v in out.items()}


# --------------------------------------------------------------------------- checks
def _check_radius(R):
    if isinstance(R, (bool, np.bool_)) or not isinstance(R, (int, np.integer)) or R < 0:
        raise ValueError(f"R (lattice radius) must be a non-negative int, got {R!r}")
    return int(R)


def _check_kind(kind, theta0, key):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "qp" and theta0 is None:
        raise ValueError("theta0 (QP phase offset) is required for kind='qp'")
    if kind == "random" and key is None:
        raise ValueError("key (JAX PRNG key) is required for kind='random'")


def _concrete(x):
    try:
        return np.asarray(x, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _check_nonnegative(name, x):
    value = _concrete(x)  # traced values cannot be checked here
    if value is not None and not np.all(np.isfinite(value) & (value >= 0)):
        raise ValueError(f"{name} must be finite and >= 0, got {x!r}")
