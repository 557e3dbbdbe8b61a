"""The DRH chain: g_{n,0} = g_{1,0} alpha^(n-1) (Sec. VI), alpha_c = 1/sqrt(2).

A fully thermalized l-bit adds log 2 to eta_tot, i.e. multiplies every coupling by
sqrt 2, while each step along the chain divides it by 1/alpha. For alpha < alpha_c the
avalanche fails after n* ~ |alpha - alpha_c|^-1 l-bits (nu = 1) with
eta_tot ~ n* log 2; for alpha > alpha_c it runs through the chain.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import _config  # noqa: F401
from .._validate import is_concrete

__all__ = ["ALPHA_C", "drh_log_couplings", "drh_couplings", "fit_power_law"]

ALPHA_C = float(1.0 / np.sqrt(2.0))


def _check(N, alpha, g1):
    if not isinstance(N, (int, np.integer)) or N < 1:
        raise ValueError(f"N must be an integer >= 1, got {N!r}")
    for name, v in (("alpha", alpha), ("g1", g1)):
        if is_concrete(v):
            a = np.asarray(v)
            if np.isnan(a).any() or (a <= 0).any():
                raise ValueError(f"{name} must lie in (0, inf), got {v!r}")


def drh_log_couplings(N: int, alpha, g1=0.5):
    """log g_{n,0} = log g1 + (n - 1) log alpha, shape alpha.shape + (N,).

    The log form never underflows (use ``solve(..., log_input=True)``).
    """
    _check(N, alpha, g1)
    n = jnp.arange(N, dtype=jnp.float64)
    alpha = jnp.asarray(alpha, jnp.float64)[..., None]
    return jnp.log(jnp.asarray(g1, jnp.float64))[..., None] + n * jnp.log(alpha)


def drh_couplings(N: int, alpha, g1=0.5):
    """Bare couplings g_{n,0} = g1 alpha^(n-1), shape alpha.shape + (N,)."""
    return jnp.exp(drh_log_couplings(N, alpha, g1))


def fit_power_law(x, y):
    """Least-squares fit log y = log A + p log x.

    Returns:
        (p, p_err, A): exponent, its standard error (from the residual scatter), and
        prefactor.
    """
    lx, ly = np.log(np.asarray(x)), np.log(np.asarray(y))
    coef, cov = np.polyfit(lx, ly, 1, cov=True)
    return float(coef[0]), float(np.sqrt(cov[0, 0])), float(np.exp(coef[1]))
