"""jaxmf: entanglement mean-field theory of thermalizing avalanches in JAX.

Implements the self-consistent mean-field theory of l-bits coupled to an ergodic grain
of Crowley & Chandran, PRB 106, 184208 (2022); the model, the equations and the
conventions are in docs/theory.md.

Importing jaxmf switches on JAX's float64 mode (``jax_enable_x64``) for the whole
process: every quantity here is float64.

Layout (data flows down; no module imports from a floor below it):
    resonance, enhancement, meanfield   the core: P, Q, S, ptilde; eta, [S], Czz, p_S;
                                        solve() and its observables
    models        couplings and Hamiltonians (symmetric, chain, lattice, ed)
    analysis      thresholds, ensemble sweeps, lattice maps, ED comparison, rare/
    plot          figure functions
    paper         ``jaxmf reproduce``: one module per figure group
    tables        offline builders of the shipped tables
    cli           the ``jaxmf`` command
"""

from . import _config  # noqa: F401  (enables float64 before anything is traced)
from ._status import Status
from ._version import __version__
from .critical import Fold, FoldKind, fold_log_scale
from .enhancement import czz, entropy_pdf, eta, mean_entropy, resonance_pdf
from .meanfield import (
    CriticalScale,
    MeanFieldResult,
    avalanches,
    critical_log_scale,
    mean_entropies,
    memories,
    n_thermal,
    solve,
)
from .resonance import DISTRIBUTIONS, entropy, overlap_k, resonance_probability

__all__ = [
    "__version__",
    "DISTRIBUTIONS",
    "Status",
    # resonance functions (A3-A11)
    "entropy",
    "overlap_k",
    "resonance_probability",
    # single-l-bit observables (A12-A14, A27)
    "czz",
    "entropy_pdf",
    "eta",
    "mean_entropy",
    "resonance_pdf",
    # the mean-field fixed point (eq. 11-14, 19)
    "MeanFieldResult",
    "solve",
    "avalanches",
    "n_thermal",
    "mean_entropies",
    "memories",
    "CriticalScale",
    "critical_log_scale",
    # the critical scale as a fold (eq. 19 with G = H, dG/dH = 1)
    "Fold",
    "FoldKind",
    "fold_log_scale",
]
