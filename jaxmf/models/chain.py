"""The DRH chain: g_{n,0} = g_{1,0} alpha^(n-1) (Sec. VI), alpha_c = 1/sqrt(2).

A fully thermalized l-bit adds log 2 to eta_tot, i.e. multiplies every coupling by
sqrt 2, while each step along the chain divides it by 1/alpha. For alpha < alpha_c the
avalanche fails after n* ~ |alpha - alpha_c|^-1 l-bits (nu = 1) with
eta_tot ~ n* log 2; for alpha > alpha_c it runs through the chain.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._checks import check_int, check_nonnegative, nan_where_invalid
from .contract import Model, kind_of

__all__ = ["ALPHA_C", "drh_log_couplings", "drh_couplings", "DRHChainModel"]

ALPHA_C = float(1.0 / np.sqrt(2.0))


def _check(N, alpha, g10):
    check_int("N", N, 1)
    check_nonnegative("alpha", alpha, strictly_positive=True, finite=True)
    check_nonnegative("g10", g10, strictly_positive=True, finite=True)


def drh_log_couplings(N: int, alpha, g10=0.5):
    """log g_{n,0} = log g10 + (n - 1) log alpha (Sec. VI), shape (..., N).

    ``alpha`` and ``g10`` broadcast against each other; their broadcast shape is ``...``.

    ``g10`` is g_{1,0}, the bare reduced coupling of the first l-bit (the same name is
    used by the CLI, the ED comparison and the result files).

    The log form never underflows (use ``solve(..., log_input=True)``).
    """
    _check(N, alpha, g10)
    alpha, g10 = jnp.broadcast_arrays(
        jnp.asarray(alpha, jnp.float64), jnp.asarray(g10, jnp.float64)
    )
    n = jnp.arange(N, dtype=jnp.float64).reshape((1,) * alpha.ndim + (N,))
    alpha, g10 = alpha[..., None], g10[..., None]
    valid = (alpha > 0) & (g10 > 0) & jnp.isfinite(alpha) & jnp.isfinite(g10)
    return nan_where_invalid(jnp.log(g10) + n * jnp.log(alpha), valid)


def drh_couplings(N: int, alpha, g10=0.5):
    """Bare couplings g_{n,0} = g10 alpha^(n-1), shape alpha.shape + (N,)."""
    return jnp.exp(drh_log_couplings(N, alpha, g10))


class DRHChainModel(Model):
    """The DRH chain as a coupling-only model: g_{n,0} = g0 alpha^(n-1), n = 1..N.

    Deterministic: the realization is accepted (either kind) and ignored, and so is W
    (the chain has no potential); g0 plays the role of g_{1,0}. Useful to run the
    analyses that scan g0 on the chain.

    Args:
        N: number of l-bits.
        alpha: decay ratio > 0 (alpha_c = 1/sqrt 2).
    """

    def __init__(self, N, alpha):
        _check(N, alpha, 1.0)
        self.N, self.alpha, self.name = int(N), float(alpha), "drh-chain"

    def spec(self):
        return {"model": "drh-chain", "N": self.N, "alpha": self.alpha}

    def couplings(self, W, g0, realization, *, method="auto"):
        kind_of(realization)
        g0 = jnp.asarray(g0, jnp.float64)
        n = jnp.arange(self.N, dtype=jnp.float64)
        return nan_where_invalid(g0 * self.alpha**n, (g0 >= 0) & jnp.isfinite(g0))
