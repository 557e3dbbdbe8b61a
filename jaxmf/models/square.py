"""The paper's 2D lattice: a grain on the origin of the diamond |n1| + |n2| <= R (Sec. VII).

Crowley & Chandran, PRB 106, 184208 (2022), eq. (15)-(18):

    H_2D = sum_<n m> c_n^+ c_m + sum_n V(theta_n) c_n^+ c_n          (15)
    g_{n,0} = g0 |phi_n(0)|                                            (18)

on the sites |n1| + |n2| <= R (N = 2R^2 + 2R + 1), nearest-neighbour hopping 1, open
boundaries, the grain on the origin. Quasiperiodic phases theta_n = q . n + theta0 with
q = pi (1 + sqrt5, 1 + sqrt3); random phases iid uniform. The paper's potential is the
triangle wave (:data:`jaxmf.models.potentials.TRIANGLE`); ``potential="cosine"`` gives
the 2D Aubry-Andre-type cosine instead.

Site order (:func:`sites`): diagonal rows u = n1 + n2, v = n1 - n2 in (u, v)
lexicographic order, folded about the origin, so the origin comes first and the hopping
matrix has half-bandwidth 2R + 2 (R >= 1); neighbours are at most one row (R + 1 sites)
apart before the fold. The generic ordering of
:func:`jaxmf.models.spectral.banded_ordering` would give about twice that.
"""

from __future__ import annotations

import functools

import numpy as np

from .._checks import check_radius
from .tight_binding import TightBinding

__all__ = ["Q", "num_sites", "sites", "bonds", "square"]

Q = np.pi * np.array([1.0 + np.sqrt(5.0), 1.0 + np.sqrt(3.0)])
"""Quasiperiodic wave vector q = pi (1 + sqrt5, 1 + sqrt3) (Sec. VII)."""


def num_sites(R):
    """Number of sites N = 2 R^2 + 2 R + 1 of the lattice |n1| + |n2| <= R."""
    R = check_radius(R)
    return 2 * R * R + 2 * R + 1


@functools.cache
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
    2R + 2 apart in this order, so the Hamiltonian is a band matrix.

    Args:
        R: lattice radius, a non-negative Python int (static).

    Returns:
        (N, 2) int array (read-only), N = 2 R^2 + 2 R + 1.
    """
    return _sites(check_radius(R))


@functools.cache
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


@functools.cache
def _square(R, potential):
    return TightBinding(
        _sites(R),
        _bonds(R),
        grain=0,
        potential=potential,
        q=Q,
        name="square",
        R=R,
        ordering="given",
        spec_extra={"model": "square", "R": R, "potential": potential},
    )


def square(R, potential="triangle"):
    """The paper's 2D lattice of radius R as a model (N = 2 R^2 + 2 R + 1).

    Args:
        R: lattice radius (non-negative int).
        potential: "triangle" (the paper's) or "cosine".

    Returns:
        :class:`~jaxmf.models.tight_binding.TightBinding` (one cached instance per
        argument set).
    """
    if potential not in ("triangle", "cosine"):
        raise ValueError(f"potential must be 'triangle' or 'cosine', got {potential!r}")
    return _square(int(check_radius(R)), potential)
