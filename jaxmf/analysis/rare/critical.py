"""The critical grain coupling g0_c(V): the reaction coordinate of the rare-event sampler.

The bare couplings of a lattice with potential V are g0 |phi_k(0)| (eq. 18), so g0 is an
overall scale. Scaling every bare coupling up raises the smallest fixed point eta_tot,
hence the avalanche flag (eq. 19) switches on exactly once, at g0_c(V): the realization
avalanches iff log g0 > log g0_c. :func:`critical_log_g0` finds it with
:func:`jaxmf.meanfield.critical_log_scale` (bisection of the solver's own flag), so one
realization answers the avalanche question for every g0 at once,

    f_aval(W, g0) = P(log g0_c(V) < log g0),

and log g0_c is a continuous score that orders all potentials by how close they are to
avalanching (eta_tot itself is nearly flat below the avalanche).
:func:`gaussian_scorer` is the jitted score of subset simulation: Gaussian variables z
mapped to V_n = W (2 Phi(z_n) - 1), then log g0_c.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from ..._checks import check_radius
from ...meanfield import CriticalScale, critical_log_scale
from ...models import lattice
from ...resonance import check_dist

__all__ = ["critical_log_g0", "gaussian_scorer", "potential_from_gaussian"]


def critical_log_g0(V, R, *, dist="goe", method="auto", bracket=(-20.0, 20.0),
                    n_bisect=20) -> CriticalScale:
    """log g0_c: the lattice with potential V avalanches iff log g0 > log g0_c.

    Args:
        V: (..., N) on-site potentials (order of ``lattice.sites(R)``), hopping t = 1.
        R: lattice radius (static int).
        dist: ptilde family ("goe" or "poisson").
        method: spectral route of :func:`jaxmf.models.lattice.couplings_from_potential`.
        bracket: search range of log g0_c (outside: -inf / +inf).
        n_bisect: bisection steps (default: resolution 40 / 2^21 = 2e-5 in log g0).

    Returns:
        :class:`jaxmf.meanfield.CriticalScale` (log_scale = log g0_c, converged), each
        shaped (...).
    """
    c = lattice.couplings_from_potential(V, R, g0=1.0, method=method)
    pos = c > 0
    return critical_log_scale(jnp.where(pos, jnp.log(jnp.where(pos, c, 1.0)), -jnp.inf),
                              dist, bracket=bracket, n_bisect=n_bisect)


def potential_from_gaussian(z, W):
    """V_n = W (2 Phi(z_n) - 1): z ~ N(0, 1) site by site gives V uniform on [-W, W]."""
    return W * (2.0 * ndtr(z) - 1.0)


@functools.cache
def _scorer(R, dist, method, bracket, n_bisect):
    @jax.jit
    def score(z, W):
        return critical_log_g0(potential_from_gaussian(z, W), R, dist=dist, method=method,
                               bracket=bracket, n_bisect=n_bisect)
    return score


def gaussian_scorer(R, *, dist="goe", method="auto", bracket=(-20.0, 20.0), n_bisect=20):
    """The jitted score of subset simulation for radius R (compiled once per setting).

    Returns:
        score(z, W) -> :class:`jaxmf.meanfield.CriticalScale` of the potentials
        V = W (2 Phi(z) - 1), z of shape (m, N).
    """
    check_radius(R)
    check_dist(dist)
    return _scorer(int(R), dist, method, tuple(float(b) for b in bracket), int(n_bisect))
