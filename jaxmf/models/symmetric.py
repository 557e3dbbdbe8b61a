"""Symmetric couplings g_{n,0} = g0 for all n (eq. 21).

All l-bits are equivalent, so the mean-field equations reduce to one scalar equation
for l = log g; its fold, the critical coupling g_c(N) (eq. 22), is solved in
:mod:`jaxmf.analysis.symmetric_fold`.
"""

from __future__ import annotations

import jax.numpy as jnp

from .._checks import check_int, check_nonnegative, nan_where_invalid
from .contract import Model, kind_of

__all__ = ["symmetric_couplings", "SymmetricModel"]


def symmetric_couplings(N: int, g0: float):
    """(N,) array of equal bare couplings g0 (eq. 21); N >= 1, g0 in [0, inf)."""
    N = check_int("N (number of l-bits)", N, 1)
    check_nonnegative("g0 (bare coupling)", g0)
    return jnp.full((N,), g0, jnp.float64)


class SymmetricModel(Model):
    """The symmetric model (eq. 21) as a coupling-only model: g_{n,0} = g0 for all n.

    Deterministic: the realization (either kind) and W are ignored.

    Args:
        N: number of l-bits.
    """

    def __init__(self, N):
        self.N, self.name = check_int("N (number of l-bits)", N, 1), "symmetric"

    def spec(self):
        return {"model": "symmetric", "N": self.N}

    def couplings(self, W, g0, realization, *, method="auto"):
        kind_of(realization)
        g0 = jnp.asarray(g0, jnp.float64)
        return nan_where_invalid(jnp.full((self.N,), 1.0) * g0, (g0 >= 0) & jnp.isfinite(g0))
