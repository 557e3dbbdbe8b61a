"""Input checks that raise clear errors on concrete inputs and stay out of traced code.

Under jit/vmap the arguments are tracers; their values are unknown, so the checks are
skipped there (the functions remain traceable); called eagerly, bad input raises a
ValueError naming the argument and the accepted range.
"""

from __future__ import annotations

import jax
import numpy as np

from .resonance import DISTRIBUTIONS


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a JAX tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_dist(dist) -> None:
    if dist not in DISTRIBUTIONS:
        raise ValueError(f"dist must be one of {list(DISTRIBUTIONS)}, got {dist!r}")


def check_nonnegative(name: str, x, *, strictly_positive: bool = False) -> None:
    """ValueError if concrete ``x`` has NaN or values < 0 (<= 0 if strictly_positive)."""
    if not is_concrete(x):
        return
    a = np.asarray(x)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name} must be real, got complex values")
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; accepted range is "
                         f"{'(0, inf]' if strictly_positive else '[0, inf]'}")
    bad = (a <= 0) if strictly_positive else (a < 0)
    if bad.any():
        rng = "(0, inf]" if strictly_positive else "[0, inf]"
        raise ValueError(f"{name} must lie in {rng}; got min {a.min()!r}")
