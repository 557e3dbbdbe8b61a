"""The model contract: what every analysis in jaxmf takes as its physics.

A *model* turns (W, g0, one realization) into the bare couplings g_{n,0} of the
l-bits to the grain, shape (N,) (eq. 18 for the lattice models). Every analysis
(sweeps, thresholds, maps, rare events, the CLI) takes a model and never asks which one
it is. A model says

* ``N``: its number of l-bits (static);
* ``kinds``: the realization kinds it supports (``"qp"``, ``"random"``);
* ``couplings(W, g0, realization, *, method="auto")``: (N,) float64 couplings, pure,
  jittable and vmappable over W, g0 and the realization, differentiable in W and g0;
* ``spec()``: a JSON-able dict that identifies it (stored with every run, so a run
  cannot be resumed with a different model);
* ``geometry``: site positions, the grain site and each site's distance to the grain
  (maps, collars, local rare-event moves), or None for coupling-only models;
* ``R``: a size label (the radius of the built-in lattices), used to name sizes in
  sweeps; None where the model has none (then N labels it).

Realizations are values: :class:`QPPhase` (theta0 of theta_n = q . n + theta0) and
:class:`RandomKey` (a typed JAX PRNG key). Both are pytrees, so a batch of them
(``QPPhase(jnp.array([...]))``, ``RandomKey(jax.random.split(key, M))``) is one value
that ``jax.vmap`` maps over.

A *model family* is a callable R -> model (the built-in :func:`~jaxmf.models.square`,
:func:`~jaxmf.models.chain1d`, :func:`~jaxmf.models.cubic`, or a user's function): what
a sweep over sizes takes. The paper's model is ``square`` with the triangle-wave
potential; an int R where a model is expected means ``square(R)``.

A new model subclasses :class:`Model` (coupling-only models) or is built from data with
:class:`~jaxmf.models.tight_binding.TightBinding` (sites, bonds, grain, potential).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "KINDS",
    "QPPhase",
    "RandomKey",
    "Geometry",
    "Model",
    "kind_of",
    "realization",
    "check_realization",
    "json_spec",
]

KINDS = ("qp", "random")
"""Realization kinds: quasiperiodic (a phase theta0) and random (a PRNG key)."""


class QPPhase(NamedTuple):
    """A quasiperiodic realization: theta_n = q . n + theta0.

    Attributes:
        theta0: phase offset, scalar (one realization) or (M,) (a batch to vmap over).
    """

    theta0: Any


class RandomKey(NamedTuple):
    """A random realization: the site phases (or couplings) drawn from ``key``.

    Attributes:
        key: a typed JAX PRNG key (``jax.random.key``), scalar or a batch of keys.
    """

    key: Any


def kind_of(realization) -> str:
    """``"qp"`` for a :class:`QPPhase`, ``"random"`` for a :class:`RandomKey`."""
    if isinstance(realization, QPPhase):
        return "qp"
    if isinstance(realization, RandomKey):
        return "random"
    raise TypeError(
        "realization must be a QPPhase(theta0) or a RandomKey(key), got "
        f"{type(realization).__name__}"
    )


def realization(kind, value):
    """The realization of ``kind`` ("qp" or "random") with phase or key ``value``."""
    if kind == "qp":
        return QPPhase(value)
    if kind == "random":
        return RandomKey(value)
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def check_realization(model, realization):
    """Eager check that ``model`` supports ``realization``; returns its kind."""
    kind = kind_of(realization)
    if kind not in model.kinds:
        raise ValueError(
            f"model {model.name!r} supports realization kinds {model.kinds}, got {kind!r}"
        )
    if kind == "random":
        key = realization.key
        if not (isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)):
            raise TypeError(
                "RandomKey needs a typed JAX PRNG key (jax.random.key(seed)), "
                f"got {type(key).__name__}"
            )
    return kind


def json_spec(spec) -> dict:
    """``spec`` normalised through JSON (tuples -> lists, numpy scalars -> floats), so
    that a spec read back from a manifest compares equal to a fresh one."""

    def default(x):
        if isinstance(x, np.ndarray):
            return x.tolist()
        if isinstance(x, np.generic):
            return x.item()
        raise TypeError(f"model spec values must be JSON-able, got {type(x).__name__}")

    return json.loads(json.dumps(spec, default=default, sort_keys=True))


class Geometry(NamedTuple):
    """Where the l-bits sit, for maps, collars and local rare-event moves.

    Attributes:
        positions: (N, d) site coordinates (integers for lattices), read-only, in the
            model's site order (the order of its potentials).
        grain: index of the site the grain couples to.
        distance: (N,) distance of each site to the grain: the number of bonds on a
            shortest path (equal to the L1 norm |n|_1 on the built-in lattices).
    """

    positions: np.ndarray
    grain: int
    distance: np.ndarray


class Model:
    """Base class of the contract (see the module docstring).

    Subclasses set ``name``, ``N``, ``kinds`` (default both), ``R`` (size label or
    None), ``geometry`` (None) and implement :meth:`couplings` and :meth:`spec`.
    Instances are compared and hashed by identity (they key jit caches); the built-in
    constructors return one cached instance per argument set.
    """

    name: str = "model"
    N: int
    kinds: tuple = KINDS
    R: int | None = None
    geometry: Geometry | None = None

    def couplings(self, W, g0, realization, *, method="auto"):
        """(N,) bare couplings of one realization; see the module docstring."""
        raise NotImplementedError

    def spec(self) -> dict:
        """JSON-able identity of the model (include every parameter that changes the
        couplings)."""
        raise NotImplementedError

    @property
    def label(self) -> int:
        """The size label of sweeps: ``R`` where the model has one, else ``N``."""
        return int(self.N if self.R is None else self.R)

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} N={self.N}>"
