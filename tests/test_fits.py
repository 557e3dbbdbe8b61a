"""Tests for jaxmf.analysis.fits (optax least squares) and the fits that use it.

References are independent implementations: numpy's linear least squares,
scipy.optimize.curve_fit / least_squares (MINPACK Levenberg-Marquardt), and
scipy.optimize.brentq on the same monotone mean-field function.
"""

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import optimize

import jaxmf  # noqa: F401  (float64)
from jaxmf.analysis import ed_compare as ec
from jaxmf.analysis.fits import LeastSquaresResult, least_squares

from .helpers import fd_derivative

DOCS_DATA = Path(__file__).parent.parent / "docs" / "data"


def power_law(p, x, y):
    """A x^-nu + B - y, the law of the Fig. 3(b) fit."""
    return p[0] * x ** (-p[1]) + p[2] - y


def _power_law_np(x, A, nu, B):
    return A * x ** (-nu) + B


def _power_law_jac(p, x):
    t = x ** (-p[1])
    return np.stack([t, -p[0] * np.log(x) * t, np.ones_like(x)], axis=1)


def weighted_decay(p, t, y, s):
    """(a exp(-t / tau) + c - y) / s, with parameters of very different size."""
    return (p[0] * jnp.exp(-t / p[1]) + p[2] - y) / s


X = np.geomspace(0.003, 0.2, 24)


# -------------------------------------------------------------------- synthetic data
def test_recovers_known_parameters_from_exact_data():
    truth = np.array([1.65, 0.999, -0.86])
    y = _power_law_np(X, *truth)
    fit = least_squares(power_law, [1.0, 1.0, 1.0], X, y)
    assert isinstance(fit, LeastSquaresResult) and fit.converged and fit.iterations > 0
    np.testing.assert_allclose(fit.params, truth, rtol=1e-9)
    assert fit.chi2 < 1e-18 and fit.dof == X.size - 3


def test_linear_model_matches_numpy_lstsq():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(30, 4))
    y = A @ np.array([0.5, -2.0, 3.0, 1e-3]) + 0.1 * rng.normal(size=30)
    fit = least_squares(lambda p, A, y: A @ p - y, np.zeros(4), A, y)
    ref, rss, *_ = np.linalg.lstsq(A, y, rcond=None)
    np.testing.assert_allclose(fit.params, ref, rtol=1e-9, atol=1e-12)
    assert fit.chi2 == pytest.approx(rss[0], rel=1e-12)
    np.testing.assert_allclose(fit.covariance, np.linalg.inv(A.T @ A), rtol=1e-10)


def test_power_law_matches_curve_fit_and_minpack():
    """Noisy Fig. 3(b)-like data: the same minimum and covariance as scipy."""
    rng = np.random.default_rng(0)
    y = _power_law_np(X, 1.6, 0.99, -0.9) * (1 + 0.01 * rng.normal(size=X.size))
    fit = least_squares(power_law, [1.0, 1.0, 1.0], X, y)
    p_cf, cov_cf = optimize.curve_fit(_power_law_np, X, y, p0=(1.0, 1.0, 1.0))
    lm = optimize.least_squares(
        lambda p: _power_law_np(X, *p) - y,
        [1.0, 1.0, 1.0],
        jac=lambda p: _power_law_jac(p, X),
        method="lm",
        xtol=1e-15,
        ftol=1e-15,
        gtol=1e-15,
    )
    err = np.sqrt(np.diag(cov_cf))
    # the minimum is flat to rounding within ~1e-7 standard errors
    assert np.all(np.abs(fit.params - lm.x) < 1e-6 * err)
    assert np.all(np.abs(fit.params - p_cf) < 1e-5 * err)
    assert fit.chi2 == pytest.approx(2 * lm.cost, rel=1e-10)
    np.testing.assert_allclose(fit.scaled_covariance, cov_cf, rtol=1e-5)
    np.testing.assert_allclose(fit.jacobian, _power_law_jac(fit.params, X), rtol=1e-12)


def test_weighted_badly_scaled_model_matches_curve_fit_absolute_sigma():
    """Parameters of size 1e3, 1e-2 and 1; residuals divided by known errors."""
    rng = np.random.default_rng(2)
    t = np.linspace(0.0, 0.05, 40)
    s = np.full(t.size, 5.0)
    y = 2e3 * np.exp(-t / 0.012) + 3.0 + s * rng.normal(size=t.size)
    fit = least_squares(weighted_decay, [1e3, 0.02, 0.0], t, y, s)
    p, cov = optimize.curve_fit(
        lambda t, a, tau, c: a * np.exp(-t / tau) + c,
        t,
        y,
        p0=(1e3, 0.02, 0.0),
        sigma=s,
        absolute_sigma=True,
    )
    assert fit.converged
    np.testing.assert_allclose(fit.params, p, rtol=1e-6)
    np.testing.assert_allclose(fit.covariance, cov, rtol=1e-5)
    np.testing.assert_allclose(fit.errors, np.sqrt(np.diag(cov)), rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="params0"):
        least_squares(power_law, np.ones((3, 1)), X, X)
    with pytest.raises(ValueError, match="max_iter"):
        least_squares(power_law, [1.0, 1.0, 1.0], X, X, max_iter=0)
    with pytest.raises(ValueError, match="gtol"):
        least_squares(power_law, [1.0, 1.0, 1.0], X, X, gtol=-1.0)


# ------------------------------------------------------------- g10 = g_{1,0} at alpha_c
def _ed_at_alpha_c(chains):
    y, e = [], []
    for c in chains:
        i = int(np.flatnonzero(np.isclose(c["alphas"], ec.ALPHA_C))[0])
        y.append(c["mean_all"][i])
        e.append(c["stderr_all"][i])
    return np.array(y), np.array(e)


def _brentq_fits(Ns, y, e, dist="goe"):
    """Per-N roots MF_N(g10) = y_N and the shared minimum of chi^2 by brentq in log g10
    (d chi^2 / d log g10 from central differences, not from JAX)."""

    def mf(N, lg):
        return float(ec.mf_end_entropy(N, ec.ALPHA_C, np.exp(lg), dist))

    def root(N, yN):
        return optimize.brentq(
            lambda lg: mf(N, lg) - yN, np.log(1e-3), np.log(2.0), xtol=1e-14, rtol=1e-14
        )

    per = [np.exp(root(N, yN)) for N, yN in zip(Ns, y)]
    h = 1e-4

    def dchi2(lg):
        return sum(
            (mf(N, lg) - yN) / eN**2 * (mf(N, lg + h) - mf(N, lg - h)) / (2 * h)
            for N, yN, eN in zip(Ns, y, e)
        )

    lo, hi = np.log(min(per)), np.log(max(per))
    return np.array(per), float(np.exp(optimize.brentq(dchi2, lo, hi, xtol=1e-13)))


def test_fit_bare_coupling_matches_brentq_on_stored_ed_data():
    """ED data of docs/data (N = 6, 7, goe, all states): the optax fits equal the
    brentq roots and minimum of the same mean-field function."""
    ed_data = json.loads((DOCS_DATA / "fig2a_goe.json").read_text())["ed"]
    ed_data["chains"] = [c for c in ed_data["chains"] if c["N"] in (6, 7)]
    fit = ec.fit_bare_coupling(ed_data)
    y, e = _ed_at_alpha_c(ed_data["chains"])
    per, shared = _brentq_fits((6, 7), y, e)
    assert fit.converged and fit.Ns == [6, 7]
    np.testing.assert_allclose(fit.g10_per_N, per, rtol=1e-9)
    assert fit.g10 == pytest.approx(shared, rel=1e-8)

    # errors: (d MF_N / d g10)^-1 times the ED error, slope by central differences
    def slope(N, g):
        return fd_derivative(lambda x: ec.mf_end_entropy(N, ec.ALPHA_C, x), g, 1e-6 * g)

    slopes = np.array([slope(N, g) for N, g in zip((6, 7), per)])
    np.testing.assert_allclose(fit.g10_per_N_err, e / np.abs(slopes), rtol=1e-6)


@pytest.mark.slow
def test_fit_bare_coupling_reproduces_stored_fit():
    """N = 6-9 (docs/ed_vs_meanfield.md, section 2): g10 = 0.1018 +- 0.0007, chi^2 19.5,
    per N 0.1039, 0.1010, 0.0947, 0.090: the stored fit (made by a Newton/Gauss-Newton
    fit) and brentq agree with the optax fit."""
    stored = json.loads((DOCS_DATA / "fig2a_goe.json").read_text())
    fit = ec.fit_bare_coupling(stored["ed"])
    y, e = _ed_at_alpha_c(stored["ed"]["chains"])
    per, shared = _brentq_fits((6, 7, 8, 9), y, e)
    np.testing.assert_allclose(fit.g10_per_N, per, rtol=1e-9)
    assert fit.g10 == pytest.approx(shared, rel=1e-8)
    old = stored["fit"]  # stored with 6 significant digits
    assert fit.g10 == pytest.approx(old["g10"], rel=2e-5)
    assert fit.g10_err == pytest.approx(old["g10_err"], rel=2e-5)
    # chi^2 moves by ~2 r (0.5e-6 / err) ~ 1e-3 with the 6-digit rounding of the ED means
    assert fit.chi2 == pytest.approx(old["chi2"], abs=5e-3)
    np.testing.assert_allclose(fit.g10_per_N, old["g10_per_N"], rtol=2e-5)
    np.testing.assert_allclose(fit.g10_per_N_err, old["g10_per_N_err"], rtol=2e-5)
