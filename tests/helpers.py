"""Shared test helpers: central finite differences and small reference systems.

Finite differences are the independent reference for every gradient in the suite:
``fd_derivative`` (elementwise), ``fd_jvp`` (directional) and ``fd_grad`` (per
component). The arguments are passed on with their own type (a Python float stays a
Python float), so a jitted function under test is not recompiled for a change of dtype
or weak type.

Reference systems (used by several files; the conftest fixtures wrap them):

* :func:`drh_chain`: the DRH chain of the paper's Fig. 3(a), N = 50,
  alpha = alpha_c - 0.07, g_{1,0} = 1/2 (a failed avalanche with n* ~ 30).
* :func:`symmetric_system`: N equal couplings and the exact critical coupling g_c(N).
* :func:`qp_realization`: one QP lattice realization, R = 4 (N = 41), theta0 = 2.954;
  W = 90 is a failed avalanche, W = 20 an avalanche.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import jaxmf  # noqa: F401  (float64 before anything is traced)
from jaxmf.analysis import symmetric_fold
from jaxmf.models import chain, lattice


# --------------------------------------------------------------------------- differences
def fd_derivative(f, x, h):
    """(f(x + h) - f(x - h)) / (2 h): the derivative of a scalar or elementwise f.

    ``x`` and ``h`` may be scalars or arrays (broadcast); ``f`` gets ``x + h`` and
    ``x - h`` as they are. Returns a float for scalar results, else a NumPy array.
    """
    out = (np.asarray(f(x + h), np.float64) - np.asarray(f(x - h), np.float64)) / (
        2 * np.asarray(h, np.float64)
    )
    return float(out) if out.ndim == 0 else out


def fd_jvp(f, x, v, h):
    """Directional derivative (f(x + h v) - f(x - h v)) / (2 h) (h a scalar step)."""
    if np.ndim(h) != 0:
        raise ValueError(f"h must be a scalar step, got shape {np.shape(h)}")
    return fd_derivative(lambda t: f(x + t * v), 0.0, h)


def fd_grad(f, x, h, *, index=None):
    """Gradient of a scalar function f at x by central differences, one component at a
    time.

    Args:
        f: scalar-valued function of x.
        x: scalar or array.
        h: step, a scalar or an array of x's shape (per-component steps).
        index: flat indices of the components to difference (default: all); the
            others are NaN.

    Returns:
        float for scalar x, else an array of x's shape.
    """
    if np.ndim(x) == 0:
        return fd_derivative(f, x, h)
    x_np = np.asarray(x, np.float64)
    steps = np.broadcast_to(np.asarray(h, np.float64), x_np.shape).ravel()
    out = np.full(x_np.size, np.nan)
    for i in range(x_np.size) if index is None else np.ravel(index):
        e = np.zeros(x_np.size)
        e[i] = 1.0
        e = e.reshape(x_np.shape)
        out[i] = fd_derivative(lambda t, e=e: f(x + t * e), 0.0, float(steps[i]))
    return out.reshape(x_np.shape)


# --------------------------------------------------------------------------- systems
class DRHChain(NamedTuple):
    """A DRH chain (Sec. VI): g_{n,0} = g10 alpha^(n-1)."""

    N: int
    alpha: float
    g10: float
    g0: np.ndarray


def drh_chain(N=50, alpha=chain.ALPHA_C - 0.07, g10=0.5) -> DRHChain:
    """The chain of the paper's Fig. 3(a) by default (N = 50, delta alpha = -0.07)."""
    return DRHChain(N, float(alpha), float(g10), np.asarray(chain.drh_couplings(N, alpha, g10)))


class SymmetricSystem(NamedTuple):
    """N equal couplings (eq. 21) and the exact fold g_c(N) of the scalar equation."""

    N: int
    g_c: float


def symmetric_system(N=100) -> SymmetricSystem:
    return SymmetricSystem(N, float(symmetric_fold.critical_coupling(N)))


class QPRealization(NamedTuple):
    """One QP lattice realization (Sec. VII) and its bare couplings (eq. 18)."""

    R: int
    W: float
    theta0: float
    g0: float
    couplings: np.ndarray


QP_R, QP_THETA0 = 4, 2.954
QP_W_FAILED, QP_W_AVALANCHE = 90.0, 20.0


def qp_realization(
    W=QP_W_FAILED, *, R=QP_R, theta0=QP_THETA0, g0=1.0, method="eigh"
) -> QPRealization:
    g = np.asarray(lattice.bare_couplings(R, W, g0=g0, theta0=theta0, method=method))
    return QPRealization(R, float(W), float(theta0), float(g0), g)
