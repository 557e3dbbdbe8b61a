"""Rare avalanches of random lattices: f_aval(W) far below what plain sampling sees.

For iid random potentials (V_n uniform on [-W, W]) the avalanche probability f_aval
(eq. 19) stays non-zero at every W, while for quasiperiodic ones it vanishes above
sup_theta0 W_th (:func:`jaxmf.analysis.thresholds.sup_threshold`). The random side is
computed by subset simulation on the critical grain coupling log g0_c(V):

* :mod:`~jaxmf.analysis.rare.subset`: generic subset simulation of a Gaussian tail;
* :mod:`~jaxmf.analysis.rare.critical`: log g0_c(V), the reaction coordinate;
* :mod:`~jaxmf.analysis.rare.moves`: Markov moves of the lattice potentials;
* :mod:`~jaxmf.analysis.rare.estimate`: f_aval(W, g0) with replica error bars, the
  reliability rule, and plain sampling for checks;
* :mod:`~jaxmf.analysis.rare.tail`: f_aval over a W grid, resumable replica files
  shared over processes;
* :mod:`~jaxmf.analysis.rare.diagnostics`: what avalanching potentials look like, and
  fits of the tail of f_aval(W).

Every function that draws random numbers takes a keyword-only JAX PRNG ``key``
(``jax.random.key(seed)``); its result is a deterministic function of it.
"""

from .critical import critical_log_g0
from .diagnostics import CalmProfile, TailFit, calm_profile, fit_tail
from .estimate import (
    MAX_LEVELS,
    THIN,
    PlainEstimate,
    SubsetEstimate,
    plain_estimate,
    reliable,
    subset_estimate,
)
from .moves import MOVES, cluster_moves, lattice_moves, resonance_moves
from .tail import TailRow, f_aval_tail

__all__ = [
    "SubsetEstimate",
    "subset_estimate",
    "TailRow",
    "f_aval_tail",
    "reliable",
    "PlainEstimate",
    "plain_estimate",
    "critical_log_g0",
    "lattice_moves",
    "resonance_moves",
    "cluster_moves",
    "MOVES",
    "CalmProfile",
    "calm_profile",
    "TailFit",
    "fit_tail",
    "THIN",
    "MAX_LEVELS",
]
