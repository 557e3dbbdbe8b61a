"""Gradient-guided Markov moves inside a level set {s(z) <= b} of subset simulation.

The score s = log g0_c is a differentiable function of the Gaussian variables z (the
exact fold, :mod:`jaxmf.critical`, through the lattice spectrum). Deep in the tail the
level sets are thin in a few directions -- the sites whose resonances make the
avalanche -- and wide in all others. :func:`guided_moves` is a pCN proposal split along
the unit normal n(z) = grad s / |grad s| of the level surface through the current state:
a pCN step of size sigma across the surface's tangent directions and one of size
kappa sigma along n,

    z' = rho z + (rho_n - rho) (n.z) n + sigma (xi - (1 - kappa) (n.xi) n),
    rho = sqrt(1 - sigma^2),  rho_n = sqrt(1 - kappa^2 sigma^2),  xi ~ N(0, I),

so the chain travels along the surface and only creeps across it (a plain pCN step
would also contract the component along n by rho, which leaves a half-space at once).
The proposal is not symmetric (n depends on the state), so the move is a full
Metropolis-Hastings step for the prior N(0, I):

    log r = -|z'|^2 / 2 + |z|^2 / 2 + log q(z | z') - log q(z' | z),

accepted with probability min(1, r) and only if s(z') <= b (the chain of
:func:`~jaxmf.analysis.rare.subset.run`). Hence the kernel is reversible for the prior
restricted to the level set, for any kappa (kappa = 1 is plain pCN, r = 1). The
Metropolis coin is drawn inside the proposal (a rejected coin marks the proposal
invalid), the level-set test stays in :func:`~jaxmf.analysis.rare.subset.run`.

:func:`mixture` chooses among kernels per proposal, independently of the state, so a
mixture of reversible kernels (these moves and the local lattice moves of
:func:`~jaxmf.analysis.rare.moves.lattice_moves`) is reversible too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import check_radius
from . import subset
from .critical import critical_log_g0, potential_from_gaussian

__all__ = ["guided_moves", "mixture", "lattice_score_gradient", "lattice_guided_moves"]


def _unit_normals(grad):
    norm = np.linalg.norm(grad, axis=1, keepdims=True)
    ok = np.isfinite(norm) & (norm > 0)
    return np.where(ok, grad / np.where(ok, norm, 1.0), 0.0)


def _mean(z, n, rho, rho_n):
    return rho * z + (rho_n - rho) * np.sum(z * n, axis=1, keepdims=True) * n


def _log_q(to, frm, n, sigma, rho, rho_n, kappa):
    """log q(to | frm) up to a constant shared by every state (det cov is the same)."""
    d = to - _mean(frm, n, rho, rho_n)
    along = np.sum(d * n, axis=1)
    return -0.5 * (np.sum(d * d, axis=1) + (kappa**-2 - 1.0) * along**2) / sigma**2


def guided_moves(gradient: Callable, *, kappa: float = 0.3) -> Callable:
    """Metropolis-Hastings pCN moves squeezed along the normal of the level surface.

    Args:
        gradient: (m, d) float64 array -> (m, d) gradients of the score at those states
            (a zero or non-finite gradient gives an isotropic pCN step there).
        kappa: step across the surface relative to the step along it, in (0, 1].

    Returns:
        propose(z, sigma, *, key) -> :class:`~jaxmf.analysis.rare.subset.Proposal`
        for :func:`~jaxmf.analysis.rare.subset.run`; ``valid`` carries the outcome of
        the Metropolis-Hastings coin, ``scaled`` is True (sigma adapts on these moves).
    """
    kappa = float(kappa)
    if not 0.0 < kappa <= 1.0:
        raise ValueError(f"kappa must lie in (0, 1], got {kappa!r}")

    def propose(z, sigma, *, key):
        z = np.asarray(z, float)
        m = len(z)
        sigma = min(float(sigma), 0.999)
        rho, rho_n = np.sqrt(1.0 - sigma**2), np.sqrt(1.0 - (kappa * sigma) ** 2)
        k1, k2 = jax.random.split(key)
        xi = np.asarray(jax.random.normal(k1, z.shape, jnp.float64))
        n = _unit_normals(np.asarray(gradient(z)))
        zp = _mean(z, n, rho, rho_n) + sigma * (
            xi - (1.0 - kappa) * np.sum(xi * n, axis=1, keepdims=True) * n
        )
        n_p = _unit_normals(np.asarray(gradient(zp)))
        q = (sigma, rho, rho_n, kappa)
        log_r = (
            0.5 * (np.sum(z * z, axis=1) - np.sum(zp * zp, axis=1))
            + _log_q(z, zp, n_p, *q)
            - _log_q(zp, z, n, *q)
        )
        u = np.asarray(jax.random.uniform(k2, (m,), jnp.float64))
        return subset.Proposal(zp, np.log(u) < log_r, np.ones(m, bool))

    return propose


def mixture(kernels, weights) -> Callable:
    """Per proposal, kernel j with probability weights[j] (independent of the state).

    Args:
        kernels: ``propose`` callables of :func:`~jaxmf.analysis.rare.subset.run`.
        weights: their probabilities (normalized here).
    """
    w = np.asarray(weights, float)
    if len(kernels) != len(w) or len(w) == 0 or np.any(w < 0) or w.sum() <= 0:
        raise ValueError("mixture needs one weight >= 0 per kernel, not all 0")
    w = w / w.sum()

    def propose(z, sigma, *, key):
        m = len(z)
        kc, *ks = jax.random.split(key, len(kernels) + 1)
        which = np.asarray(jax.random.choice(kc, len(kernels), (m,), p=jnp.asarray(w)))
        out_z, valid, scaled = np.array(z, float), np.zeros(m, bool), np.zeros(m, bool)
        for j, (kern, k) in enumerate(zip(kernels, ks)):
            sel = which == j
            if not sel.any():
                continue
            p = kern(z[sel], sigma, key=k)
            out_z[sel] = p[0]
            valid[sel] = p[1]
            sc = p[2] if len(p) > 2 and p[2] is not None else np.ones(int(sel.sum()), bool)
            scaled[sel] = sc
        return subset.Proposal(out_z, valid, scaled)

    return propose


@functools.cache
def _lattice_gradient(R, dist, method, bracket):
    def one(z, W):
        return critical_log_g0(
            potential_from_gaussian(z, W), R, dist=dist, method=method, bracket=bracket
        ).log_scale

    return jax.jit(jax.vmap(jax.grad(one), in_axes=(0, None)))


def lattice_score_gradient(
    R, W, *, dist="goe", method="eigh", bracket=(-20.0, 20.0), chunk=50
) -> Callable:
    """z -> grad_z log g0_c(V(z)) for the lattice of radius R at disorder W, (m, N) ->
    (m, N) numpy (exact: the fold's implicit derivative through the spectrum;
    ``method="eigh"``, the dense route, is the one differentiated here)."""
    check_radius(R)
    g = _lattice_gradient(int(R), dist, method, tuple(float(b) for b in bracket))

    def gradient(z):
        z = jnp.asarray(z, jnp.float64)
        parts = [np.asarray(g(z[i : i + chunk], jnp.float64(W))) for i in range(0, len(z), chunk)]
        out = np.concatenate(parts) if parts else np.zeros(z.shape)
        return np.where(np.isfinite(out), out, 0.0)

    return gradient


def lattice_guided_moves(R, W, *, guided_fraction=0.5, kappa=0.3, dist="goe") -> Callable:
    """The guided kernel of the lattice mixed with :func:`moves.lattice_moves` (pCN and
    local shifts): guided with probability ``guided_fraction`` per proposal."""
    from .moves import lattice_moves

    return mixture(
        [guided_moves(lattice_score_gradient(R, W, dist=dist), kappa=kappa), lattice_moves(R)],
        [guided_fraction, 1.0 - guided_fraction],
    )
