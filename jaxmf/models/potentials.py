"""On-site potentials V_n = W v(theta_n) of the tight-binding models, as functions of a phase.

A potential is a unit-amplitude periodic function v(theta) (period 2 pi) and its
quantile function: the value of v at a uniformly random phase, as a monotone function
of u = theta / 2 pi's rank in [0, 1). Random realizations draw theta_n iid uniform, so
V_n has the law of W v(theta); the rare-event sampler parametrizes that law by the
quantile (u_n = Phi(z_n) for Gaussian z_n).

* :data:`TRIANGLE`: the paper's asymmetric triangle wave (Sec. VII), linear between
  v(0) = 1, v(2 pi / q1) = -1 and v(2 pi) = 1 with q1 = pi (1 + sqrt5). At a uniform
  phase it is uniform on [-1, 1] (quantile 2u - 1), so random realizations are the
  Anderson model with V uniform on [-W, W].
* :data:`COSINE`: v = cos(theta); with hopping 1 on a chain and theta_n = q n + theta0
  this is the Aubry-Andre model with W = 2 lambda (localized for W > 2). At a uniform
  phase V has the arcsine law on [-W, W] (quantile -cos(pi u)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

__all__ = ["Potential", "triangle_wave", "TRIANGLE", "COSINE", "POTENTIALS", "as_potential"]

_Q1 = np.pi * (1.0 + np.sqrt(5.0))


class Potential(NamedTuple):
    """A unit-amplitude on-site potential v(theta) (V_n = W v(theta_n)).

    Attributes:
        name: identifies it in model specs.
        v: theta (any shape) -> v(theta) in [-1, 1], jittable, period 2 pi.
        quantile: u in [0, 1] (any shape) -> the u-quantile of v(theta) for theta
            uniform on [0, 2 pi) (None if unknown; the rare-event tools need it).
    """

    name: str
    v: Callable
    quantile: Callable | None = None


def triangle_wave(theta):
    """Asymmetric triangle wave of unit amplitude, period 2 pi (Sec. VII).

    Linear between v(0) = 1, v(2 pi / q1) = -1 and v(2 pi) = 1, with q1 = pi (1 + sqrt5),
    so the minimum sits at 2 pi / q1 = 2 / (1 + sqrt5) ~ 0.618. V(theta) = W v(theta).

    Args:
        theta: angles, any shape.

    Returns:
        v(theta) in [-1, 1], same shape.
    """
    x = jnp.mod(jnp.asarray(theta, jnp.float64), 2.0 * np.pi)
    a = 2.0 * np.pi / _Q1
    return jnp.where(x < a, 1.0 - 2.0 * x / a, -1.0 + 2.0 * (x - a) / (2.0 * np.pi - a))


def _uniform_quantile(u):
    return 2.0 * u - 1.0


def _cosine(theta):
    return jnp.cos(jnp.asarray(theta, jnp.float64))


def _cosine_quantile(u):
    return -jnp.cos(np.pi * u)


TRIANGLE = Potential("triangle", triangle_wave, _uniform_quantile)
COSINE = Potential("cosine", _cosine, _cosine_quantile)
POTENTIALS = {p.name: p for p in (TRIANGLE, COSINE)}
"""The built-in potentials by name (the CLI's ``--potential``)."""


def as_potential(potential) -> Potential:
    """A :class:`Potential` from a name in :data:`POTENTIALS`, a Potential, or a plain
    callable v(theta) (named by its qualified name, no quantile)."""
    if isinstance(potential, Potential):
        return potential
    if isinstance(potential, str):
        if potential not in POTENTIALS:
            raise ValueError(f"potential must be one of {tuple(POTENTIALS)}, got {potential!r}")
        return POTENTIALS[potential]
    if callable(potential):
        name = (
            getattr(potential, "__module__", "")
            + ":"
            + getattr(potential, "__qualname__", type(potential).__name__)
        )
        return Potential(name, potential, None)
    raise TypeError(f"potential must be a name, a Potential or a callable, got {potential!r}")
