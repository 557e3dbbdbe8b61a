"""The shared input checks (jaxmf._checks): one wording, the argument always named.

The public functions' own bad-input tests live with them; this file pins the rules
every check follows: ValueError naming the argument and the accepted range, bools are
not integers, and under tracing (jit / vmap / grad) value checks are skipped.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmf import _checks, resonance


@pytest.mark.parametrize("value", [True, np.bool_(False), 2.0, "3", None, -1])
def test_check_int_refuses_non_integers_and_bools(value):
    with pytest.raises(ValueError, match=r"n_steps must be an integer >= 0"):
        _checks.check_int("n_steps", value)


def test_check_int_range_and_return():
    assert _checks.check_int("k", np.int32(4), 1, 4) == 4
    assert type(_checks.check_int("k", np.int64(4))) is int
    with pytest.raises(ValueError, match=r"k must be an integer >= 1 and <= 4, got 5"):
        _checks.check_int("k", 5, 1, 4)
    with pytest.raises(ValueError, match=r"R \(lattice radius\)"):
        _checks.check_radius(-1)


@pytest.mark.parametrize(
    "kw, value, match",
    [
        ({}, -1.0, r"x must lie in \[0, inf\]"),
        ({}, np.nan, r"x contains NaN; accepted range is \[0, inf\]"),
        ({"strictly_positive": True}, 0.0, r"x must lie in \(0, inf\]"),
        ({"finite": True}, np.inf, r"x must lie in \[0, inf\)"),
        ({}, np.array(["a"]), "x must be a real numeric array"),
        ({}, np.array([1j]), "x must be real"),
        ({}, -np.arange(20.0), r"x must lie in \[0, inf\]; got min .*-19\.0.*, max"),
    ],
)
def test_check_nonnegative_names_argument_and_range(kw, value, match):
    with pytest.raises(ValueError, match=match):
        _checks.check_nonnegative("x", value, **kw)


def test_accepted_values_pass():
    _checks.check_nonnegative("x", np.array([0.0, 1.0, np.inf]))
    _checks.check_nonnegative("x", 1e-300, strictly_positive=True, finite=True)
    _checks.check_nonnegative("x", None)
    _checks.check_finite("x", [0.0, -1.0])
    resonance.check_dist("poisson")
    _checks.check_choice("kind", "qp", ("qp", "random"))
    _checks.check_values("x", np.array([1, 2]), lambda a: a > 0, "positive")


def test_choice_and_value_messages():
    with pytest.raises(ValueError, match=r"dist must be one of \['goe', 'poisson'\]"):
        resonance.check_dist("GOE")
    with pytest.raises(ValueError, match=r"kind must be one of \['qp', 'random'\], got 'x'"):
        _checks.check_choice("kind", "x", ("qp", "random"))
    with pytest.raises(ValueError, match="theta0 must be finite"):
        _checks.check_finite("theta0", [0.0, np.nan])
    with pytest.raises(ValueError, match="x must be positive"):
        _checks.check_values("x", np.array([1, -2]), lambda a: a > 0, "positive")


def test_one_registry_of_ptilde_families():
    """The names accepted as ``dist`` are exactly the registered families."""
    assert resonance.DISTRIBUTIONS == ("goe", "poisson")
    for name in resonance.DISTRIBUTIONS:
        assert resonance.family(name).name == name
    with pytest.raises(ValueError, match=r"dist must be one of \['goe', 'poisson'\], got None"):
        resonance.family(None)


def test_value_checks_are_skipped_under_tracing():
    def f(x):
        assert not _checks.is_concrete(x)
        _checks.check_nonnegative("x", x)
        _checks.check_finite("x", x)
        _checks.check_values("x", x, lambda a: a > 0, "positive")
        return x

    assert _checks.is_concrete(np.ones(2)) and _checks.is_concrete(jnp.ones(2))
    np.testing.assert_array_equal(jax.jit(f)(jnp.array([-1.0, np.nan])), [-1.0, np.nan])
    np.testing.assert_array_equal(jax.vmap(f)(jnp.array([-1.0])), [-1.0])
