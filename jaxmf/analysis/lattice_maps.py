"""Spatial analysis of model solutions: entropy maps and collars (eq. 20).

Any model with geometry and orbitals (:class:`jaxmf.models.TightBinding`: the paper's
2D lattice, the 1D chain, the 3D lattice, a user's model); distances are the model's
own distances to the grain (bonds; |n1| + |n2| on the paper's lattice).

A failed avalanche thermalizes the orbitals near the grain and leaves a partially
thermal collar. :func:`entropy_map` places each orbital's [S] on the site the paper's
assignment rule gives it; :func:`collar_radius` is the radius beyond which the l-bits
are only perturbatively dressed (eq. 20); :func:`failed_collar_radii` collects it over
realizations. Full eigenvectors are needed (dense ``eigh``), so these run on the host.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_finite, check_nonnegative
from ..meanfield import avalanches, mean_entropies, n_thermal, solve
from ..models import QPPhase, RandomKey, as_model, assign_orbitals, check_realization

__all__ = ["collar_radius", "EntropyMap", "entropy_map", "CollarRadii", "failed_collar_radii"]


def collar_radius(g, radii, eta_tot, *, d_g=8, eps=0.1):
    """Collar radius of a failed avalanche (eq. 20).

    The bubble has dimension d = d_g exp(eta_tot); l-bits outside radius R_c are only
    perturbatively corrected if sum_{|n| > R_c} g_n << 1 / d. Returns the smallest R_c
    in {0} U {radii} with sum_{radii_n > R_c} g_n <= eps / d (compared in log space, so
    large eta_tot does not overflow). Distances are lattice (L1) radii |n1| + |n2|, the
    same norm that defines the system radius R.

    Args:
        g: (..., N) dressed couplings g_n = g_{n,0} exp(eta_tot / 2) (eq. 11).
        radii: (..., N) or (N,) distance of each orbital from the origin, e.g. from
            :func:`orbital_radii`.
        eta_tot: (...,) total entropic enhancement (eq. 14).
        d_g: grain dimension (default 8).
        eps: tolerance replacing "<<" (default 0.1).

    Returns:
        (...,) collar radius R_c (same dtype as radii, promoted to float).

    Raises:
        ValueError: for negative or NaN ``g`` or ``radii``, non-finite ``eta_tot``, or
            ``d_g``, ``eps`` outside (0, inf) (checked when the values are concrete).
    """
    check_nonnegative("g (dressed couplings)", g)
    check_nonnegative("radii", radii)
    check_finite("eta_tot", eta_tot)
    check_nonnegative("d_g (grain dimension)", d_g, strictly_positive=True, finite=True)
    check_nonnegative("eps", eps, strictly_positive=True, finite=True)
    g = jnp.asarray(g, jnp.float64)
    radii = jnp.broadcast_to(jnp.asarray(radii, jnp.float64), g.shape)
    order = jnp.argsort(radii, axis=-1)
    r = jnp.take_along_axis(radii, order, axis=-1)
    gs = jnp.take_along_axis(g, order, axis=-1)
    # tail[j] = sum_{i >= j} g_sorted[i]; the sum outside radius r[j] starts at the first
    # index with a radius > r[j] (ties are inside).
    tail = jnp.concatenate(
        [jnp.cumsum(gs[..., ::-1], axis=-1)[..., ::-1], jnp.zeros(g.shape[:-1] + (1,))], axis=-1
    )
    first_out = jax.vmap(functools.partial(jnp.searchsorted, side="right"))(
        r.reshape(-1, r.shape[-1]), r.reshape(-1, r.shape[-1])
    ).reshape(r.shape)
    outside = jnp.take_along_axis(tail, first_out, axis=-1)
    log_threshold = jnp.log(eps) - jnp.log(d_g) - jnp.asarray(eta_tot, jnp.float64)[..., None]
    ok = jnp.log(outside) <= log_threshold
    ok_at_zero = jnp.log(jnp.sum(jnp.where(radii > 0, g, 0.0), axis=-1)) <= log_threshold[..., 0]
    best = jnp.min(jnp.where(ok, r, jnp.inf), axis=-1)
    return jnp.where(ok_at_zero, 0.0, best)


# --------------------------------------------------------------------------- maps
class EntropyMap(NamedTuple):
    """Mean-field solution of one realization with its orbitals placed on sites.

    Attributes:
        sites: (N, d) site positions (the model's site order).
        entropy: (N,) [S] (nats) of the orbital labelled by each site (A13).
        radius: (N,) distance of each site to the grain (|n1| + |n2| on the lattices).
        site_of: (N,) site index of each orbital (ascending energy), from
            :func:`assign_orbitals`.
        g: (N,) dressed couplings per orbital (ascending energy).
        eta_tot: total enhancement (eq. 14).
        avalanche: eta_tot > N log 2 / 2 (eq. 19).
        n_thermal: n* = sum_n [S_n] / log 2.
        collar: collar radius R_c (eq. 20) with the default d_g = 8, eps = 0.1
            (meaningful for a failed avalanche).
    """

    sites: np.ndarray
    entropy: np.ndarray
    radius: np.ndarray
    site_of: np.ndarray
    g: np.ndarray
    eta_tot: float
    avalanche: bool
    n_thermal: float
    collar: float


def _geometric(model) -> Any:  # duck-typed: a model with geometry and orbitals
    model = as_model(model)
    if model.geometry is None or not hasattr(model, "orbitals"):
        raise ValueError(
            f"model {model.name!r} has no geometry and orbitals (maps need a tight-binding model)"
        )
    return model


def _orbital_radii(model, phi, how):
    r = np.asarray(model.geometry.distance)
    if how == "assignment":
        return r[assign_orbitals(phi)]
    if how == "centre":
        return np.abs(np.asarray(phi)) ** 2 @ r
    raise ValueError(f"how must be 'assignment' or 'centre', got {how!r}")


def entropy_map(model, W, *, realization, g0=1.0, dist="goe"):
    """[S_n] of one realization on the model's sites (the paper's entropy maps).

    Orbitals from dense ``eigh`` (all eigenvectors are needed for the labelling), bare
    couplings g0 |phi_k(0)| (eq. 18), the mean-field solution, and each orbital placed on
    the site given by the assignment rule (:func:`assign_orbitals`). Host-side.

    Args:
        model: a model with geometry (an int R: the paper's lattice).
        W: potential strength >= 0.
        realization: :class:`~jaxmf.models.QPPhase` or :class:`~jaxmf.models.RandomKey`.
        g0: grain coupling scale >= 0.
        dist: ptilde family for eta and [S].

    Returns:
        :class:`EntropyMap`.
    """
    model = _geometric(model)
    check_nonnegative("g0", g0, finite=True)
    _, phi = model.orbitals(W, realization)
    phi = np.asarray(phi)
    res = solve(float(g0) * np.abs(phi[:, model.geometry.grain]), dist)
    site_of = assign_orbitals(phi)
    s = model.geometry.positions
    entropy = np.empty(len(s))
    entropy[site_of] = np.asarray(mean_entropies(res, dist))
    radius = np.asarray(model.geometry.distance)
    collar = collar_radius(res.g, radius[site_of], res.eta_tot)
    return EntropyMap(
        s,
        entropy,
        radius,
        site_of,
        np.asarray(res.g),
        float(res.eta_tot),
        bool(avalanches(res)),
        float(n_thermal(res, dist)),
        float(collar),
    )


class CollarRadii(NamedTuple):
    """Collar radii of a set of realizations (eq. 20), each field (M,).

    Attributes:
        collar: collar radius R_c; NaN where the realization avalanches.
        eta_tot: total enhancement (eq. 14).
        avalanche: the avalanche flag (eq. 19).
        n_thermal: n* = sum_n [S_n] / log 2.
    """

    collar: np.ndarray
    eta_tot: np.ndarray
    avalanche: np.ndarray
    n_thermal: np.ndarray


def failed_collar_radii(
    model, W, *, realizations, g0=1.0, dist="goe", d_g=8, eps=0.1, how="assignment"
):
    """Collar radius (eq. 20) of a set of realizations; NaN where they avalanche.

    For each realization: orbitals by dense ``eigh``, orbital radii (distance to the
    grain of the assigned site, or the orbital's mean distance), the mean-field solution
    and :func:`collar_radius`. A collar is only meaningful for a failed avalanche, so
    avalanching realizations give NaN. Host loop over realizations (the assignment is
    not jittable).

    Args:
        model, W, g0, dist: as in :func:`entropy_map`.
        realizations: a batch of realizations, ``QPPhase(theta0 (M,))`` or
            ``RandomKey(keys (M,))``.
        d_g, eps: see :func:`collar_radius`.
        how: orbital radius rule, "assignment" (the paper's labelling) or "centre".

    Returns:
        :class:`CollarRadii`.
    """
    model = _geometric(model)
    if check_realization(model, realizations) == "qp":
        batch = [QPPhase(t) for t in np.atleast_1d(np.asarray(realizations.theta0, float))]
    else:
        batch = [RandomKey(k) for k in realizations.key]
    if how not in ("assignment", "centre"):
        raise ValueError(f"how must be 'assignment' or 'centre', got {how!r}")
    out = {"collar": [], "eta_tot": [], "avalanche": [], "n_thermal": []}
    for real in batch:
        _, phi = model.orbitals(W, real)
        phi = np.asarray(phi)
        res = solve(float(g0) * np.abs(phi[:, model.geometry.grain]), dist)
        aval = bool(avalanches(res))
        rc = collar_radius(res.g, _orbital_radii(model, phi, how), res.eta_tot, d_g=d_g, eps=eps)
        out["collar"].append(np.nan if aval else float(rc))
        out["eta_tot"].append(float(res.eta_tot))
        out["avalanche"].append(aval)
        out["n_thermal"].append(float(n_thermal(res, dist)))
    return CollarRadii(**{k: np.asarray(v) for k, v in out.items()})
