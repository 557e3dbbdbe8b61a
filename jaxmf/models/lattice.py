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
with bandwidth 2R + 2 (R >= 1). The exact fast path for the couplings reduces this
band matrix to tridiagonal form with rotations that leave site 0 fixed, and reads |phi_n(0)| off the tridiagonal matrix; see :func:`origin_spectrum`.

Everything is a pure function of (R, W, g0, theta0 | key): R is static (it fixes shapes),
the rest may be traced, so the functions jit and vmap over W, g0, theta0 and key.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from .._config import require_x64
from .._checks import check_choice, check_nonnegative, check_radius, nan_where_invalid
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
    "couplings_from_potential",
    "resolve_method",
    "assign_orbitals",
    "orbital_radii",
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
    R = check_radius(R)
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
    return _sites(check_radius(R))


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
    return _bonds(check_radius(R))


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
    check_nonnegative("W", W, finite=True)
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


def resolve_method(method, n):
    """The spectral route used for ``n`` sites: ``method`` itself unless "auto" (see
    :func:`origin_spectrum`)."""
    check_choice("method", method, METHODS)
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
    require_x64()
    V = potential(R, W, theta0=theta0, key=key, kind=kind)
    if resolve_method(method, V.shape[-1]) == "fast":
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
    check_nonnegative("g0", g0, finite=True)
    _, amplitudes = origin_spectrum(R, W, theta0=theta0, key=key, kind=kind, method=method)
    g0 = jnp.asarray(g0, jnp.float64)
    W = jnp.asarray(W, jnp.float64)
    # under jit the checks cannot run: an invalid W or g0 gives NaN couplings
    valid = (g0 >= 0) & jnp.isfinite(g0) & (W >= 0) & jnp.isfinite(W)
    return nan_where_invalid(g0 * amplitudes, valid)


def couplings_from_potential(V, R, *, g0=1.0, method="auto"):
    """Bare couplings g0 |phi_k(0)| (eq. 18) of the lattice with an explicit potential.

    The same exact spectral routes as :func:`bare_couplings`, for a potential that is
    not a triangle wave of angles (e.g. a Markov-chain state of the rare-event sampler).

    Args:
        V: (..., N) on-site potential in the order of :func:`sites` (R), batched over
            leading axes.
        R: lattice radius (static int), N = 2 R^2 + 2 R + 1.
        g0: grain coupling scale >= 0.
        method: ``"auto"``, ``"eigh"`` or ``"fast"`` (see :func:`origin_spectrum`).

    Returns:
        (..., N) bare couplings ordered by orbital energy.
    """
    require_x64()
    n = num_sites(R)
    check_nonnegative("g0", g0, finite=True)
    V = jnp.asarray(V, jnp.float64)
    if V.ndim < 1 or V.shape[-1] != n:
        raise ValueError(f"V must have shape (..., N) with N = {n} for R = {R}, got {V.shape}")
    spectrum = _spectrum_fast if resolve_method(method, n) == "fast" else _spectrum_eigh
    f = functools.partial(spectrum, R=R)
    for _ in range(V.ndim - 1):
        f = jax.vmap(f)
    g0 = jnp.asarray(g0, jnp.float64)
    valid = (g0 >= 0) & jnp.isfinite(g0) & jnp.all(jnp.isfinite(V), axis=-1)[..., None]
    return nan_where_invalid(g0 * f(V)[1], valid)


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


# --------------------------------------------------------------------------- checks
def _check_kind(kind, theta0, key):
    check_choice("kind", kind, KINDS)
    if kind == "qp" and theta0 is None:
        raise ValueError("theta0 (QP phase offset) is required for kind='qp'")
    if kind == "random" and key is None:
        raise ValueError("key (JAX PRNG key) is required for kind='random'")
