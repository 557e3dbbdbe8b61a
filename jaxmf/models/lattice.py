"""The paper's 2D lattice model by radius R: functions of (R, W, theta0 | key).

The same model as :func:`jaxmf.models.square` (the model contract), with the
signatures of the paper's figures: ``bare_couplings(R, W, g0=, theta0=, kind="qp")``
and friends. See :mod:`jaxmf.models.square` for the lattice (eq. 15-18) and its site
order, :mod:`jaxmf.models.potentials` for the triangle wave, and
:mod:`jaxmf.models.spectral` for the exact spectral routes.

Conventions (checked against eq. 15-18 and the text around them):

* n = (n1, n2) are integer lattice coordinates (the paper's lattice figure draws them
  rotated by 45 degrees); V(theta) is evaluated at theta mod 2 pi.
* Hopping +1 as written in eq. (15). The lattice is bipartite, so the gauge
  c_n -> (-1)^(n1 + n2) c_n maps hopping -1 onto +1 without changing any |phi_k(n)|:
  the couplings do not depend on this sign.
* The random angles are drawn on [0, 2 pi) (the paper's [0, 2 pi] differs by a null set).
* phi_k(0) is the paper's phi_{k 0} (f_k = sum_m phi_{k m} c_m, eq. 16): the amplitude
  of orbital k at the origin. Orbitals are indexed by ascending energy; the paper's
  site labels (assignment rule after eq. 16) come from :func:`assign_orbitals` and
  only matter for spatial maps, not for eta_tot.

Everything is a pure function of (R, W, g0, theta0 | key): R is static (it fixes shapes),
the rest may be traced, so the functions jit and vmap over W, g0, theta0 and key.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_choice
from .contract import KINDS, QPPhase, RandomKey
from .potentials import triangle_wave
from .spectral import METHODS, bandwidth_of, resolve_method
from .square import Q, bonds, num_sites, sites, square
from .tight_binding import assign_orbitals

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


def bandwidth(R):
    """Largest |i - j| over bonds: the half-bandwidth of the hopping matrix (2R + 2)."""
    return bandwidth_of(bonds(R))


def _realization(kind, theta0, key):
    check_choice("kind", kind, KINDS)
    if kind == "qp":
        if theta0 is None:
            raise ValueError("theta0 (QP phase offset) is required for kind='qp'")
        return QPPhase(theta0)
    if key is None:
        raise ValueError("key (JAX PRNG key) is required for kind='random'")
    return RandomKey(key)


def angles(R, *, theta0=None, key=None, kind="qp"):
    """Phases theta_n of the sites (Sec. VII): q . n + theta0 (``kind="qp"``) or iid
    uniform on [0, 2 pi) from ``key`` (``kind="random"``); (N,) in site order."""
    real = _realization(kind, theta0, key)
    return square(R).angles(real)


def potential(R, W, *, theta0=None, key=None, kind="qp"):
    """On-site potential V_n = W v(theta_n) (eq. 15 and text after it), (N,) in [-W, W]."""
    real = _realization(kind, theta0, key)
    return square(R).potential_values(W, real)


def hamiltonian(R, W, *, theta0=None, key=None, kind="qp"):
    """Single-particle Hamiltonian H_2D (eq. 15), (N, N) dense, in the order of
    :func:`sites`."""
    model = square(R)
    return model.hamiltonian(model.potential_values(W, _realization(kind, theta0, key)))


def orbitals(R, W, *, theta0=None, key=None, kind="qp"):
    """Orbital energies and orbitals of H_2D (eq. 16), by dense ``jnp.linalg.eigh``.

    Returns:
        (energies, phi): (N,) ascending energies eps_k and (N, N) orbitals with
        phi[k, i] the amplitude of orbital k on site i (rows are orbitals). The bare
        couplings (18) are g0 * |phi[:, 0]|.
    """
    return square(R).orbitals(W, _realization(kind, theta0, key))


def origin_spectrum(R, W, *, theta0=None, key=None, kind="qp", method="auto"):
    """Orbital energies and amplitudes at the origin |phi_k(0)|, for one realization.

    Routes (:mod:`jaxmf.models.spectral`): ``"eigh"`` (dense), ``"fast"`` (band
    reduction on the host, bandwidth 2R + 2, O(N^2 R)), ``"device"`` (the same band
    route in XLA, no host callback; on request) and ``"auto"`` (``"fast"`` on CPU for
    N >= 200 sites, ``"eigh"`` otherwise; see :func:`jaxmf.models.spectral.resolve_method`).

    Returns:
        (energies, amplitudes): (N,) ascending energies and (N,) |phi_k(0)|.
    """
    model = square(R)
    V = model.potential_values(W, _realization(kind, theta0, key))
    return model.spectrum(V, method=method)


def bare_couplings(R, W, *, g0=1.0, theta0=None, key=None, kind="qp", method="auto"):
    """Bare couplings g_{k,0} = g0 |phi_k(0)| of one realization (eq. 18).

    ``square(R).couplings(W, g0, QPPhase(theta0) | RandomKey(key))``. Ordered by orbital
    energy; under jit keep R static, e.g. ``jax.jit(bare_couplings, static_argnums=0,
    static_argnames=("kind", "method"))``.

    Args:
        R: lattice radius, non-negative int (static); N = 2 R^2 + 2 R + 1.
        W: potential strength >= 0.
        g0: grain coupling scale >= 0.
        theta0: QP phase offset (required for ``kind="qp"``).
        key: JAX PRNG key (required for ``kind="random"``).
        kind: ``"qp"`` or ``"random"``.
        method: ``"auto"``, ``"eigh"``, ``"fast"`` or ``"device"`` (see
            :func:`origin_spectrum`).

    Returns:
        (N,) bare couplings, sum of squares g0^2.
    """
    check_choice("kind", kind, KINDS)
    return square(R).couplings(W, g0, _realization(kind, theta0, key), method=method)


def couplings_from_potential(V, R, *, g0=1.0, method="auto"):
    """Bare couplings g0 |phi_k(0)| (eq. 18) of the lattice with an explicit potential
    V (..., N) in the order of :func:`sites`; (..., N), batched over leading axes."""
    return square(R).couplings_from_potential(V, g0=g0, method=method)


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
