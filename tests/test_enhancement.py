"""eta(g) and the single-l-bit observables (docs/theory.md; Appendix A).

jit / vmap / grad of these functions are in test_transformations.py.
"""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf.enhancement import eta_quadrature

DISTS = ["goe", "poisson"]


@pytest.mark.parametrize("dist", DISTS)
def test_quadrature_converged_by_doubling_nodes(dist):
    g = jnp.array([1e-12, 1e-5, 0.5, 40.0])
    e1 = np.asarray(eta_quadrature(g, dist))
    e2 = np.asarray(eta_quadrature(g, dist, refine=2))
    np.testing.assert_allclose(e1, e2, rtol=1e-11)


@pytest.mark.parametrize("dist", DISTS)
def test_table_matches_direct_quadrature_off_grid(dist):
    # random log-uniform points are off the 100-per-decade grid (generic)
    g = 10 ** np.random.default_rng(7).uniform(-12, 6, 30)
    e_tab = np.asarray(jaxmf.eta(g, dist))
    e_quad = np.asarray(eta_quadrature(jnp.asarray(g), dist))
    np.testing.assert_allclose(e_tab, e_quad, rtol=1e-9, atol=0)


@pytest.mark.parametrize("dist", DISTS)
def test_eta_limits_and_monotone(dist):
    assert float(jaxmf.eta(0.0, dist)) == 0.0
    assert float(jaxmf.eta(jnp.inf, dist)) == pytest.approx(np.log(2), abs=1e-15)
    g = np.logspace(-14, 8, 4001)
    e = np.asarray(jaxmf.eta(g, dist))
    assert np.all(np.diff(e) >= -2e-16)  # monotone up to rounding at the log 2 plateau
    assert np.all((e >= 0) & (e <= np.log(2) + 1e-15))
    # extrapolations outside the table agree with direct quadrature
    for gg in [3e-13, 1e-13]:
        expected = float(eta_quadrature(gg, dist))
        assert float(jaxmf.eta(gg, dist)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("dist", DISTS)
def test_log2_minus_eta_decays_as_g_to_minus_four(dist):
    # fitted from the direct quadrature (not the table)
    g = np.logspace(np.log10(3.0), np.log10(20.0), 8)
    gap = np.log(2) - np.asarray(eta_quadrature(jnp.asarray(g), dist))
    slope = np.polyfit(np.log(g), np.log(gap), 1)[0]
    assert slope == pytest.approx(-4.0, abs=0.1)


@pytest.mark.parametrize("dist", DISTS)
def test_small_g_asymptote_minus_8_g_log_g(dist):
    """eta / (-8 g log g) -> 1 with a 1/log(1/g) correction (docs/theory.md, section 4):
    ratio = 1 - c / log(1/g). Fit c on two points, predict the third, and check the
    ratio moves towards 1."""
    g = np.array([1e-6, 1e-9, 1e-12])
    L = np.log(1 / g)
    ratio = np.asarray(eta_quadrature(jnp.asarray(g), dist)) / (8 * g * L)
    c = (1 - ratio) * L
    assert np.all(np.diff(np.abs(1 - ratio)) < 0)
    assert c[2] == pytest.approx(c[1], rel=0.05)
    assert c[1] == pytest.approx(c[0], rel=0.1)


@pytest.mark.parametrize("dist", DISTS)
def test_mean_entropy_and_czz_small_g_slope_two_pi(dist):
    # exact small-g limits from the universal 2/x^2 tail (docs/theory.md, section 3)
    g = np.array([1e-7, 1e-9])
    s_ratio = np.asarray(jaxmf.mean_entropy(g, dist)) / g
    c_ratio = (1 - np.asarray(jaxmf.czz(g, dist))) / g
    np.testing.assert_allclose(s_ratio, 2 * np.pi, rtol=2e-4)
    np.testing.assert_allclose(c_ratio, 2 * np.pi, rtol=2e-4)


@pytest.mark.parametrize("dist", DISTS)
def test_observables_large_g_limits(dist):
    assert float(jaxmf.mean_entropy(1e5, dist)) == pytest.approx(np.log(2), abs=1e-6)
    assert float(jaxmf.czz(1e5, dist)) == pytest.approx(0.0, abs=1e-6)
    g = np.logspace(-6, 4, 50)
    assert np.all(np.diff(np.asarray(jaxmf.mean_entropy(g, dist))) > 0)
    assert np.all(np.diff(np.asarray(jaxmf.czz(g, dist))) < 0)


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("g", [0.05, 0.5, 3.0])
def test_entropy_pdf_normalized_with_mean_s(dist, g):
    """p_S integrated over S (an independent route from the g_a quadrature of [S]).

    The density diverges as (log 2 - S)^(-1/2) at S -> log 2, so substitute
    S = log 2 - v^2 (the integrand 2 v p_S is then bounded) and use the midpoint rule
    on a fine uniform grid (O(h^2) even across the kinks of the goe table density).
    """
    n = 400_000
    h = np.sqrt(np.log(2)) / n
    v = (np.arange(n) + 0.5) * h
    S = np.log(2) - v**2
    f = 2 * v * h * np.asarray(jaxmf.entropy_pdf(S, g, dist))
    tol = 1e-8 if dist == "poisson" else 1e-7  # goe: tabulated density, kinks at nodes
    assert np.sum(f) == pytest.approx(1.0, abs=tol)
    assert np.sum(f * S) == pytest.approx(float(jaxmf.mean_entropy(g, dist)), abs=tol)


@pytest.mark.parametrize("dist", DISTS)
def test_resonance_pdf_scaling(dist):
    g = 0.3
    ga = np.array([0.1, 1.0, 5.0])
    np.testing.assert_allclose(
        jaxmf.resonance_pdf(ga, g, dist), jaxmf.resonance.family(dist).pdf(ga / g) / g, rtol=1e-14
    )
    # midpoint rule in log g_a over [0.1 g, 1e4 g]; beyond, the tail mass is ~2e-4
    u = np.linspace(np.log(0.1 * g), np.log(1e4 * g), 200_001)
    um = 0.5 * (u[1:] + u[:-1])
    total = np.sum(np.asarray(jaxmf.resonance_pdf(np.exp(um), g, dist)) * np.exp(um) * np.diff(u))
    assert total + 2e-4 == pytest.approx(1.0, abs=1e-6)


def test_bad_input_named():
    with pytest.raises(ValueError, match="g must lie in"):
        jaxmf.eta(np.array([0.1, -1.0]))
    with pytest.raises(ValueError, match="g contains NaN"):
        jaxmf.mean_entropy(np.nan)
    with pytest.raises(ValueError, match="g must lie in \\(0, inf\\]"):
        jaxmf.entropy_pdf(0.3, 0.0)
    with pytest.raises(ValueError, match="dist must be one of"):
        jaxmf.czz(0.1, dist="gue")
