"""Nonlinear least squares on optax: L-BFGS with a zoom line search, Gauss-Newton errors.

:func:`least_squares` minimizes (1/2) sum_i r_i(p)^2 for a JAX-traceable residual
function r of a few parameters (anything :func:`jax.jvp` goes through, including the
implicitly differentiated mean-field solver; the gradient J^T r is built by forward
mode, one JVP per parameter). The parameters are scaled by the column norms of the
Jacobian at the start (as MINPACK does), so that parameters of very different size
converge at the same rate; the run is one compiled ``lax.while_loop`` of
``optax.lbfgs`` steps (zoom line search). It stops when the gradient in the scaled
variables, ||D^-1 J^T r||, falls below ``gtol`` times the norm of the starting
residuals, when a step no longer moves the parameters, or after ``max_iter`` steps;
``converged`` says whether the gradient criterion was met.

Errors come from the Gauss-Newton curvature at the minimum, covariance = (J^T J)^-1:
the parameter covariance when every residual is already divided by its standard error
(scipy's ``absolute_sigma=True``). For unweighted residuals use
``scaled_covariance`` = covariance * chi2 / (m - p), the default of
``scipy.optimize.curve_fit``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import check_int, check_nonnegative

__all__ = ["LeastSquaresResult", "least_squares"]


class LeastSquaresResult(NamedTuple):
    """Result of :func:`least_squares` (numpy values).

    Attributes:
        params: (p,) parameters at the minimum.
        covariance: (p, p) (J^T J)^-1 at the minimum (residuals weighted by their
            standard errors: this is the parameter covariance).
        chi2: sum of squared residuals at the minimum.
        dof: degrees of freedom m - p.
        residuals: (m,) residuals at the minimum.
        jacobian: (m, p) d r / d params at the minimum.
        iterations: L-BFGS iterations taken.
        converged: whether the gradient criterion was met within ``max_iter``.
        grad_norm: the final ||D^-1 J^T r|| / ||r(params0)|| (compared with gtol).
    """

    params: np.ndarray
    covariance: np.ndarray
    chi2: float
    dof: int
    residuals: np.ndarray
    jacobian: np.ndarray
    iterations: int
    converged: bool
    grad_norm: float

    @property
    def errors(self) -> np.ndarray:
        """(p,) standard errors sqrt(diag(covariance))."""
        return np.sqrt(np.diag(self.covariance))

    @property
    def scaled_covariance(self) -> np.ndarray:
        """covariance * chi2 / dof: the covariance for unweighted residuals, with the
        noise estimated from the misfit (``curve_fit``'s default); NaN if dof = 0."""
        return self.covariance * (self.chi2 / self.dof if self.dof > 0 else np.nan)


def _value_and_jacobian(f, x):
    """f(x) and its Jacobian by forward mode, one JVP per parameter (p is small)."""
    push = lambda v: jax.jvp(f, (x,), (v,))  # noqa: E731
    return jax.vmap(push, out_axes=(None, 1))(jnp.eye(x.size, dtype=x.dtype))


@functools.partial(jax.jit, static_argnames=("residuals", "max_iter", "memory_size"))
def _run(residuals, params0, args, gtol, *, max_iter, memory_size):
    def flat(p):
        return jnp.ravel(residuals(p, *args))

    tiny = jnp.finfo(params0.dtype).tiny
    r0, J0 = _value_and_jacobian(flat, params0)
    norms = jnp.linalg.norm(J0, axis=0)
    scale = jnp.where(norms > 0, norms, 1.0)
    tol = gtol * jnp.maximum(jnp.linalg.norm(r0), tiny)

    def res(z):
        return flat(params0 + z / scale)

    # The gradient J^T r by forward mode: for few parameters this is cheaper to trace
    # and compile than reverse mode through an implicitly differentiated solver.
    @jax.custom_vjp
    def objective(z):
        r = res(z)
        return 0.5 * jnp.sum(r * r)

    def objective_fwd(z):
        r, J = _value_and_jacobian(res, z)
        return 0.5 * jnp.sum(r * r), J.T @ r

    objective.defvjp(objective_fwd, lambda grad, ct: (ct * grad,))

    opt = optax.lbfgs(
        memory_size=memory_size,
        linesearch=optax.scale_by_zoom_linesearch(
            max_linesearch_steps=30, initial_guess_strategy="one"
        ),
    )
    value_and_grad = optax.value_and_grad_from_state(objective)

    def step(carry):
        z, state, _, it = carry
        value, grad = value_and_grad(z, state=state)
        updates, state = opt.update(grad, state, z, value=value, grad=grad, value_fn=objective)
        z_new = optax.apply_updates(z, updates)
        return z_new, state, jnp.any(z_new != z), it + 1

    def keep_going(carry):
        _, state, moved, it = carry
        gnorm = optax.tree_utils.tree_norm(optax.tree_utils.tree_get(state, "grad"))
        return (it == 0) | ((it < max_iter) & (gnorm > tol) & moved)

    z0 = jnp.zeros_like(params0)
    z, _, _, it = jax.lax.while_loop(
        keep_going, step, (z0, opt.init(z0), jnp.array(True), jnp.array(0))
    )
    p = params0 + jnp.asarray(z) / scale
    r, J = _value_and_jacobian(flat, p)
    gnorm = jnp.linalg.norm((J / scale[None, :]).T @ r) / jnp.maximum(jnp.linalg.norm(r0), tiny)
    return p, r, J, it, gnorm, jnp.all(jnp.isfinite(J0))


def least_squares(
    residuals: Callable,
    params0,
    *args,
    gtol: float = 1e-12,
    max_iter: int = 500,
    memory_size: int = 10,
) -> LeastSquaresResult:
    """Minimize (1/2) sum r(params, *args)^2 with ``optax.lbfgs``; Gauss-Newton errors.

    Args:
        residuals: ``residuals(params, *args) -> (m,)`` array, traceable by JAX and
            differentiable in ``params`` by forward mode (``jax.jvp``). Compiled once per
            function object and argument shapes: pass the data through ``args`` rather
            than closing over it, and reuse the same function, to avoid recompiling.
        params0: (p,) starting parameters.
        *args: data passed on to ``residuals`` (arrays; traced, not static).
        gtol: stop when ||D^-1 J^T r|| <= gtol ||r(params0)||, with D the column norms
            of the Jacobian at ``params0`` (scale-free: the gradient in the scaled
            variables relative to the starting misfit).
        max_iter: at most this many L-BFGS iterations.
        memory_size: L-BFGS memory.

    Returns:
        :class:`LeastSquaresResult`.
    """
    check_nonnegative("gtol", gtol, finite=True)
    check_int("max_iter", max_iter, 1)
    check_int("memory_size", memory_size, 1)
    p0 = jnp.asarray(params0, jnp.float64)
    if p0.ndim != 1:
        raise ValueError(f"params0 must be a 1-d array of parameters; got shape {p0.shape}")
    args = tuple(
        jnp.asarray(a) if isinstance(a, (np.ndarray, list, float, int)) else a for a in args
    )
    p, r, J, it, gnorm, ok = _run(
        residuals, p0, args, float(gtol), max_iter=int(max_iter), memory_size=int(memory_size)
    )
    if not bool(ok):
        raise ValueError("the Jacobian of the residuals is not finite at params0")
    p, r, J = np.asarray(p), np.asarray(r), np.asarray(J)
    cov = np.linalg.pinv(J.T @ J)
    gnorm = float(gnorm)
    return LeastSquaresResult(
        params=p,
        covariance=cov,
        chi2=float(r @ r),
        dof=int(r.size - p.size),
        residuals=r,
        jacobian=J,
        iterations=int(it),
        converged=bool(gnorm <= gtol),
        grad_norm=gnorm,
    )
