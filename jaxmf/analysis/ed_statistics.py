"""Statistics of the ED end-spin entropies over eigenstates and samples (Sec. VI).

The ED of the central-grain chain (:mod:`jaxmf.models.ed`) gives, per sample, the
entanglement entropy of the end l-bit in every eigenstate, ordered by energy. These are
the averages and densities compared with mean-field theory in
:mod:`jaxmf.analysis.ed_compare`: eigenstate means over the whole spectrum or its middle
(by energy rank), sample means with standard errors over samples (eigenstates of one
sample are correlated, samples are independent), and the density p(S_end) on [0, log 2].
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._checks import LOG2, check_int, check_values

__all__ = [
    "EntropyStatistics",
    "EntropyHistogram",
    "middle_slice",
    "entropy_statistics",
    "entropy_histogram",
]


class EntropyHistogram(NamedTuple):
    """Sample-averaged density of the end-spin entropy on [0, log 2].

    Attributes:
        edges: (bins + 1,) bin edges (nats).
        density: (bins,) mean over samples of each sample's density (integrates to 1).
        stderr: (bins,) its standard error over samples (NaN for one sample).
    """

    edges: np.ndarray
    density: np.ndarray
    stderr: np.ndarray


class EntropyStatistics(NamedTuple):
    """Eigenstate-averaged end-spin entropy per sample, and its ensemble mean.

    Attributes:
        per_sample_all: (n_samples,) mean over all eigenstates.
        per_sample_middle: (n_samples,) mean over the middle of the spectrum (by rank).
        mean_all, stderr_all: () mean over samples of per_sample_all, and its standard
            error std(ddof=1) / sqrt(n_samples) (NaN for one sample).
        mean_middle, stderr_middle: () the same for per_sample_middle.
    """

    per_sample_all: jax.Array
    per_sample_middle: jax.Array
    mean_all: jax.Array
    stderr_all: jax.Array
    mean_middle: jax.Array
    stderr_middle: jax.Array


def middle_slice(D: int, fraction: float = 1 / 3) -> slice:
    """Slice of the `fraction` of eigenstates in the middle of the spectrum (by rank)."""
    check_values("fraction", fraction, lambda f: (f > 0) & (f <= 1), "a number in (0, 1]")
    cut = int(round(D * (1 - fraction) / 2))
    return slice(cut, D - cut)


def _mean_stderr(x):
    n = x.shape[0]
    err = jnp.std(x, ddof=1) / np.sqrt(n) if n > 1 else jnp.asarray(np.nan)
    return jnp.mean(x), err


def entropy_statistics(entropies, middle_fraction: float = 1 / 3) -> EntropyStatistics:
    """Eigenstate and sample averages of the end-spin entropy, with standard errors.

    Args:
        entropies: (n_samples, D) entropies ordered by energy in each sample.
        middle_fraction: fraction of the spectrum (by energy rank) kept for the middle
            average (default the middle third).

    Returns:
        EntropyStatistics; errors are over samples (eigenstates of one sample are
        correlated, samples are independent).
    """
    entropies = jnp.asarray(entropies)
    per_all = jnp.mean(entropies, axis=-1)
    per_mid = jnp.mean(entropies[..., middle_slice(entropies.shape[-1], middle_fraction)], axis=-1)
    m_all, e_all = _mean_stderr(per_all)
    m_mid, e_mid = _mean_stderr(per_mid)
    return EntropyStatistics(per_all, per_mid, m_all, e_all, m_mid, e_mid)


def entropy_histogram(
    entropies, bins: int = 40, middle_fraction: float | None = None
) -> EntropyHistogram:
    """Sample-averaged density p(S_end) on [0, log 2] (nats), with its standard error.

    Args:
        entropies: (n_samples, D) entropies ordered by energy.
        bins: number of equal bins on [0, log 2].
        middle_fraction: if given, use only that middle fraction of each spectrum.

    Returns:
        EntropyHistogram: edges (bins + 1,), density (bins,) integrating to 1, stderr
        (bins,) over samples.
    """
    check_int("bins", bins, 1)
    s = np.asarray(entropies)
    if middle_fraction is not None:
        s = s[..., middle_slice(s.shape[-1], middle_fraction)]
    edges = np.linspace(0.0, LOG2, bins + 1)
    per = np.stack([np.histogram(row, bins=edges, density=True)[0] for row in s])
    err = per.std(axis=0, ddof=1) / np.sqrt(len(per)) if len(per) > 1 else np.full(bins, np.nan)
    return EntropyHistogram(edges, per.mean(axis=0), err)
