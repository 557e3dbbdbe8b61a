"""Input checks shared by every floor of jaxmf: one place, one wording.

Each check raises ``ValueError`` naming the argument and the accepted range when it is
given concrete values. Under jit/vmap/grad the arguments are tracers whose values are
unknown; value checks are skipped there so that the functions stay traceable (shape and
type checks on static arguments still run).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

LOG2 = float(np.log(2.0))
"""log 2: the entropy of one fully thermal l-bit, in nats (the unit of eq. 19)."""


def is_concrete(x) -> bool:
    """True when ``x`` holds values (not a JAX tracer inside jit/vmap/grad)."""
    return not isinstance(x, Tracer)


def check_choice(name: str, value, choices) -> None:
    """ValueError unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")


def check_int(name: str, value, minimum: int = 0, maximum: int | None = None) -> int:
    """A Python/NumPy integer in [minimum, maximum] (bools refused); returns int."""
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or (value < minimum or (maximum is not None and value > maximum))
    ):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be an integer >= {minimum}{upper}, got {value!r}")
    return int(value)


def check_radius(R) -> int:
    """The lattice radius R: a non-negative integer (static). Returns int(R)."""
    return check_int("R (lattice radius)", R, 0)


def check_nonnegative(
    name: str, x, *, strictly_positive: bool = False, finite: bool = False
) -> None:
    """ValueError if concrete ``x`` is not real, has NaN or values < 0 (<= 0 if
    ``strictly_positive``; +-inf refused if ``finite``)."""
    if x is None or not is_concrete(x):
        return
    a = np.asarray(x)
    if a.dtype == object or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise ValueError(f"{name} must be real, got complex values")
    hi = "inf)" if finite else "inf]"
    rng = ("(0, " if strictly_positive else "[0, ") + hi
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; accepted range is {rng}")
    bad = (a <= 0) if strictly_positive else (a < 0)
    if finite:
        bad = bad | np.isinf(a)
    if bad.any():
        raise ValueError(
            f"{name} must lie in {rng}; got {x!r}"
            if a.size <= 8
            else f"{name} must lie in {rng}; got min {float(a.min())!r}, max {float(a.max())!r}"
        )


def check_finite(name: str, x) -> None:
    """ValueError if concrete ``x`` has NaN or +-inf."""
    if x is None or not is_concrete(x):
        return
    with np.errstate(invalid="ignore"):
        if not np.all(np.isfinite(np.asarray(x, dtype=np.float64))):
            raise ValueError(f"{name} must be finite, got {x!r}")


def nan_where_invalid(value, valid):
    """``value`` with NaN where ``valid`` is False (broadcast). Under jit the eager
    checks cannot run; an invalid input (NaN, a negative coupling, ...) must then give
    NaN in what depends on it, never a plausible number."""
    return jnp.where(valid, value, jnp.nan)


def check_values(name: str, value, ok, accepted: str) -> None:
    """ValueError naming ``name`` and ``accepted`` when concrete ``value`` fails ``ok``."""
    if value is None or not is_concrete(value):
        return
    with np.errstate(invalid="ignore"):
        good = np.all(ok(np.asarray(value)))
    if not good:
        raise ValueError(f"{name} must be {accepted}; got {value!r}")
