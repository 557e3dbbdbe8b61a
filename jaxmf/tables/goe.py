"""Monte Carlo construction of the GOE resonance law ptilde_goe.

(docs/theory.md, "Resonance strengths".)

Definition: unfolded GOE levels x_b (unit mean density), a point u uniform among
them, matrix elements V_b ~ N(0, pi/2) (so mean|V| = 1 and rho mean|V| = g):

    X = sqrt( sum_b V_b^2 / (x_b - u)^2 )  ~  ptilde_goe.

Levels come from M x M GOE matrices unfolded with the semicircle law; u is drawn in
the central half of the spectrum only (bulk), and the levels missing beyond the
matrix (distance > u and > M - u) are added through their mean, (pi/2)(1/u + 1/(M-u)),
which is exact on average and fluctuates far below the sampling error.

The table stores, on a uniform grid of u = log x, the empirical CDF and a smoothed
density of u (local quadratic fit to the empirical CDF); it is then normalized
exactly so that it joins the universal tail 1 - F = 2/x at its last node.

Regenerate the shipped table with ``jaxmf goe-table --out FILE`` (defaults below), then
copy FILE to ``jaxmf/data/ptilde_goe.npz``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._io import atomic_write

MATRIX_SIZE = 256
SAMPLES_PER_SPECTRUM = 2048
DEFAULT_SAMPLES = 10_000_000
DEFAULT_SEED = 20221104
U_MIN, U_MAX, DU = np.log(0.3), np.log(120.0), 0.02


def _unfold_semicircle(e, m):
    """Unfolded positions (unit density, in [0, m]) of GOE levels e with radius 2 sqrt(m)."""
    y = jnp.clip(e / (2.0 * jnp.sqrt(m)), -1.0, 1.0)
    return m * (0.5 + (y * jnp.sqrt(1.0 - y * y) + jnp.arcsin(y)) / jnp.pi)


@jax.jit
def _samples_from_key(key):
    """SAMPLES_PER_SPECTRUM draws of X from one GOE spectrum. Returns (K,)."""
    m, k = MATRIX_SIZE, SAMPLES_PER_SPECTRUM
    ka, ku, kv = jax.random.split(key, 3)
    a = jax.random.normal(ka, (m, m))
    levels = _unfold_semicircle(jnp.linalg.eigvalsh((a + a.T) / jnp.sqrt(2.0)), m)
    u = jax.random.uniform(ku, (k,), minval=0.25 * m, maxval=0.75 * m)
    v2 = (jnp.pi / 2.0) * jax.random.normal(kv, (k, m)) ** 2
    x2 = jnp.sum(v2 / (levels[None, :] - u[:, None]) ** 2, axis=1)
    x2 = x2 + (jnp.pi / 2.0) * (1.0 / u + 1.0 / (m - u))
    return jnp.sqrt(x2)


def sample_goe(n_samples: int, *, key, progress: bool = False) -> np.ndarray:
    """Draw about ``n_samples`` (rounded up to whole spectra) values of X ~ ptilde_goe.

    Args:
        key: JAX PRNG key.
        n_samples: number of samples wanted (>= 1).
        progress: show a tqdm progress bar.

    Returns:
        (n_spectra, SAMPLES_PER_SPECTRUM) array; rows share a spectrum (use rows as
        batches for error bars).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    n_spec = -(-n_samples // SAMPLES_PER_SPECTRUM)
    keys = jax.random.split(key, n_spec)
    it = range(n_spec)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="GOE spectra", unit="spec")
    return np.stack([np.asarray(_samples_from_key(keys[i])) for i in it])


def table_from_samples(x: np.ndarray, u_min=U_MIN, u_max=U_MAX, du=DU, window=5):
    """Normalized CDF and density of u = log x on a uniform grid.

    The density at each node is the slope of a least-squares quadratic fitted to the
    empirical CDF over +-window nodes (unbiased to second order, smoother than a
    histogram). The CDF is rescaled so that F(x_end) = 1 - 2/x_end and the density at
    the end is 2/x_end, joining the 2/x^2 tail continuously.
    """
    x = np.sort(np.ravel(x))
    n = x.size
    u = np.arange(u_min, u_max + du / 2, du)
    F = np.searchsorted(x, np.exp(u), side="right") / n
    dens = np.empty_like(F)
    offs = np.arange(-window, window + 1) * du
    A = np.stack([np.ones_like(offs), offs, offs**2], axis=1)
    pinv = np.linalg.pinv(A)
    for i in range(u.size):
        j = np.clip(np.arange(i - window, i + window + 1), 0, u.size - 1)
        dens[i] = (pinv @ F[j])[1] if window <= i < u.size - window else np.nan
    # edges: one-sided finite differences
    edge = np.isnan(dens)
    dens[edge] = np.gradient(F, du)[edge]
    dens = np.maximum(dens, 0.0)
    x_end = np.exp(u[-1])
    F = F * (1.0 - 2.0 / x_end) / F[-1]
    dens[-1] = 2.0 / x_end
    F[0], dens[0] = 0.0, 0.0
    return u, F, _monotone_slopes(F, dens, du)


def _monotone_slopes(F, dens, du):
    """Fritsch-Carlson limiting: the cubic Hermite CDF through (F, dens) is then
    monotone, so its derivative (the pdf) is >= 0 and integrates exactly to F."""
    dens = dens.copy()
    delta = np.diff(F) / du
    for k in range(delta.size):
        if delta[k] <= 0.0:
            dens[k] = dens[k + 1] = 0.0
            continue
        a, b = dens[k] / delta[k], dens[k + 1] / delta[k]
        r = np.hypot(a, b)
        if r > 3.0:
            dens[k], dens[k + 1] = 3.0 * a / r * delta[k], 3.0 * b / r * delta[k]
    return dens


def build(
    n_samples=DEFAULT_SAMPLES,
    seed=DEFAULT_SEED,
    path=None,
    progress=True,
    *,
    metadata: dict | None = None,
):
    """Sample, tabulate and save the GOE table (npz with its provenance). Returns path.

    Args:
        n_samples, seed: number of draws of X and the integer seed of ``jax.random.key``.
        path: output ``.npz``; default the package's own table (rebuilding it in place).
        progress: show a tqdm progress bar (stderr).
        metadata: a dict stored as JSON under the key ``metadata`` (provenance).

    The file is written atomically (a temporary file renamed over ``path``).
    """
    t0 = time.time()
    x = sample_goe(n_samples, key=jax.random.key(seed), progress=progress)
    u, F, dens = table_from_samples(x)
    if path is None:
        from importlib import resources

        path = str(resources.files("jaxmf.data").joinpath("ptilde_goe.npz"))
    command = (
        " ".join(metadata["command"])
        if metadata and "command" in metadata
        else f"jaxmf goe-table --samples {n_samples} --seed {seed}"
    )
    extra: dict[str, Any] = {} if metadata is None else {"metadata": json.dumps(metadata)}
    atomic_write(
        path,
        lambda f: np.savez_compressed(
            f,
            u0=u[0],
            du=DU,
            cdf=F,
            dens=dens,
            n_samples=x.size,
            seed=seed,
            matrix_size=MATRIX_SIZE,
            samples_per_spectrum=SAMPLES_PER_SPECTRUM,
            command=command,
            build_seconds=time.time() - t0,
            median=float(np.median(x)),
            **extra,
        ),
    )
    return path
