"""Tests for jaxmf.analysis.thresholds: d eta_tot / dW, d eta_tot / dg0, the W_th finder."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf.meanfield import avalanches
from jaxmf.analysis import thresholds
from jaxmf.models import lattice


def _fd(f, x, h):
    return (float(f(x + h)) - float(f(x - h))) / (2 * h)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("R, W, theta0, method", [
    (3, 90.0, 0.7, "eigh"), (4, 90.0, 2.954, "eigh"), (5, 120.0, 1.3, "fast"),
    (6, 75.0, 2.954, "eigh"),
])
def test_grad_W_matches_finite_differences(R, W, theta0, method):
    # failed avalanches (away from the threshold): eta_tot is smooth in W
    f = lambda w: thresholds.eta_tot(R, w, theta0=theta0, method=method)  # noqa: E731
    g = float(jax.grad(f)(W))
    assert not bool(avalanches(jaxmf.solve(lattice.bare_couplings(R, W, theta0=theta0))))
    assert g < 0  # stronger disorder, weaker couplings, smaller enhancement
    assert g == pytest.approx(_fd(f, W, 1e-3), rel=1e-6)
    # the same through solve(bare_couplings(...)) as a user would write it
    g2 = jax.grad(lambda w: jaxmf.solve(lattice.bare_couplings(
        R, w, theta0=theta0, method=method)).eta_tot)(W)
    assert float(g2) == pytest.approx(g, rel=1e-12)


@pytest.mark.parametrize("R, W, kind", [(4, 90.0, "qp"), (5, 150.0, "random")])
def test_grad_g0_matches_finite_differences(R, W, kind):
    kw = dict(theta0=2.954) if kind == "qp" else dict(key=jax.random.key(3), kind=kind)
    f = lambda g0: thresholds.eta_tot(R, W, g0=g0, **kw)  # noqa: E731
    g = float(jax.grad(f)(1.0))
    assert g > 0
    assert g == pytest.approx(_fd(f, 1.0, 1e-4), rel=1e-6)


def test_grad_vmap_and_jit():
    thetas = jnp.array([0.7, 2.954])
    f = jax.jit(jax.vmap(jax.grad(lambda w, t: thresholds.eta_tot(4, w, theta0=t)),
                         in_axes=(None, 0)))
    batched = f(90.0, thetas)
    for t, b in zip(thetas, batched):
        assert float(b) == pytest.approx(
            float(jax.grad(lambda w: thresholds.eta_tot(4, w, theta0=t))(90.0)), rel=1e-10)


# --------------------------------------------------------------------------- threshold
@pytest.fixture(scope="module")
def found():
    theta = np.array([2.954, 0.7])
    return theta, thresholds.threshold_W(4, theta, W_min=20.0, W_max=200.0, n_scan=10)


def test_threshold_brackets_a_flag_change(found):
    theta, res = found
    assert np.all(res.status == 0)
    assert np.all(res.W_fail - res.W_aval <= 1e-9 * res.W_fail)
    for i, t in enumerate(theta):
        flag = lambda w: bool(avalanches(jaxmf.solve(  # noqa: E731
            lattice.bare_couplings(4, w, theta0=t))))
        assert flag(res.W_aval[i]) and not flag(res.W_fail[i])
        # above the bracket (up to the scan's end) it stays failed
        assert not any(flag(w) for w in np.linspace(res.W_fail[i], 200.0, 5))
    # the fold estimate from the gradient lies inside the bracket (within its error)
    tol = res.W_fold_err + 1e-9 * res.W_fail
    assert np.all((res.W_fold > res.W_aval - tol) & (res.W_fold < res.W_fail + tol))
    # a fold: the slope on the failed side is steep and the failed avalanche finite
    assert np.all(res.slope_fail < -100) and np.all(res.eta_fail < 20)


def test_threshold_is_reproducible_and_scalar_consistent(found):
    theta, res = found
    again = thresholds.threshold_W(4, theta, W_min=20.0, W_max=200.0, n_scan=10)
    for a, b in zip(res, again):
        np.testing.assert_array_equal(a, b)
    one = thresholds.threshold_W(4, theta[0], W_min=20.0, W_max=200.0, n_scan=10)
    assert np.ndim(one.W_aval) == 0
    assert one.W_aval == res.W_aval[0] and one.W_fail == res.W_fail[0]


def test_threshold_status_out_of_range():
    res = thresholds.threshold_W(4, [2.954], W_min=150.0, W_max=200.0, n_scan=2,
                                 refine=False)
    assert res.status[0] == 1 and np.isnan(res.W_aval[0]) and res.W_fail[0] == 150.0
    res = thresholds.threshold_W(4, [2.954], W_min=10.0, W_max=20.0, n_scan=2,
                                 refine=False)
    assert res.status[0] == 2 and np.isnan(res.W_fail[0])


@pytest.mark.parametrize("kw, match", [
    (dict(R=-1, theta0=0.1), "R"),
    (dict(R=3, theta0=np.nan), "theta0"),
    (dict(R=3, theta0=0.1, W_min=5.0, W_max=1.0), "W_min"),
    (dict(R=3, theta0=0.1, W_min=-1.0), "W_min"),
    (dict(R=3, theta0=0.1, dist="wigner"), "dist"),
    (dict(R=3, theta0=0.1, g0=-1.0), "g0"),
    (dict(R=3, theta0=0.1, method="lanczos"), "method"),
])
def test_threshold_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        thresholds.threshold_W(**kw)


@pytest.mark.slow
def test_threshold_fold_estimate_accuracy():
    # W_fold (gradient) against a bisection bracket of width ~1e-13 relative
    theta = np.array([0.3, 2.954, 4.0])
    res = thresholds.threshold_W(8, theta, W_min=40.0, W_max=200.0, n_scan=17)
    ref = thresholds.threshold_W(8, theta, W_min=40.0, W_max=200.0, n_scan=17,
                                 refine=False, rtol=1e-14)
    centre = 0.5 * (ref.W_aval + ref.W_fail)
    assert np.all(np.abs(res.W_fold - centre) < 1e-9)
    assert np.all((res.W_aval <= ref.W_aval) & (ref.W_fail <= res.W_fail))


def test_qp_threshold_bisection_brackets_the_flag():
    m = thresholds.qp_threshold_map(2, [0.3, 2.0], g0=0.1, W_grid=np.geomspace(1, 200, 12),
                                    rtol=1e-3)
    for th, wt in zip(m["theta0"], m["W_th"]):
        assert np.isfinite(wt)
        below, above = thresholds.qp_eta_tot(2, [th, th], [wt * 0.995, wt * 1.005], g0=0.1)
        assert below > 1.0 and above <= 1.0


def test_sup_threshold_zooms_reach_the_dense_grid_maximum():
    # reference: the maximum of an independent dense map (512 phases); the zoomed search
    # starts from 16 phases and must reach it (or exceed it: spikes between grid points)
    Wg = np.geomspace(1.0, 200.0, 12)
    dense = thresholds.qp_threshold_map(2, np.arange(512) * 2 * np.pi / 512, g0=0.1,
                                        W_grid=Wg, rtol=1e-4)
    s = thresholds.sup_threshold(2, g0=0.1, n_theta=16, n_starts=3, n_zoom=4, W_grid=Wg)
    assert s["sup"] >= np.nanmax(dense["W_th"]) * (1 - 2e-4)
    assert np.all(np.diff(s["history"]) >= 0) and s["history"][0] <= s["sup"]
    again = thresholds.qp_threshold_map(2, [s["theta_star"]], g0=0.1, W_grid=Wg, rtol=1e-4)
    assert again["W_th"][0] == pytest.approx(s["sup"], rel=2e-4)
