"""Offline builder of the shipped eta tables (``jaxmf/data/eta_{dist}.npz``).

eta(g) (A27) by the 2D quadrature of :func:`jaxmf.enhancement.eta_quadrature` at 100
nodes per decade on [1e-12, 1e6], with d log eta / d log g from forward-mode
differentiation of the same quadrature. ``jaxmf eta-table`` runs it (~2 min on 2 cores).
"""

from __future__ import annotations

from importlib import resources

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_dist
from ..enhancement import (LOG10_G_MAX, LOG10_G_MIN, NODES_PER_DECADE, eta_quadrature,
                           quadrature_nodes)

__all__ = ["build_eta_table"]


def build_eta_table(dist: str, path=None, refine: int = 1, progress: bool = True):
    """Compute the eta table for ``dist`` by quadrature and save it (npz). Returns path."""
    check_dist(dist)
    n = int(round((LOG10_G_MAX - LOG10_G_MIN) * NODES_PER_DECADE)) + 1
    u = np.linspace(LOG10_G_MIN, LOG10_G_MAX, n) * np.log(10.0)

    @jax.jit
    def value_and_slope(uc):
        def f(ui):
            return jnp.log(eta_quadrature(jnp.exp(ui), dist, refine))

        return jax.vmap(lambda ui: jax.jvp(f, (ui,), (1.0,)))(uc)

    chunks = np.array_split(u, max(1, n // 16))
    it = chunks
    if progress:
        from tqdm import tqdm

        it = tqdm(chunks, desc=f"eta table ({dist})", unit="chunk")
    vals = [value_and_slope(jnp.asarray(c)) for c in it]
    log_eta = np.concatenate([np.asarray(v[0]) for v in vals])
    dlog = np.concatenate([np.asarray(v[1]) for v in vals])
    if path is None:
        path = str(resources.files("jaxmf.data").joinpath(f"eta_{dist}.npz"))
    np.savez_compressed(
        path,
        u0=u[0],
        du=u[1] - u[0],
        log_eta=log_eta,
        dlog_eta=dlog,
        n_nodes=quadrature_nodes(dist, refine)[0].size,
        refine=refine,
        command=f"jaxmf eta-table --dist {dist}",
    )
    return path
