"""The critical grain coupling g0_c(V): the reaction coordinate of the rare-event sampler.

The bare couplings of a tight-binding model (:class:`jaxmf.models.TightBinding`; the
paper's lattice by default) with potential V are g0 |phi_k(grain)| (eq. 18), so g0 is an
overall scale. Scaling every bare coupling up raises the smallest fixed point eta_tot,
hence the avalanche flag (eq. 19) switches on exactly once, at g0_c(V): the realization
avalanches iff log g0 > log g0_c. :func:`critical_log_g0` finds it with
:func:`jaxmf.meanfield.critical_log_scale` (bisection of the solver's own flag), so one
realization answers the avalanche question for every g0 at once,

    f_aval(W, g0) = P(log g0_c(V) < log g0),

and log g0_c is a continuous score that orders all potentials by how close they are to
avalanching (eta_tot itself is nearly flat below the avalanche).
:func:`gaussian_scorer` is the jitted score of subset simulation: Gaussian variables z
mapped to the model's random law, V_n = W v_q(Phi(z_n)) with v_q the potential's quantile
function (V_n = W (2 Phi(z_n) - 1) for the triangle wave: V uniform on [-W, W]), then
log g0_c.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.scipy.special import ndtr

from ...meanfield import CriticalScale, critical_log_scale
from ...models import as_model
from ...resonance import check_dist

__all__ = ["critical_log_g0", "gaussian_scorer", "potential_from_gaussian"]


def critical_log_g0(
    V, model, *, dist="goe", method="auto", bracket=(-20.0, 20.0), n_bisect=20, solver="fold"
) -> CriticalScale:
    """log g0_c: the model with potential V avalanches iff log g0 > log g0_c.

    Args:
        V: (..., N) on-site potentials in the model's site order.
        model: a tight-binding model (with ``couplings_from_potential``); an int R: the
            paper's lattice.
        dist: ptilde family ("goe" or "poisson").
        method: spectral route (:mod:`jaxmf.models.spectral`).
        bracket: search range of log g0_c (outside: -inf / +inf).
        n_bisect: bisection steps of ``solver="bisect"`` (resolution 40 / 2^21 = 2e-5).
        solver: "fold" (exact to ~1e-13, differentiable in V) or "bisect" (bisection of
            the solver's flag), as in :func:`jaxmf.meanfield.critical_log_scale`.

    Returns:
        :class:`jaxmf.meanfield.CriticalScale` (log_scale = log g0_c, converged), each
        shaped (...).
    """
    # tight-binding models only (they have couplings_from_potential)
    c = as_model(model).couplings_from_potential(  # pyright: ignore[reportAttributeAccessIssue]
        V, g0=1.0, method=method
    )
    pos = c > 0
    return critical_log_scale(
        jnp.where(pos, jnp.log(jnp.where(pos, c, 1.0)), -jnp.inf),
        dist,
        bracket=bracket,
        n_bisect=n_bisect,
        method=solver,
    )


def potential_from_gaussian(z, W, model=None):
    """V_n = W v_q(Phi(z_n)) (v_q: the model's potential quantile function): z ~ N(0, 1)
    site by site gives V with the model's random law; for the paper's lattice (default)
    V_n = W (2 Phi(z_n) - 1), uniform on [-W, W]."""
    model = as_model(3 if model is None else model)
    return model.potential_from_uniform(ndtr(z), W)  # pyright: ignore[reportAttributeAccessIssue]


@functools.cache
def _scorer(model, dist, method, bracket, n_bisect, solver):
    @jax.jit
    def score(z, W):
        return critical_log_g0(
            potential_from_gaussian(z, W, model),
            model,
            dist=dist,
            method=method,
            bracket=bracket,
            n_bisect=n_bisect,
            solver=solver,
        )

    return score


def gaussian_scorer(
    model, *, dist="goe", method="auto", bracket=(-20.0, 20.0), n_bisect=20, solver="fold"
):
    """The jitted score of subset simulation for a model (compiled once per setting).

    Args:
        model: a tight-binding model (an int R: the paper's lattice).

    Returns:
        score(z, W) -> :class:`jaxmf.meanfield.CriticalScale` of the potentials
        V = W v_q(Phi(z)) (:func:`potential_from_gaussian`), z of shape (m, N).
    """
    model = as_model(model)
    check_dist(dist)
    return _scorer(model, dist, method, tuple(float(b) for b in bracket), int(n_bisect), solver)
