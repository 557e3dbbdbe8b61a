"""Resonance functions P, Q, S, K and the ptilde families (docs/theory.md; A3-A11).

jit / vmap / grad against finite differences are in test_transformations.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erfcinv

import jaxmf
from jaxmf import resonance
from jaxmf.resonance import entropy, family, k_minus_one, overlap_k, resonance_probability
from jaxmf.tables import goe as goe_table

from .helpers import fd_derivative

DISTS = ["goe", "poisson"]


def test_p_q_s_k_reference_values():
    # direct (cancellation-prone) formulas at moderate g, where they are accurate
    g = np.array([0.05, 0.3, 1.0, 4.0])
    p_ref = (1 - 1 / np.sqrt(1 + 4 * g**2)) / 2
    np.testing.assert_allclose(resonance_probability(g), p_ref, rtol=1e-13)
    s_ref = -p_ref * np.log(p_ref) - (1 - p_ref) * np.log(1 - p_ref)
    np.testing.assert_allclose(entropy(g), s_ref, rtol=1e-13)
    pa, pb = p_ref[:, None], p_ref[None, :]
    k_ref = np.sqrt(pa * pb + (1 - pa) * (1 - pb)) + np.sqrt(pa * (1 - pb) + (1 - pa) * pb)
    np.testing.assert_allclose(overlap_k(g[:, None], g[None, :]), k_ref, rtol=1e-13)


def test_small_g_series_is_accurate():
    # P = g^2 - 3 g^4 + O(g^6): the stable form keeps full relative precision
    g = np.array([1e-8, 1e-5, 1e-3])
    np.testing.assert_allclose(resonance_probability(g), g**2 - 3 * g**4, rtol=1e-10)
    # K - 1 = sqrt(P + P') + O(P) for small couplings
    km1 = k_minus_one(1e-9, 2e-9)
    assert km1 == pytest.approx(np.sqrt(5e-18), rel=1e-8)


def test_limits_at_zero_and_infinity():
    g = jnp.array([0.0, jnp.inf])
    np.testing.assert_array_equal(resonance_probability(g), [0.0, 0.5])
    np.testing.assert_allclose(entropy(g), [0.0, np.log(2)], atol=1e-15)
    np.testing.assert_allclose(overlap_k(0.0, 0.0), 1.0)
    np.testing.assert_allclose(overlap_k(jnp.inf, jnp.inf), np.sqrt(2.0), rtol=1e-15)
    np.testing.assert_allclose(overlap_k(0.0, jnp.inf), np.sqrt(2.0), rtol=1e-15)


@pytest.mark.parametrize(
    "fn",
    [
        resonance_probability,
        entropy,
        lambda g: overlap_k(g, 0.0),
        lambda g: overlap_k(g, g),
        lambda g: overlap_k(g, 0.7),
    ],
)
def test_derivatives_finite_on_closed_half_line(fn):
    g = jnp.array([0.0, 1e-300, 1e-10, 1.0, 1e10, 1e200, jnp.inf])
    d = jax.vmap(jax.grad(fn))(g)
    assert np.all(np.isfinite(np.asarray(d)))


# ---- families ----------------------------------------------------------------------


@pytest.mark.parametrize("dist", DISTS)
def test_family_normalized(dist):
    fam = family(dist)
    # midpoint rule in u = log x on a fine grid (independent of the package's rule;
    # O(h^2) across the kinks of the goe table density), plus the tail beyond x = 120
    u = np.linspace(np.log(0.2), np.log(120.0), 1_000_001)
    um = 0.5 * (u[1:] + u[:-1])
    body = np.sum(np.asarray(fam.pdf(np.exp(um))) * np.exp(um) * np.diff(u))
    tail = 1.0 - float(fam.cdf(120.0))
    assert body + tail == pytest.approx(1.0, abs=1e-9)
    # the package's own quadrature weights sum to one
    _, w = jaxmf.enhancement.quadrature_nodes(dist)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("dist", DISTS)
def test_tail_is_two_over_x_squared(dist):
    fam = family(dist)
    x = jnp.array([200.0, 1e3, 1e5])
    np.testing.assert_allclose(fam.pdf(x) * x**2 / 2, 1.0, rtol=1e-4)


def test_poisson_closed_form():
    x = np.array([0.5, 1.0, 3.0, 10.0])
    np.testing.assert_allclose(
        resonance.POISSON.pdf(x), 2 / x**2 * np.exp(-np.pi / x**2), rtol=1e-14
    )
    # the median is sqrt(pi) / erfcinv(1/2) = 3.72 (docs/theory.md, section 2)
    median = np.sqrt(np.pi) / erfcinv(0.5)
    assert float(resonance.POISSON.quantile(0.5)) == pytest.approx(median, rel=1e-12)
    # pdf is the derivative of cdf
    fd = fd_derivative(resonance.POISSON.cdf, x, 1e-6)
    np.testing.assert_allclose(resonance.POISSON.pdf(x), fd, rtol=1e-7)


@pytest.mark.parametrize("dist", DISTS)
def test_quantile_round_trips_cdf(dist):
    fam = family(dist)
    t = jnp.array([1e-9, 1e-4, 0.01, 0.2, 0.5, 0.9, 0.99, 0.999, 1 - 1e-9])
    tol = 1e-12 if dist == "poisson" else 1e-10
    np.testing.assert_allclose(fam.cdf(fam.quantile(t)), t, rtol=tol, atol=tol)


def test_goe_table_facts():
    goe = resonance.GOE
    # docs/theory.md, section 2: median near 4.3; small-x edge much sharper than poisson's
    assert 4.2 < float(goe.quantile(0.5)) < 4.4
    # edge F ~ exp(-a / x^2): a of order pi^3/4 = 7.75 for goe (the paper's (A3)),
    # against pi (plus a slowly varying prefactor) for poisson
    x = np.array([0.9, 1.1, 1.5])
    a_goe = -np.diff(np.log(np.asarray(goe.cdf(x)))) / np.diff(1 / x**2)
    a_poi = -np.diff(np.log(np.asarray(resonance.POISSON.cdf(x)))) / np.diff(1 / x**2)
    assert np.all(np.abs(a_goe - np.pi**3 / 4) < 0.5)
    assert np.all(a_poi < 4.0)
    # table pdf is the exact derivative of its cdf (consistent interpolation)
    x = jnp.array([1.3, 2.7, 4.4, 9.1, 33.0])
    np.testing.assert_allclose(goe.pdf(x), fd_derivative(goe.cdf, x, 1e-6), rtol=1e-6)
    info = resonance.goe_table_info()
    assert info["n_samples"] >= 10_000_000 and "goe-table" in info["command"]


def test_goe_table_agrees_with_independent_monte_carlo():
    """Fresh sample (different seed from the shipped table) vs the table's CDF.

    Errors come from batch means over spectra (samples within one spectrum are
    correlated); the table's own sampling error (1e7 samples) is added in quadrature.
    """
    x = goe_table.sample_goe(100 * goe_table.SAMPLES_PER_SPECTRUM, key=jax.random.key(12345))
    info = resonance.goe_table_info()
    assert info["seed"] != 12345
    for xc in [1.5, 2.5, 3.5, 4.3, 6.0, 10.0, 25.0, 60.0]:
        per_spec = (x <= xc).mean(axis=1)
        mean = per_spec.mean()
        err_mc = per_spec.std(ddof=1) / np.sqrt(per_spec.size)
        err_tab = err_mc * np.sqrt(x.size / info["n_samples"])
        z = (float(resonance.GOE.cdf(xc)) - mean) / np.hypot(err_mc, err_tab)
        assert abs(z) < 4.5, (xc, z)


def test_unknown_dist_lists_choices():
    with pytest.raises(ValueError, match="goe.*poisson"):
        family("wigner")
    with pytest.raises(ValueError, match="dist must be one of"):
        jaxmf.eta(1.0, dist="GOE ")
