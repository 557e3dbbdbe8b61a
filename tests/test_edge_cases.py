"""Arguments at the edges of their range, each of which once gave a silent wrong number
or an error from deep inside JAX: now a ValueError naming the argument and its range."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf.models import lattice

G0 = np.array([0.3, 0.2, 0.1])


@pytest.mark.parametrize("rtol", [1e3, 1.0, 0.0, -1.0, np.nan, np.inf, "1e-8", True])
def test_solve_refuses_rtol_outside_zero_one(rtol):
    """rtol = 1e3 used to report converged with eta_tot 4.9 (true 12.5); -1 and NaN
    silently ran every step."""
    with pytest.raises(ValueError, match=r"rtol must be a number in \(0, 1\)"):
        jaxmf.solve(G0, rtol=rtol)


@pytest.mark.parametrize("max_steps", [1.5, 0, -3, "10", True])
def test_solve_refuses_max_steps_that_is_not_a_positive_integer(max_steps):
    with pytest.raises(ValueError, match="max_steps must be an integer >= 1"):
        jaxmf.solve(G0, max_steps=max_steps)


def test_solve_accepts_the_edges_of_the_ranges():
    ref = jaxmf.solve(G0)
    loose = jaxmf.solve(G0, rtol=0.5, max_steps=1)
    assert bool(ref.converged) and np.isfinite(float(loose.eta_tot))


def test_solve_refuses_empty_n_under_jit():
    """N = 0 under jit used to raise ZeroDivisionError; the shape is static, so the
    error is the eager one."""
    with pytest.raises(ValueError, match="N >= 1"):
        jax.jit(jaxmf.solve)(jnp.zeros((3, 0)))
    with pytest.raises(ValueError, match="N >= 1"):
        jax.vmap(jaxmf.solve)(jnp.zeros((3, 0)))


@pytest.mark.parametrize("key", [0, 5.0, np.uint32(3), np.zeros(3, np.uint32)])
def test_random_lattice_needs_a_prng_key(key):
    """key=0 used to fail inside JAX's PRNG with an unrelated message."""
    with pytest.raises((TypeError, ValueError), match="PRNG key"):
        lattice.bare_couplings(2, 5.0, kind="random", key=key)


def test_random_lattice_takes_typed_and_vmapped_keys():
    typed = lattice.bare_couplings(1, 5.0, kind="random", key=jax.random.key(3))
    keys = jax.random.split(jax.random.key(3), 2)
    batch = jax.vmap(lambda k: lattice.bare_couplings(1, 5.0, kind="random", key=k))(keys)
    assert typed.shape == (5,) and batch.shape == (2, 5)
    np.testing.assert_array_equal(
        batch[1], lattice.bare_couplings(1, 5.0, kind="random", key=keys[1])
    )
