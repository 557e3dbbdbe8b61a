"""jaxmf.analysis.thresholds: the avalanche threshold W_c(theta0) of QP lattices.

Gradients of eta_tot(W, g0) (jit / vmap / grad) are in test_transformations.py.
"""

import numpy as np
import pytest

import jaxmf
from jaxmf import Status
from jaxmf.analysis import thresholds
from jaxmf.meanfield import avalanches
from jaxmf.models import lattice

from .helpers import QP_R

THETAS = np.array([2.954, 0.7])
SCAN = dict(W_min=20.0, W_max=200.0, n_scan=10)


def _flag(W, theta0, R=QP_R, g0=1.0):
    """The avalanche flag (eq. 19) by a direct solve: the independent reference."""
    return bool(avalanches(jaxmf.solve(lattice.bare_couplings(R, W, g0=g0, theta0=theta0))))


@pytest.fixture(scope="module")
def found():
    return thresholds.threshold_W(QP_R, THETAS, **SCAN)


# --------------------------------------------------------------------------- status
def test_status_codes_and_messages():
    assert [int(s) for s in Status] == [0, 1, 2, 3]
    assert [s.name for s in Status] == ["OK", "NO_AVALANCHE", "AVALANCHE_AT_MAX", "NOT_CONVERGED"]
    messages = [s.message for s in Status]
    assert len(set(messages)) == 4 and all(isinstance(m, str) and m for m in messages)
    assert "converge" in Status.NOT_CONVERGED.message
    assert Status(2) is Status.AVALANCHE_AT_MAX and Status.OK == 0


# --------------------------------------------------------------------------- threshold_W
def test_threshold_brackets_a_flag_change(found):
    res = found
    assert isinstance(res, thresholds.ThresholdResult)
    assert all(Status(int(s)) is Status.OK for s in res.status)
    assert np.all(res.W_fail - res.W_aval <= 1e-9 * res.W_fail)
    for i, t in enumerate(THETAS):
        assert _flag(res.W_aval[i], t) and not _flag(res.W_fail[i], t)
        # above the bracket (up to the scan's end) it stays failed
        assert not any(_flag(w, t) for w in np.linspace(res.W_fail[i], 200.0, 4))
    # the fold estimate from the gradient lies inside the bracket (within its error)
    tol = res.W_fold_err + 1e-9 * res.W_fail
    assert np.all((res.W_fold > res.W_aval - tol) & (res.W_fold < res.W_fail + tol))
    # a fold: the slope on the failed side is steep and the failed avalanche finite
    assert np.all(res.slope_fail < -100) and np.all(res.eta_fail < 20)
    assert np.all(res.n_solves > SCAN["n_scan"])


def test_threshold_scalar_phase_is_one_element_of_the_batch(found):
    one = thresholds.threshold_W(QP_R, THETAS[0], **SCAN)
    assert np.ndim(one.W_aval) == 0 and np.ndim(one.status) == 0
    assert one.W_aval == found.W_aval[0] and one.W_fail == found.W_fail[0]
    assert one.status == Status.OK


def test_threshold_status_out_of_range():
    # the whole scan above the threshold: no avalanche; below it: avalanche at W_max
    res = thresholds.threshold_W(QP_R, THETAS, W_min=150.0, W_max=200.0, n_scan=2, refine=False)
    assert all(Status(int(s)) is Status.NO_AVALANCHE for s in res.status)
    assert np.all(np.isnan(res.W_aval)) and np.all(res.W_fail == 150.0)
    res = thresholds.threshold_W(QP_R, THETAS, W_min=10.0, W_max=20.0, n_scan=2, refine=False)
    assert all(Status(int(s)) is Status.AVALANCHE_AT_MAX for s in res.status)
    assert np.all(np.isnan(res.W_fail))


# --------------------------------------------------------------------------- maps
def test_qp_threshold_map_agrees_with_threshold_W(found):
    """The map and the single-phase finder share one scan and bisection: on the same
    grid the map's W_th lies within its rtol of the finder's (much tighter) bracket."""
    grid = np.linspace(SCAN["W_min"], SCAN["W_max"], SCAN["n_scan"])
    m = thresholds.qp_threshold_map(QP_R, THETAS, W_grid=grid, rtol=1e-3)
    assert isinstance(m, thresholds.ThresholdMap)
    np.testing.assert_array_equal(m.theta0, THETAS)
    np.testing.assert_array_equal(m.W_grid, grid)
    assert m.rtol == 1e-3
    assert all(Status(int(s)) is Status.OK for s in m.status)
    np.testing.assert_allclose(m.W_th, found.W_fail, rtol=1e-3)


def test_qp_threshold_map_status_out_of_range():
    above = thresholds.qp_threshold_map(QP_R, THETAS, W_grid=[150.0, 200.0])
    assert all(Status(int(s)) is Status.NO_AVALANCHE for s in above.status)
    assert np.all(np.isnan(above.W_th))
    below = thresholds.qp_threshold_map(QP_R, THETAS, W_grid=[5.0, 10.0])
    assert all(Status(int(s)) is Status.AVALANCHE_AT_MAX for s in below.status)
    assert np.all(below.W_th == np.inf)


def test_qp_threshold_map_brackets_the_flag():
    # reference: direct solves just below and above W_th (R = 2, weak grain coupling)
    m = thresholds.qp_threshold_map(
        2, [0.3, 2.0], g0=0.1, W_grid=np.geomspace(1, 200, 12), rtol=1e-3
    )
    for th, wt in zip(m.theta0, m.W_th):
        assert np.isfinite(wt)
        assert _flag(wt * 0.998, th, R=2, g0=0.1) and not _flag(wt * 1.002, th, R=2, g0=0.1)


def test_sup_threshold_zooms_reach_the_dense_grid_maximum():
    # reference: the maximum of an independent dense map (512 phases); the zoomed search
    # starts from 16 phases and must reach it (or exceed it: spikes between grid points)
    Wg = np.geomspace(1.0, 200.0, 12)
    dense = thresholds.qp_threshold_map(
        2, np.arange(512) * 2 * np.pi / 512, g0=0.1, W_grid=Wg, rtol=1e-4
    )
    s = thresholds.sup_threshold(2, g0=0.1, n_theta=16, n_starts=3, n_zoom=4, W_grid=Wg)
    assert isinstance(s, thresholds.SupThreshold)
    assert isinstance(s.coarse, thresholds.ThresholdMap) and len(s.coarse.theta0) == 16
    assert len(s.zooms) == 3 * 4 and all(isinstance(z, thresholds.ThresholdMap) for z in s.zooms)
    assert s.sup >= np.nanmax(dense.W_th) * (1 - 2e-4)
    assert len(s.history) == 4 + 1
    assert np.all(np.diff(s.history) >= 0) and s.history[-1] == s.sup
    assert s.err >= s.sup * 1e-4
    again = thresholds.qp_threshold_map(2, [s.theta_star], g0=0.1, W_grid=Wg, rtol=1e-4)
    assert again.W_th[0] == pytest.approx(s.sup, rel=2e-4)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(model=-1, theta0=0.1), "R"),
        (dict(model=3, theta0=np.nan), "theta0"),
        (dict(model=3, theta0=np.zeros((2, 2))), "theta0"),
        (dict(model=3, theta0=0.1, W_min=5.0, W_max=1.0), "W_min"),
        (dict(model=3, theta0=0.1, W_min=-1.0), "W_min"),
        (dict(model=3, theta0=0.1, dist="wigner"), "dist"),
        (dict(model=3, theta0=0.1, g0=-1.0), "g0"),
        (dict(model=3, theta0=0.1, method="lanczos"), "method"),
        (dict(model=3, theta0=0.1, n_scan=1), "n_scan"),
        (dict(model=3, theta0=0.1, rtol=0.0), "rtol"),
    ],
)
def test_threshold_bad_input(kw, match):
    with pytest.raises(ValueError, match=match):
        thresholds.threshold_W(**kw)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: thresholds.qp_threshold_map(3, [0.1], W_grid=[10.0, 5.0]), "W_grid"),
        (lambda: thresholds.qp_threshold_map(3, [0.1], W_grid=[10.0]), "W_grid"),
        (lambda: thresholds.qp_threshold_map(3, [0.1], W_grid=[-1.0, 5.0]), "W_grid"),
        (lambda: thresholds.qp_threshold_map(3, [0.1], rtol=-1.0), "rtol"),
        (lambda: thresholds.qp_threshold_map(3, [np.inf]), "theta0"),
        (lambda: thresholds.qp_threshold_map(-3, [0.1]), "R"),
        (lambda: thresholds.sup_threshold(3, n_theta=0), "n_theta"),
        (lambda: thresholds.sup_threshold(3, n_zoom=-1), "n_zoom"),
    ],
)
def test_map_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.slow
def test_threshold_fold_estimate_accuracy():
    # W_fold (gradient) against a bisection bracket of width ~1e-13 relative
    theta = np.array([0.3, 2.954, 4.0])
    res = thresholds.threshold_W(8, theta, W_min=40.0, W_max=200.0, n_scan=17)
    ref = thresholds.threshold_W(
        8, theta, W_min=40.0, W_max=200.0, n_scan=17, refine=False, rtol=1e-14
    )
    centre = 0.5 * (ref.W_aval + ref.W_fail)
    assert np.all(np.abs(res.W_fold - centre) < 1e-9)
    assert np.all((res.W_aval <= ref.W_aval) & (ref.W_fail <= res.W_fail))
