"""3D octahedral lattice: a grain on the origin of |n1| + |n2| + |n3| <= R, hopping 1.

N = (2R + 1)(2R^2 + 2R + 3) / 3 sites, nearest-neighbour bonds, open boundaries.
Quasiperiodic phases theta_n = q . n + theta0 with q = pi (1 + sqrt5, 1 + sqrt3,
1 + sqrt7); random phases iid uniform. The banded order is the generic one of
:func:`jaxmf.models.spectral.banded_ordering` (its half-bandwidth:
``cubic(R).bandwidth``).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from .._checks import check_radius
from .tight_binding import TightBinding, nearest_neighbour_bonds

__all__ = ["Q", "cubic"]

Q = np.pi * np.array([1.0 + np.sqrt(5.0), 1.0 + np.sqrt(3.0), 1.0 + np.sqrt(7.0)])
"""Quasiperiodic wave vector q = pi (1 + sqrt5, 1 + sqrt3, 1 + sqrt7)."""


@functools.cache
def _cubic(R, potential):
    r = range(-R, R + 1)
    sites = np.array([n for n in itertools.product(r, r, r) if sum(map(abs, n)) <= R])
    return TightBinding(
        sites,
        nearest_neighbour_bonds(sites),
        grain=len(sites) // 2,
        potential=potential,
        q=Q,
        name="cubic",
        R=R,
        spec_extra={"model": "cubic", "R": R, "potential": potential},
    )


def cubic(R, potential="triangle"):
    """The 3D octahedral lattice of radius R as a model.

    Args:
        R: lattice radius (non-negative int).
        potential: "triangle" or "cosine".

    Returns:
        :class:`~jaxmf.models.tight_binding.TightBinding` (one cached instance per
        argument set).
    """
    if potential not in ("triangle", "cosine"):
        raise ValueError(f"potential must be 'triangle' or 'cosine', got {potential!r}")
    return _cubic(int(check_radius(R)), potential)
