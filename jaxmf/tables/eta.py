"""Offline builder of the shipped eta tables (``jaxmf/data/eta_{dist}.npz``).

eta(g) (A27) by the 2D quadrature of :func:`jaxmf.enhancement.eta_quadrature` at 100
nodes per decade on [1e-12, 1e6], with d log eta / d log g from forward-mode
differentiation of the same quadrature. ``jaxmf eta-table --out FILE`` runs it (~2 min
on 2 cores).

The nodes are computed in chunks. After each chunk the nodes finished so far are saved
atomically to a partial file next to the table (:func:`partial_path`: ``eta_goe.npz``
-> ``eta_goe.partial.npz``); a build interrupted at any point keeps them, and the same
call resumes from them (the chunks are the same, so the result is bitwise the one of an
uninterrupted build). The partial file is removed when the table is written.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
from importlib import resources
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import check_int
from .._io import atomic_write
from ..enhancement import (
    LOG10_G_MAX,
    LOG10_G_MIN,
    NODES_PER_DECADE,
    eta_quadrature,
    quadrature_nodes,
)
from ..resonance import check_dist

__all__ = ["build_eta_table", "partial_path"]

CHUNK_NODES = 16
"""Nodes per chunk (one jitted call, and the granularity of the partial file)."""


def partial_path(path) -> pathlib.Path:
    """The partial file of the table ``path``: ``NAME.partial.npz`` in its folder."""
    path = pathlib.Path(path)
    return path.with_name(path.name.removesuffix(".npz") + ".partial.npz")


def _identity(dist, refine, u):
    return {
        "dist": dist,
        "refine": int(refine),
        "u0": float(u[0]),
        "du": float(u[1] - u[0]),
        "n": int(u.size),
        "chunk_nodes": CHUNK_NODES,
    }


def _load_partial(part, ident):
    """(log_eta, dlog_eta) finished in ``part`` (empty if absent); ValueError if it
    belongs to a build with other parameters."""
    if not part.exists():
        return np.zeros(0), np.zeros(0)
    with np.load(part) as z:
        stored = json.loads(str(z["identity"]))
        if stored != ident:
            raise ValueError(
                f"{part} holds a partial eta table with other parameters "
                f"({stored}); remove it or choose another output path"
            )
        return np.asarray(z["log_eta"]), np.asarray(z["dlog_eta"])


def _save_partial(ident, log_eta, dlog_eta, f):
    np.savez(f, identity=json.dumps(ident), log_eta=log_eta, dlog_eta=dlog_eta)


def build_eta_table(
    dist: str,
    path=None,
    refine: int = 1,
    progress: bool = True,
    *,
    resume: bool = True,
    metadata: dict | None = None,
):
    """Compute the eta table for ``dist`` by quadrature and save it (npz). Returns path.

    Args:
        dist: ptilde family, "goe" or "poisson".
        path: output ``.npz``; default the package's own table (rebuilding it in place).
        refine: quadrature refinement (>= 1; 2 doubles the nodes).
        progress: show a tqdm progress bar (stderr).
        resume: continue from the partial file of an interrupted build
            (:func:`partial_path`); False starts afresh.
        metadata: a dict stored as JSON under the key ``metadata`` (provenance).
    """
    check_dist(dist)
    check_int("refine", refine, 1)
    n = int(round((LOG10_G_MAX - LOG10_G_MIN) * NODES_PER_DECADE)) + 1
    u = np.linspace(LOG10_G_MIN, LOG10_G_MAX, n) * np.log(10.0)
    if path is None:
        path = str(resources.files("jaxmf.data").joinpath(f"eta_{dist}.npz"))
    part = partial_path(path)
    ident = _identity(dist, refine, u)
    log_eta, dlog = _load_partial(part, ident) if resume else (np.zeros(0), np.zeros(0))

    @jax.jit
    def value_and_slope(uc):
        def f(ui):
            return jnp.log(eta_quadrature(jnp.exp(ui), dist, refine))

        return jax.vmap(lambda ui: jax.jvp(f, (ui,), (1.0,)))(uc)

    chunks = np.array_split(u, max(1, n // CHUNK_NODES))
    ends = np.cumsum([c.size for c in chunks])
    first = int(np.searchsorted(ends, log_eta.size, side="right"))
    if first and ends[first - 1] != log_eta.size:
        raise ValueError(f"{part} does not end at a chunk boundary; remove it")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(chunks), initial=first, desc=f"eta table ({dist})", unit="chunk")
    vals, slopes = [log_eta], [dlog]
    for c in chunks[first:]:
        v, s = value_and_slope(jnp.asarray(c))
        vals.append(np.asarray(v))
        slopes.append(np.asarray(s))
        atomic_write(
            part,
            functools.partial(_save_partial, ident, np.concatenate(vals), np.concatenate(slopes)),
        )
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    log_eta, dlog = np.concatenate(vals), np.concatenate(slopes)
    command = (
        " ".join(metadata["command"])
        if metadata and "command" in metadata
        else f"jaxmf eta-table --dist {dist}"
    )
    extra: dict[str, Any] = {} if metadata is None else {"metadata": json.dumps(metadata)}
    atomic_write(
        path,
        lambda f: np.savez_compressed(
            f,
            u0=u[0],
            du=u[1] - u[0],
            log_eta=log_eta,
            dlog_eta=dlog,
            n_nodes=quadrature_nodes(dist, refine)[0].size,
            refine=refine,
            command=command,
            **extra,
        ),
    )
    if part.exists():
        os.remove(part)
    return path
