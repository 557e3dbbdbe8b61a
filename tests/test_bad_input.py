"""Bad input through every public entry point: eager calls raise a ValueError naming the
argument; under jit (where values cannot be checked) the outputs that depend on a bad
value are NaN, and solve reports converged=False for that realization."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf.analysis import symmetric_fold, thresholds
from jaxmf.models import QPPhase, chain, lattice

BAD = [np.nan, -1.0]  # values no coupling may take
GOOD = 0.7

# name -> (function of one array argument x, the argument's name in the error);
# every entry also takes the good value GOOD and gives finite output there
ENTRY = {
    "resonance_probability": (jaxmf.resonance_probability, "g"),
    "entropy": (jaxmf.entropy, "g"),
    "overlap_k": (lambda x: jaxmf.overlap_k(x, 1.0), "g"),
    "eta": (jaxmf.eta, "g"),
    "mean_entropy": (jaxmf.mean_entropy, "g"),
    "czz": (jaxmf.czz, "g"),
    "entropy_pdf(g)": (lambda x: jaxmf.entropy_pdf(0.3, x), "g"),
    "resonance_pdf(g)": (lambda x: jaxmf.resonance_pdf(0.3, x), "g"),
    "resonance_pdf(g_a)": (lambda x: jaxmf.resonance_pdf(x, 1.0), "g_a"),
    "solve": (lambda x: jaxmf.solve(jnp.stack([jnp.asarray(x, float), 0.1])).eta_tot, "g0"),
    "drh_couplings(alpha)": (lambda x: chain.drh_couplings(4, x), "alpha"),
    "drh_couplings(g10)": (lambda x: chain.drh_couplings(4, 0.6, x), "g10"),
    "bare_couplings(W)": (lambda x: lattice.bare_couplings(2, x, theta0=0.3), "W"),
    "bare_couplings(g0)": (lambda x: lattice.bare_couplings(2, 5.0, g0=x, theta0=0.3), "g0"),
    "couplings_from_potential(g0)": (
        lambda x: lattice.couplings_from_potential(jnp.zeros(13), 2, g0=x),
        "g0",
    ),
    "lattice eta_tot(g0)": (
        lambda x: thresholds.eta_tot(2, 5.0, g0=x, realization=QPPhase(0.3)),
        "g0",
    ),
}


@pytest.mark.parametrize("name", list(ENTRY))
@pytest.mark.parametrize("bad", BAD, ids=["nan", "negative"])
def test_eager_bad_value_raises_naming_the_argument(name, bad):
    f, arg = ENTRY[name]
    assert np.all(np.isfinite(np.asarray(f(GOOD))))
    with pytest.raises(ValueError, match=arg):
        f(bad)


@pytest.mark.parametrize("name", list(ENTRY))
@pytest.mark.parametrize("bad", BAD, ids=["nan", "negative"])
def test_jitted_bad_value_gives_nan(name, bad):
    f, _ = ENTRY[name]
    jf = jax.jit(f)
    assert np.all(np.isfinite(np.asarray(jf(GOOD))))
    assert np.all(np.isnan(np.asarray(jf(bad))))


@pytest.mark.parametrize("bad", [np.nan, -1.0, np.inf], ids=["nan", "negative", "inf"])
def test_jitted_solve_flags_only_the_bad_realization(bad):
    g0 = jnp.array([[0.1, 0.2, 0.3], [0.1, bad, 0.3], [0.0, 0.0, 0.0]])
    res = jax.jit(jaxmf.solve)(g0)
    assert list(np.asarray(res.converged)) == [True, False, True]
    assert np.isnan(res.eta_tot[1]) and np.all(np.isnan(res.g[1]))
    assert np.isnan(res.stability[1])
    # the good rows are the eager solution; an all-zero realization is a valid empty bath
    eager = jaxmf.solve(g0[::2])
    np.testing.assert_allclose(res.eta_tot[::2], eager.eta_tot, rtol=1e-14)
    assert float(res.eta_tot[2]) == 0.0


def test_jitted_solve_log_input():
    res = jax.jit(lambda l: jaxmf.solve(l, log_input=True))(
        jnp.array([[-2.0, jnp.nan], [-2.0, jnp.inf]])
    )
    assert not np.any(np.asarray(res.converged)) and np.all(np.isnan(res.eta_tot))


def test_zeros_are_valid():
    assert float(jaxmf.eta(0.0)) == 0.0 and float(jaxmf.czz(0.0)) == 1.0
    assert float(jaxmf.mean_entropy(0.0)) == 0.0
    res = jaxmf.solve(np.zeros(5))
    assert bool(res.converged) and float(res.eta_tot) == 0.0 and int(res.n_lbits) == 0


@pytest.mark.parametrize(
    "g0, match",
    [
        (np.zeros((3, 0)), "N >= 1"),
        (np.zeros(()), "N >= 1"),
    ],
)
def test_empty_input_is_refused(g0, match):
    with pytest.raises(ValueError, match=match):
        jaxmf.solve(g0)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match="mask"):
        jaxmf.solve(np.full((2, 3), 0.1), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="V"):
        lattice.couplings_from_potential(np.zeros(12), 2)
    with pytest.raises((ValueError, TypeError)):
        jaxmf.entropy_pdf(np.full(3, 0.3), np.ones(4))


def test_critical_coupling_bad_N():
    with pytest.raises(ValueError, match="N"):
        symmetric_fold.critical_coupling(1)
    gc = jax.jit(symmetric_fold.critical_coupling)(jnp.array([1.0, np.nan, 100.0]))
    assert np.isnan(gc[0]) and np.isnan(gc[1]) and np.isfinite(gc[2])


def test_critical_log_scale_bad_input():
    with pytest.raises(ValueError, match="g0"):
        jaxmf.critical_log_scale(np.array([np.log(0.1), np.nan]))
    with pytest.raises(ValueError, match="bracket"):
        jaxmf.critical_log_scale(np.log([0.1, 0.2]), bracket=(1.0, -1.0))
