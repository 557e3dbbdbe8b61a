"""float64 everywhere: importing jaxmf switches on JAX's x64 mode for the whole process.

Every number in jaxmf is float64 (the fixed point is solved to 1e-13 and the couplings
of a lattice span 1e-30 .. 1). If x64 is switched off again after the import, the
public functions refuse to run (:func:`require_x64`) instead of computing in float32.
"""

import jax

jax.config.update("jax_enable_x64", True)


def require_x64() -> None:
    """RuntimeError unless JAX's x64 mode is on (jaxmf computes in float64 only)."""
    if not jax.config.read("jax_enable_x64"):
        raise RuntimeError(
            "jaxmf computes in float64, but JAX's x64 mode is off (it was switched off "
            "after importing jaxmf); turn it back on with "
            "jax.config.update('jax_enable_x64', True)"
        )
