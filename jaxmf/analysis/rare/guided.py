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
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import check_radius
from . import subset
from .critical import critical_log_g0, potential_from_gaussian

__all__ = [
    "guided_moves",
    "mixture",
    "LatticeScoreGradient",
    "lattice_score_gradient",
    "GuidedLattice",
    "lattice_guided",
    "lattice_guided_moves",
]


def _unit_normals(grad):
    norm = np.linalg.norm(grad, axis=1, keepdims=True)
    ok = np.isfinite(norm) & (norm > 0)
    return np.where(ok, grad / np.where(ok, norm, 1.0), 0.0)


def _mean(z, n, rho, rho_n):
    return rho * z + (rho_n - rho) * np.sum(z * n, axis=1, keepdims=True) * n


def _log_q(to, frm, n, sigma, rho, rho_n, kappa):
    """log q(to | frm) up to a constant shared by every state. The covariance
    sigma^2 (I - (1 - kappa^2) n n^T) has determinant sigma^(2d) kappa^2 for a unit n and
    sigma^(2d) where the normal is undefined (n = 0: an isotropic step), hence the
    -log kappa of the unit normals."""
    d = to - _mean(frm, n, rho, rho_n)
    along = np.sum(d * n, axis=1)
    unit = np.sum(n * n, axis=1) > 0
    return (
        -0.5 * (np.sum(d * d, axis=1) + (kappa**-2 - 1.0) * along**2) / sigma**2
        - np.log(kappa) * unit
    )


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
def _lattice_value_and_grad(R, dist, method, bracket):
    def one(z, W):
        return critical_log_g0(
            potential_from_gaussian(z, W), R, dist=dist, method=method, bracket=bracket
        ).log_scale

    return jax.jit(jax.vmap(jax.value_and_grad(one), in_axes=(0, None)))


class LatticeScoreGradient:
    """log g0_c and its gradient in z for the lattice of radius R at disorder W, with a
    memo of the states already seen.

    The value and the gradient come from one ``jax.value_and_grad`` (exact: the fold's
    implicit derivative through the dense spectrum, ``method="eigh"``), in batches
    padded to a few fixed sizes so the compiled function is reused across levels and
    replicas. The memo (keyed by the bytes of each state, up to ``memo`` states) makes the
    guided kernel cheap: the gradient at the proposal, needed for its Metropolis-Hastings
    factor, also gives the proposal's score (the level-set test then costs nothing), and
    an accepted proposal brings its gradient along as the next current state's.
    Deterministic values, so the memo changes no result.

    Call ``score(z)`` ((m, N) -> (m,) numpy) as the score of
    :func:`~jaxmf.analysis.rare.subset.run` and ``gradient(z)`` ((m, N) -> (m, N))
    in :func:`guided_moves`.
    """

    def __init__(
        self, R, W, *, dist="goe", method="eigh", bracket=(-20.0, 20.0), chunk=50, memo=20_000
    ):
        check_radius(R)
        self._vg = _lattice_value_and_grad(int(R), dist, method, tuple(float(b) for b in bracket))
        self.W, self._chunk, self._cap = float(W), int(chunk), int(memo)
        self._memo: dict = {}
        self.n_value_and_grad = 0  # states evaluated (a memo hit costs nothing)

    def _eval(self, z):
        """Value and gradient of the states of z not in the memo (padded batches)."""
        keys = [row.tobytes() for row in z]
        first = {}  # one evaluation per distinct state not in the memo
        for i, k in enumerate(keys):
            if k not in self._memo:
                first.setdefault(k, i)
        todo = list(first.values())
        chunk = self._chunk
        for a in range(0, len(todo), chunk):
            idx = todo[a : a + chunk]
            size = subset.padded_size(len(idx), chunk)
            batch = np.concatenate([z[idx], np.repeat(z[idx[:1]], size - len(idx), axis=0)])
            v, g = self._vg(jnp.asarray(batch), jnp.float64(self.W))
            v, g = np.asarray(v)[: len(idx)], np.asarray(g)[: len(idx)]
            for j, i in enumerate(idx):
                self._memo[keys[i]] = (v[j], np.where(np.isfinite(g[j]), g[j], 0.0))
            self.n_value_and_grad += len(idx)
        out = [self._memo[k] for k in keys]
        if len(self._memo) > self._cap:  # drop the oldest half (dicts keep insertion order)
            for k in list(self._memo)[: len(self._memo) // 2]:
                del self._memo[k]
        return out

    def score(self, z):
        z = np.ascontiguousarray(z, float)
        return np.asarray([v for v, _ in self._eval(z)], float).reshape(len(z))

    def gradient(self, z):
        z = np.ascontiguousarray(z, float)
        return np.asarray([g for _, g in self._eval(z)], float).reshape(z.shape)


def lattice_score_gradient(
    R, W, *, dist="goe", method="eigh", bracket=(-20.0, 20.0), chunk=50
) -> Callable:
    """z -> grad_z log g0_c(V(z)) for the lattice of radius R at disorder W, (m, N) ->
    (m, N) numpy (exact: the fold's implicit derivative through the spectrum;
    ``method="eigh"``, the dense route, is the one differentiated here). The ``gradient``
    of a :class:`LatticeScoreGradient` (memoized, padded batches)."""
    return LatticeScoreGradient(
        R, W, dist=dist, method=method, bracket=bracket, chunk=chunk
    ).gradient


class GuidedLattice(NamedTuple):
    """The guided lattice kernel and the score it shares its memo with.

    Attributes:
        score: (m, N) -> (m,) log g0_c, the score to pass to subset.run.
        propose: the kernel (guided moves mixed with the lattice moves).
        evaluator: the :class:`LatticeScoreGradient` behind both.
    """

    score: Callable
    propose: Callable
    evaluator: LatticeScoreGradient


def lattice_guided(R, W, *, guided_fraction=0.5, kappa=0.3, dist="goe", chunk=50) -> GuidedLattice:
    """:func:`lattice_guided_moves` together with a score that reads the same memo: run
    subset simulation with ``score`` and ``propose`` of the result, and every guided
    proposal costs one value-and-gradient evaluation (its score comes with it)."""
    from .moves import lattice_moves

    ev = LatticeScoreGradient(R, W, dist=dist, chunk=chunk)
    prop = mixture(
        [guided_moves(ev.gradient, kappa=kappa), lattice_moves(R)],
        [guided_fraction, 1.0 - guided_fraction],
    )
    return GuidedLattice(ev.score, prop, ev)


def lattice_guided_moves(R, W, *, guided_fraction=0.5, kappa=0.3, dist="goe") -> Callable:
    """The guided kernel of the lattice mixed with :func:`moves.lattice_moves` (pCN and
    local shifts): guided with probability ``guided_fraction`` per proposal."""
    return lattice_guided(R, W, guided_fraction=guided_fraction, kappa=kappa, dist=dist).propose
