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

__all__ = [
    "NEAR",
    "N_SCALES",
    "RESONANCE_SCALES",
    "MOVES",
    "shells",
    "lattice_moves",
    "resonance_moves",
    "cluster_moves",
    "proposal",
]

NEAR = 4
"""Local moves act mostly on the shells d <= NEAR around the grain (d: bonds to the
grain, |n1| + |n2| on the paper's lattice)."""

N_SCALES = 14
"""Local step sizes 2^-j, j = 0 .. N_SCALES - 1, in units of W."""

RESONANCE_SCALES = (5, 12)
"""Resonance widths 2^-j, j = 5 .. 12, of :func:`resonance_moves` in u = (v + 1) / 2:
|V_n - V_m| < 2 W 2^-j, from W / 16 down to W / 2048 (0.2 t at W = 400)."""

MOVES = ("lattice", "pcn", "resonance", "resonance-pcn", "cluster")
"""The move sets of :func:`proposal`: lattice moves (default), isotropic pCN only,
lattice moves mixed 50/50 with :func:`resonance_moves`, pCN mixed 50/50 with them (no
local shifts: a second kernel that shares no move with "lattice"), or lattice,
resonance and :func:`cluster_moves` in thirds."""

CLUSTER_STEPS = 8
"""Shifts of :func:`cluster_moves`: 2^-j xi / 2 in u, j uniform in 0 .. CLUSTER_STEPS - 1
(from a quarter of the band down to ~W / 256)."""


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


def _neighbours(model):
    """(N, k) neighbour indices of every site (padded with the site itself) and (N,)
    neighbour counts, from the model's bonds."""
    bonds = getattr(model, "bonds", None)
    if bonds is None:
        raise ValueError(
            f"model {model.name!r} has no bonds: resonance moves need the sites' neighbours"
        )
    n = model.N
    lists = [[] for _ in range(n)]
    for a, b in np.asarray(bonds):
        lists[a].append(b)
        lists[b].append(a)
    k = max([len(x) for x in lists] + [1])
    table = np.array([x + [i] * (k - len(x)) for i, x in enumerate(lists)], np.int64)
    return table, np.array([len(x) for x in lists], np.int64)


def _circular_distance(a, b):
    d = np.abs(a - b) % 1.0
    return np.minimum(d, 1.0 - d)


def resonance_moves(model, near=NEAR, resonant_fraction=0.75, pair_fraction=0.5):
    """Metropolis-Hastings moves that create, destroy and carry near-resonances.

    Deep in the tail an avalanching potential owes its avalanche to a few near-resonant
    bonds around the grain (|V_n - V_m| ~ t, docs/rare_avalanches.md); which bonds they
    are is the potential's *family*, and moves that only shift sites (pCN, the local
    shifts of :func:`lattice_moves`) rarely change it. In u = Phi(z) (uniform prior on
    [0, 1) per site; a resonance is a small circular distance |u_n - u_m|) these moves
    redraw sites near the grain from a law that favours resonances with a neighbour:

    * single site (probability 1 - ``pair_fraction``): site n (3/4 of them among
      d <= ``near``; chosen independently of the state) gets u_n' from
      h(x) = 1 - e + e / |nb(n)| sum_{m in nb(n)} 1{|x - u_m| < w} / (2 w), e =
      ``resonant_fraction``: uniform, or within w of a random neighbour's u_m;
    * pair (probability ``pair_fraction``): a bond (n, m) (n as above, m a random
      neighbour) is redrawn jointly from h2(a, b) = 1 - e + e 1{|a - b| < w} / (2 w):
      u_m' uniform, u_n' within w of it or uniform -- the resonance moves to another
      energy, or is dissolved.

    The width w = 2^-j (j uniform in :data:`RESONANCE_SCALES`) is drawn independently
    of the state. The neighbours' u stay fixed, so the Metropolis-Hastings factor of
    the uniform prior is h(u_n) / h(u_n') (single) or h2(u_n, u_m) / h2(u_n', u_m')
    (pair); its coin is folded into ``valid``, so every proposal is reversible for the
    prior and subset simulation accepts it iff valid and inside the level set.

    Args:
        model: a model with bonds and geometry (an int R: the paper's lattice).
        near: shells d <= near receive 3/4 of the moves.
        resonant_fraction: e, the weight of the resonant part of the proposal law.
        pair_fraction: probability of a pair move.

    Returns:
        propose(z, sigma, *, key) -> :class:`~jaxmf.analysis.rare.subset.Proposal`
        (sigma unused; no proposal is marked ``scaled``).
    """
    model = as_model(model)
    d = shells(model)
    table, count = _neighbours(model)
    check_int("near", near, 0)
    for name, x in (("resonant_fraction", resonant_fraction), ("pair_fraction", pair_fraction)):
        if not 0.0 <= float(x) <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {x!r}")
    e = float(resonant_fraction)
    sites_ok = count > 0
    if not sites_ok.any():
        raise ValueError(f"model {model.name!r} has no bonds: resonance moves need neighbours")
    near_mask = (d <= near) & sites_ok
    w = np.where(near_mask, 0.75 / max(1, near_mask.sum()), 0.25 / max(1, (~near_mask).sum()))
    w = np.where(sites_ok, w, 0.0)
    w = w / w.sum()
    lo, hi = RESONANCE_SCALES

    def h(x, anchors, n_anchor, width):  # single-site proposal density at x
        hit = _circular_distance(x[:, None], anchors) < width[:, None]
        valid = np.arange(anchors.shape[1])[None, :] < n_anchor[:, None]
        return 1.0 - e + e * np.sum(hit & valid, axis=1) / (n_anchor * 2.0 * width)

    def h2(a, b, width):
        return 1.0 - e + e * (_circular_distance(a, b) < width) / (2.0 * width)

    def propose(z, sigma, *, key):
        del sigma
        m = len(z)
        rows = np.arange(m)
        k = jax.random.split(key, 8)
        site = np.asarray(jax.random.choice(k[0], model.N, (m,), p=jnp.asarray(w)))
        pair = np.asarray(jax.random.uniform(k[1], (m,))) < pair_fraction
        width = 2.0 ** -np.asarray(jax.random.randint(k[2], (m,), lo, hi + 1)).astype(float)
        resonant = np.asarray(jax.random.uniform(k[3], (m,))) < e
        pick = np.floor(np.asarray(jax.random.uniform(k[4], (m,))) * count[site]).astype(int)
        partner = table[site, pick]
        fresh = np.asarray(jax.random.uniform(k[5], (m, 2), jnp.float64))
        offset = (2.0 * np.asarray(jax.random.uniform(k[6], (m,), jnp.float64)) - 1.0) * width
        coin = np.asarray(jax.random.uniform(k[7], (m,), jnp.float64))

        u = scipy.special.ndtr(z)
        un, um = u[rows, site], u[rows, partner]
        # pair: the partner is redrawn too; single: the partner is only the anchor
        um_new = np.where(pair, fresh[:, 1], um)
        un_new = np.where(resonant, np.mod(um_new + offset, 1.0), fresh[:, 0])
        anchors = u[rows[:, None], table[site]]
        n_anchor = count[site]
        log_r = np.where(
            pair,
            np.log(h2(un, um, width)) - np.log(h2(un_new, um_new, width)),
            np.log(h(un, anchors, n_anchor, width)) - np.log(h(un_new, anchors, n_anchor, width)),
        )
        out = np.array(z, float)
        clip = (1e-300, 1.0 - 1e-16)
        out[rows, site] = scipy.special.ndtri(np.clip(un_new, *clip))
        out[rows, partner] = np.where(
            pair, scipy.special.ndtri(np.clip(um_new, *clip)), out[rows, partner]
        )
        accept = np.log(np.maximum(coin, 1e-300)) < log_r
        return subset.Proposal(out, accept, np.zeros(m, bool))

    return propose


def cluster_moves(model, near=NEAR, grain_fraction=0.5):
    """Moves that carry a resonant cluster through the band: a joint shift of the sites
    connected to a seed site by near-resonant bonds.

    The score depends on the potential through its near-resonances (it is unchanged by a
    common shift of all V_n), so a cluster of mutually resonant sites can sit anywhere in
    the band. The block shifts of :func:`lattice_moves` move a whole ball around the
    grain, which breaks the ball's relations with its surroundings; these moves shift
    exactly the cluster. In u = Phi(z) (uniform prior on the circle [0, 1)):

    * a seed site s (the grain's site d = 0 with probability ``grain_fraction``, else 3/4 of
      the draws among d <= ``near``) and a width w = 2^-j (j uniform in
      :data:`RESONANCE_SCALES`) are drawn independently of the state;
    * the cluster C is the connected component of s in the graph of bonds with circular
      distance |u_n - u_m| < w;
    * every site of C is rotated, u_n' = u_n + delta mod 1, delta = 2^-k xi / 2 (k
      uniform in 0 .. :data:`CLUSTER_STEPS` - 1, xi ~ N(0, 1)).

    The proposal is valid iff the cluster of s in the new state is C again (no bond from
    C to its outside closer than w). Then the reverse move (same s and w, -delta) is as
    likely as the move, and a rotation keeps the uniform prior, so the kernel is
    reversible for the prior restricted to any level; an invalid proposal is a
    rejection. Without that check, clusters would absorb every site they meet and the
    chain would pile up on resonant bonds.

    Args:
        model: a model with bonds and geometry (an int R: the paper's lattice).
        near: shells d <= near receive 3/4 of the seeds not at the grain.
        grain_fraction: probability that the seed is the grain's site (d = 0).

    Returns:
        propose(z, sigma, *, key) -> :class:`~jaxmf.analysis.rare.subset.Proposal`
        (sigma unused; no proposal is marked ``scaled``).
    """
    model = as_model(model)
    d = shells(model)
    table, count = _neighbours(model)
    check_int("near", near, 0)
    if not 0.0 <= float(grain_fraction) <= 1.0:
        raise ValueError(f"grain_fraction must lie in [0, 1], got {grain_fraction!r}")
    if not (count > 0).any():
        raise ValueError(f"model {model.name!r} has no bonds: cluster moves need neighbours")
    near_mask = d <= near
    w = np.where(near_mask, 0.75 / near_mask.sum(), 0.25 / max(1, (~near_mask).sum()))
    w = w / w.sum()
    grain = d == 0
    w = (1.0 - grain_fraction) * w + grain_fraction * grain / grain.sum()
    real = np.arange(table.shape[1])[None, :] < count[:, None]  # (N, k) true neighbours
    lo, hi = RESONANCE_SCALES

    def resonant(u, width):  # (m, N, k): bond (n, table[n, j]) closer than width
        return real[None] & (_circular_distance(u[:, :, None], u[:, table]) < width[:, None, None])

    def component(u, seed, width):
        edges = resonant(u, width)
        inside = np.arange(model.N)[None, :] == seed[:, None]
        while True:
            grown = inside | np.any(edges & inside[:, table], axis=2)
            if np.array_equal(grown, inside):
                return inside
            inside = grown

    def propose(z, sigma, *, key):
        del sigma
        m = len(z)
        k = jax.random.split(key, 4)
        seed = np.asarray(jax.random.choice(k[0], model.N, (m,), p=jnp.asarray(w)))
        width = 2.0 ** -np.asarray(jax.random.randint(k[1], (m,), lo, hi + 1)).astype(float)
        step = 2.0 ** -np.asarray(jax.random.randint(k[2], (m,), 0, CLUSTER_STEPS))
        delta = 0.5 * step * np.asarray(jax.random.normal(k[3], (m,), jnp.float64))
        u = scipy.special.ndtr(z)
        inside = component(u, seed, width)
        un = np.where(inside, np.mod(u + delta[:, None], 1.0), u)
        # valid iff no bond from the cluster to its outside becomes resonant
        leaving = inside[:, :, None] & ~inside[:, table] & real[None]
        ok = ~np.any(leaving & resonant(un, width), axis=(1, 2))
        clip = (1e-300, 1.0 - 1e-16)
        out = np.where(inside & ok[:, None], scipy.special.ndtri(np.clip(un, *clip)), z)
        return subset.Proposal(out, ok, np.zeros(m, bool))

    return propose


def proposal(model, moves="lattice"):
    """The ``propose`` callable of move set ``moves`` (one of :data:`MOVES`) for a model:
    :func:`lattice_moves` (``"lattice"``), plain pCN (``"pcn"``; it gets stuck below
    f ~ 1e-7 at R = 10, docs/rare_avalanches.md), lattice moves mixed 50/50 with
    :func:`resonance_moves` (``"resonance"``), pCN mixed 50/50 with them
    (``"resonance-pcn"``), or lattice, resonance and :func:`cluster_moves` in thirds
    (``"cluster"``)."""
    check_choice("moves", moves, MOVES)
    if moves == "pcn":
        return subset.pcn
    if moves == "resonance":
        return _either(lattice_moves(model), resonance_moves(model))
    if moves == "resonance-pcn":
        return _either(subset.pcn, resonance_moves(model))
    if moves == "cluster":
        both = _either(resonance_moves(model), cluster_moves(model))
        return _either(lattice_moves(model), both, fraction=2.0 / 3.0)
    return lattice_moves(model)


def _either(first, second, fraction=0.5):
    """Per proposal, ``second`` with probability ``fraction`` (independent of the state),
    else ``first``. Both are drawn for every row and one is kept: cheap moves only
    (unlike :func:`~jaxmf.analysis.rare.guided.mixture`, which calls each kernel on its
    rows alone), with fixed shapes for JAX's random functions (no recompilation)."""

    def propose(z, sigma, *, key):
        k0, k1, k2 = jax.random.split(key, 3)
        a, b = first(z, sigma, key=k1), second(z, sigma, key=k2)
        pick = np.asarray(jax.random.uniform(k0, (len(z),))) < fraction
        scaled = [
            p[2] if len(p) > 2 and p[2] is not None else np.ones(len(z), bool) for p in (a, b)
        ]
        return subset.Proposal(
            np.where(pick[:, None], b[0], a[0]),
            np.where(pick, b[1], a[1]),
            np.where(pick, scaled[1], scaled[0]),
        )

    return propose
