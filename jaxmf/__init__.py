"""jaxmf: entanglement mean-field theory of thermalizing avalanches in JAX.

Implements the self-consistent mean-field theory of l-bits coupled to an ergodic grain
of Crowley & Chandran, PRB 106, 184208 (2022). Everything is float64 and
jit/vmap/grad-compatible.
"""

from . import _config  # noqa: F401  (enables float64 before anything is traced)
from .enhancement import czz, entropy_pdf, eta, mean_entropy, resonance_pdf
from .meanfield import MeanFieldResult, solve
from .resonance import DISTRIBUTIONS, entropy, overlap_k, resonance_probability

__version__ = "0.1.0"

__all__ = [
    "DISTRIBUTIONS",
    "MeanFieldResult",
    "solve",
    "czz",
    "entropy",
    "entropy_pdf",
    "eta",
    "mean_entropy",
    "overlap_k",
    "resonance_pdf",
    "resonance_probability",
]
