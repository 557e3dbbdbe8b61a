"""jaxmf: entanglement mean-field theory of thermalizing avalanches in JAX.

Implements Crowley & Chandran, PRB 106, 184208 (2022). See THEORY in the docs.
"""

from . import _config  # noqa: F401  (enables float64 before anything is traced)

__version__ = "0.1.0"
