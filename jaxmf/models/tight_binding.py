"""Tight-binding models from data: a grain coupled to free fermions on any graph.

Generalises the paper's 2D model (Sec. VII, eq. 15-18) to any set of sites and bonds:

    H = sum_<n m> t_nm (c_n^+ c_m + h.c.) + sum_n W v(theta_n) c_n^+ c_n
    g_{k,0} = g0 |phi_k(grain)|                                           (18)

with sites at integer positions n in d dimensions, bonds with hopping t (default 1),
the grain coupled to one site, and a unit-amplitude potential v of a phase
(:mod:`jaxmf.models.potentials`):

* quasiperiodic (:class:`~jaxmf.models.contract.QPPhase`): theta_n = q . n + theta0;
* random (:class:`~jaxmf.models.contract.RandomKey`): theta_n iid uniform on [0, 2 pi).

The spectral routes of :mod:`jaxmf.models.spectral` need the grain first and a banded
matrix: the model reorders its sites once (``ordering="auto"``:
:func:`~jaxmf.models.spectral.banded_ordering`, its half-bandwidth in
:attr:`TightBinding.bandwidth`), or keeps the given order (``ordering="given"``, grain
at index 0; the paper's lattice keeps its diagonal-row fold, bandwidth 2R + 2).
Potentials, Hamiltonians and orbitals are in the model's *site order* (the order of
``sites``); the reordering is internal.
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
import scipy.sparse
import scipy.sparse.csgraph

from .._checks import check_nonnegative, nan_where_invalid
from .._config import require_x64
from . import spectral
from .contract import Geometry, Model, check_realization
from .potentials import as_potential

__all__ = ["TightBinding", "assign_orbitals", "nearest_neighbour_bonds"]


class TightBinding(Model):
    """A grain coupled to one site of a tight-binding model (the contract of
    :mod:`jaxmf.models.contract`).

    Args:
        sites: (N, d) integer site positions n.
        bonds: (M, 2) pairs of site indices (each bond once).
        grain: index of the site the grain couples to.
        hopping: scalar or (M,) hopping amplitudes (default 1).
        potential: a name ("triangle", "cosine"), a
            :class:`~jaxmf.models.potentials.Potential` or a callable v(theta).
        q: (d,) quasiperiodic wave vector; None: random realizations only.
        name: the model's name (in its spec).
        R: size label (e.g. the radius), or None.
        ordering: "auto" (banded order computed from the grain) or "given" (the site
            order is already banded with the grain at index 0).
        spec_extra: JSON-able entries that identify the model compactly (the built-in
            lattices give their name, R and potential); without it the spec carries a
            hash of sites, bonds, hopping, grain and q.
    """

    def __init__(
        self,
        sites,
        bonds,
        *,
        grain=0,
        hopping=1.0,
        potential="triangle",
        q=None,
        name="tight-binding",
        R=None,
        ordering="auto",
        spec_extra=None,
    ):
        sites = np.array(sites)
        if sites.ndim == 1:
            sites = sites[:, None]
        if sites.ndim != 2 or len(sites) < 1:
            raise ValueError(f"sites must have shape (N, d) with N >= 1, got {sites.shape}")
        n = len(sites)
        bonds = np.asarray(bonds, np.int64).reshape(-1, 2)
        if len(bonds) and (
            bonds.min() < 0 or bonds.max() >= n or np.any(bonds[:, 0] == bonds[:, 1])
        ):
            raise ValueError(f"bonds must join two different sites in [0, {n})")
        if (
            isinstance(grain, bool)
            or not isinstance(grain, (int, np.integer))
            or not (0 <= grain < n)
        ):
            raise ValueError(f"grain must be a site index in [0, {n}), got {grain!r}")
        hopping = np.broadcast_to(np.asarray(hopping, np.float64), (len(bonds),)).copy()
        if not np.all(np.isfinite(hopping)):
            raise ValueError("hopping must be finite")
        self.potential = as_potential(potential)
        self.q = None if q is None else np.asarray(q, np.float64).reshape(sites.shape[1])
        self.name, self.N, self.R = str(name), n, R
        self.kinds = ("qp", "random") if self.q is not None else ("random",)
        sites.flags.writeable = False
        self.sites, self.bonds, self.hopping, self.grain = sites, bonds, hopping, int(grain)

        if ordering == "given":
            if grain != 0:
                raise ValueError("ordering='given' needs the grain at site index 0")
            order = np.arange(n)
        elif ordering == "auto":
            order, _ = spectral.banded_ordering(n, bonds, grain)
        else:
            raise ValueError(f"ordering must be 'auto' or 'given', got {ordering!r}")
        self.order = order  # order[i] = site at banded position i
        self._identity = bool(np.array_equal(order, np.arange(n)))
        position = np.empty(n, np.int64)
        position[order] = np.arange(n)
        inner = np.sort(position[bonds], axis=-1) if len(bonds) else bonds
        self.band = spectral.Band(n, inner, hopping)
        self.bandwidth = self.band.bandwidth

        self.geometry = Geometry(sites, self.grain, _graph_distance(n, bonds, self.grain))
        self._spec = (
            dict(spec_extra)
            if spec_extra is not None
            else {
                "model": "tight-binding",
                "name": self.name,
                "N": n,
                "data_sha256": self._data_hash(),
            }
        )
        self._spec.setdefault("N", n)
        self._spec.setdefault("potential", self.potential.name)

    def _data_hash(self):
        h = hashlib.sha256()
        for a in (
            self.sites.astype(np.int64),
            self.bonds,
            self.hopping,
            np.asarray([self.grain]),
            np.zeros(0) if self.q is None else self.q,
        ):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def spec(self):
        return dict(self._spec)

    # ------------------------------------------------------------------ potentials
    def angles(self, realization):
        """Phases theta_n (N,) in site order: q . n + theta0 (QP) or iid uniform
        [0, 2 pi) drawn from the key (random)."""
        if check_realization(self, realization) == "qp":
            return jnp.asarray(self.sites @ self.q) + jnp.asarray(realization.theta0, jnp.float64)
        return jax.random.uniform(realization.key, (self.N,), jnp.float64, 0.0, 2.0 * np.pi)

    def potential_values(self, W, realization):
        """On-site potential V_n = W v(theta_n), (N,) in site order."""
        check_nonnegative("W", W, finite=True)
        return jnp.asarray(W, jnp.float64) * self.potential.v(self.angles(realization))

    def potential_from_uniform(self, u, W):
        """V with the random law of this model from uniforms u (..., N) in [0, 1]:
        W times the potential's quantile function (rare-event sampling)."""
        if self.potential.quantile is None:
            raise ValueError(
                f"potential {self.potential.name!r} has no quantile function; "
                "rare-event sampling needs one"
            )
        return W * self.potential.quantile(u)

    def hamiltonian(self, V):
        """(N, N) dense H = T + diag(V) in site order, for V (N,) in site order."""
        H = self.band.dense(jnp.asarray(V, jnp.float64)[self.order])
        if self._identity:
            return H
        position = np.empty(self.N, np.int64)
        position[self.order] = np.arange(self.N)
        return H[np.ix_(position, position)]

    # ------------------------------------------------------------------ spectra
    def spectrum(self, V, *, method="auto"):
        """Energies and grain amplitudes |phi_k(grain)| for potential V (N,) in site
        order (see :func:`jaxmf.models.spectral.grain_spectrum`)."""
        V = jnp.asarray(V, jnp.float64)
        return spectral.grain_spectrum(V if self._identity else V[self.order], self.band, method)

    def orbitals(self, W, realization):
        """(energies, phi): (N,) ascending energies and (N, N) orbitals, phi[k, i] the
        amplitude of orbital k on site i (site order), by dense ``eigh``."""
        energies, vectors = jnp.linalg.eigh(self.hamiltonian(self.potential_values(W, realization)))
        return energies, vectors.T

    def couplings(self, W, g0, realization, *, method="auto"):
        """Bare couplings g0 |phi_k(grain)| (eq. 18), (N,), ordered by energy.

        Eager calls check W, g0 and the realization; under jit an invalid W or g0 gives
        NaN couplings."""
        check_nonnegative("g0", g0, finite=True)
        _, amplitudes = self.spectrum(self.potential_values(W, realization), method=method)
        g0 = jnp.asarray(g0, jnp.float64)
        W = jnp.asarray(W, jnp.float64)
        valid = (g0 >= 0) & jnp.isfinite(g0) & (W >= 0) & jnp.isfinite(W)
        return nan_where_invalid(g0 * amplitudes, valid)

    def couplings_from_potential(self, V, *, g0=1.0, method="auto"):
        """Bare couplings (..., N) for explicit potentials V (..., N) in site order."""
        require_x64()
        check_nonnegative("g0", g0, finite=True)
        V = jnp.asarray(V, jnp.float64)
        if V.ndim < 1 or V.shape[-1] != self.N:
            raise ValueError(f"V must have shape (..., N) with N = {self.N}, got {V.shape}")

        def f(v):
            return self.spectrum(v, method=method)[1]

        for _ in range(V.ndim - 1):
            f = jax.vmap(f)
        g0 = jnp.asarray(g0, jnp.float64)
        valid = (g0 >= 0) & jnp.isfinite(g0) & jnp.all(jnp.isfinite(V), axis=-1)[..., None]
        return nan_where_invalid(g0 * f(V), valid)


def _graph_distance(n, bonds, grain):
    a = scipy.sparse.coo_matrix(
        (np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n, n)
    ).tocsr()
    d = scipy.sparse.csgraph.shortest_path(a, unweighted=True, indices=grain, directed=False)
    out = np.where(np.isfinite(d), d, -1).astype(np.int64)
    out.flags.writeable = False
    return out


def assign_orbitals(phi):
    """Label orbitals by sites: maximise prod_k |phi[k, site_k]| over permutations.

    The rule of the paper (text after eq. 16), solved as a linear assignment on
    -log|phi| (scipy's ``linear_sum_assignment``). Host-side (not jittable).

    Args:
        phi: (N, N) orbitals, phi[k, i] = amplitude of orbital k on site i.

    Returns:
        (N,) int permutation ``site_of`` with orbital k labelled by site site_of[k].
        To map per-orbital values x to sites: ``x_site = np.empty(N); x_site[site_of] = x``.
    """
    amp = np.abs(np.asarray(phi, np.float64))
    if amp.ndim != 2 or amp.shape[0] != amp.shape[1]:
        raise ValueError(f"phi must be a square (N, N) matrix, got shape {amp.shape}")
    cost = -np.log(np.maximum(amp, np.finfo(np.float64).tiny))
    rows, cols = scipy.optimize.linear_sum_assignment(cost)
    site_of = np.empty(len(rows), dtype=np.int64)
    site_of[rows] = cols
    return site_of


def nearest_neighbour_bonds(sites):
    """Bonds (i, j), i < j, between integer sites one unit step apart.

    Args:
        sites: (N, d) integer positions.

    Returns:
        (M, 2) int array, sorted.
    """
    sites = np.asarray(sites, np.int64)
    if sites.ndim == 1:
        sites = sites[:, None]
    index = {tuple(s): i for i, s in enumerate(sites.tolist())}
    pairs = []
    for axis in range(sites.shape[1]):
        step = np.zeros(sites.shape[1], np.int64)
        step[axis] = 1
        for i, s in enumerate((sites + step).tolist()):
            j = index.get(tuple(s))
            if j is not None:
                pairs.append((min(i, j), max(i, j)))
    return np.asarray(sorted(pairs), np.int64).reshape(-1, 2)
