"""1D chain: a grain on site 0 of the open chain n = -R..R (N = 2R + 1), hopping 1.

Quasiperiodic phases theta_n = q n + theta0 with q = pi (1 + sqrt5), random phases iid
uniform. With ``potential="cosine"`` the chain is the Aubry-Andre model
V_n = 2 lambda cos(2 pi beta n + theta0) with W = 2 lambda and 2 pi beta = q (equal to
pi (sqrt5 - 1) modulo 2 pi, the golden-mean frequency): every orbital is localized for
W > 2 with inverse localization length log(W / 2), extended for W < 2.
"""

from __future__ import annotations

import functools

import numpy as np

from .._checks import check_radius
from .tight_binding import TightBinding, nearest_neighbour_bonds

__all__ = ["Q", "chain1d"]

Q = np.pi * np.array([1.0 + np.sqrt(5.0)])
"""Quasiperiodic wave number q = pi (1 + sqrt5)."""


@functools.cache
def _chain1d(R, potential):
    sites = np.arange(-R, R + 1)[:, None]
    return TightBinding(
        sites,
        nearest_neighbour_bonds(sites),
        grain=R,
        potential=potential,
        q=Q,
        name="chain",
        R=R,
        spec_extra={"model": "chain", "R": R, "potential": potential},
    )


def chain1d(R, potential="triangle"):
    """The 1D chain of radius R (sites -R..R, grain at 0) as a model.

    Args:
        R: chain radius (non-negative int); N = 2R + 1.
        potential: "triangle" or "cosine" (Aubry-Andre).

    Returns:
        :class:`~jaxmf.models.tight_binding.TightBinding` (one cached instance per
        argument set); half-bandwidth 2 in its banded order.
    """
    if potential not in ("triangle", "cosine"):
        raise ValueError(f"potential must be 'triangle' or 'cosine', got {potential!r}")
    return _chain1d(int(check_radius(R)), potential)
