"""Markov moves of subset simulation for the potentials of a random tight-binding model.

The sampler works in Gaussian variables: site n carries z_n ~ N(0, 1) and its potential
is V_n = W v_q(Phi(z_n)) (:func:`~jaxmf.analysis.rare.critical.potential_from_gaussian`;
uniform on [-W, W] for the paper's lattice). Local moves act on the sites near the
grain, by the model's own distance to the grain (``model.geometry.distance``). A move
must leave N(0, I) (equivalently the uniform law of V) invariant; the chains of
:func:`jaxmf.analysis.rare.subset.run` then accept a valid proposal iff it stays in the
current level set.

Isotropic pCN moves alone fail deep in the tail: the avalanching potentials there are
thin sets (a few near-resonances |V_n - V_m| ~ t around the grain, of width ~1 / W in
z) that any isotropic move leaves at once. :func:`lattice_moves` mixes pCN with local
moves that shift a block of sites around the grain together (keeping the resonances and
moving them) or one site alone, with step sizes down to ~1e-4 W
(docs/rare_avalanches.md).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from ..._checks import check_choice, check_int
from ...models import as_model
from . import subset

__all__ = ["NEAR", "N_SCALES", "MOVES", "shells", "lattice_moves", "proposal"]

NEAR = 4
"""Local moves act mostly on the shells d <= NEAR around the grain (d: bonds to the
grain, |n1| + |n2| on the paper's lattice)."""

N_SCALES = 14
"""Local step sizes 2^-j, j = 0 .. N_SCALES - 1, in units of W."""

MOVES = ("lattice", "pcn")
"""The move sets of :func:`proposal`: lattice moves (default) or isotropic pCN only."""


def shells(model):
    """Shell index d of each site: its distance (bonds) to the grain's site.

    Args:
        model: a model with geometry (an int R: the paper's lattice, d = |n1| + |n2|).

    Returns:
        (N,) int numpy array in the model's site order.
    """
    model = as_model(model)
    if model.geometry is None:
        raise ValueError(
            f"model {model.name!r} has no geometry: local moves need the "
            "sites' distances to the grain"
        )
    return np.asarray(model.geometry.distance)


def lattice_moves(model, near=NEAR, local_fraction=0.5, block_fraction=0.5, wrap=True):
    """Metropolis moves for subset simulation of the lattice potentials, in z variables.

    V_n = W (2 Phi(z_n) - 1) with z ~ N(0, I). A mixture, chosen per proposal
    independently of the state (so each kernel, and hence the mixture, is reversible
    for the prior):

    * pCN in z (all sites at once; mixes the bulk; its step is the adapted sigma);
    * with probability ``local_fraction`` instead a local move in v = V / W (uniform
      prior, symmetric move, invalid outside [-1, 1]): either (probability
      ``block_fraction``) a common shift of every site with d <= r, r uniform in
      0..near + 2, or a single-site shift of one site (3/4 of them among d <= near).
      The shift is 2^-j xi, j uniform in 0..13: down to ~1e-4 W, the width of a
      resonance |V_n - V_m| ~ t at W ~ 300. Deep in the tail the avalanching
      potentials are thin sets (a few near-resonances around the grain) that an
      isotropic move leaves at once; common shifts keep the resonances and move them.
      With ``wrap`` (default) the shift is a rotation of the circle u = (v + 1) / 2
      mod 1, which keeps the uniform prior and is valid for every step, so the grain's
      whole neighbourhood can travel through the band; without it a block containing
      a site near +-W can only move by tiny steps (the grain's potential V_0 then stays
      where the seed put it, and populations coalesce to one ancestor).

    Args:
        model: a model with geometry (an int R: the paper's lattice).
        near: shells d <= near receive most single-site moves.
        local_fraction: probability of a local move instead of pCN.
        block_fraction: probability that a local move is a block shift.
        wrap: shift on the circle (True) or reject shifts that leave [-W, W].

    Returns:
        propose(z, sigma, *, key) -> :class:`~jaxmf.analysis.rare.subset.Proposal`
        for :func:`~jaxmf.analysis.rare.subset.run` (``scaled`` marks the pCN
        proposals, on which sigma is adapted).
    """
    d = shells(model)
    check_int("near", near, 0)
    for name, x in (("local_fraction", local_fraction), ("block_fraction", block_fraction)):
        if not 0.0 <= float(x) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    near_mask = d <= near
    w = np.where(near_mask, 0.75 / near_mask.sum(), 0.25 / max(1, (~near_mask).sum()))
    w = w / w.sum()

    def propose(z, sigma, *, key):
        m, N = z.shape
        k = jax.random.split(key, 7)
        zp = subset.pcn(z, sigma, key=k[0]).z
        local = np.asarray(jax.random.uniform(k[1], (m,))) < local_fraction
        block = np.asarray(jax.random.uniform(k[2], (m,))) < block_fraction
        step = 2.0 ** -np.asarray(jax.random.randint(k[3], (m,), 0, N_SCALES))
        delta = step * np.asarray(jax.random.normal(k[4], (m,), jnp.float64))
        site = np.asarray(jax.random.choice(k[5], N, (m,), p=jnp.asarray(w)))
        radius = np.asarray(jax.random.randint(k[6], (m,), 0, near + 3))
        mask = np.where(
            block[:, None], d[None, :] <= radius[:, None], np.arange(N)[None, :] == site[:, None]
        )
        u = scipy.special.ndtr(z) + 0.5 * delta[:, None] * mask  # u = (v + 1) / 2
        if wrap:  # rotation of the circle u in [0, 1): every shift is valid
            u = np.mod(u, 1.0)
        ok = np.all(~mask | ((u > 0.0) & (u < 1.0)), axis=1)
        zl = np.where(mask, scipy.special.ndtri(np.clip(u, 1e-300, 1.0 - 1e-16)), z)
        out = np.where(local[:, None], np.where(ok[:, None], zl, z), zp)
        return subset.Proposal(out, np.where(local, ok, True), ~local)

    return propose


def proposal(model, moves="lattice"):
    """The ``propose`` callable of move set ``moves`` (one of :data:`MOVES`) for a model:
    :func:`lattice_moves` (``"lattice"``) or plain pCN (``"pcn"``; it gets stuck below
    f ~ 1e-7 at R = 10, docs/rare_avalanches.md)."""
    check_choice("moves", moves, MOVES)
    return subset.pcn if moves == "pcn" else lattice_moves(model)
