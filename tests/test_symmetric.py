"""Symmetric couplings g_{n,0} = g0 (eq. 21-22): the exact critical coupling g_c(N)."""

import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf.analysis import symmetric_fold
from jaxmf.models import symmetric


def test_symmetric_couplings():
    g = symmetric.symmetric_couplings(7, 0.25)
    assert g.shape == (7,) and g.dtype == np.float64
    np.testing.assert_array_equal(g, 0.25)


def test_critical_coupling_scaling_is_one_over_n_log_n():
    """g_c ~ 1 / (4 e N log N) asymptotically (eta ~ 8 g log(1/g) at small g): c(N) =
    g_c N log N varies only slowly (log corrections) and rises towards 1/(4e) from below."""
    N = np.array([1e2, 1e3, 1e4, 1e5, 1e6])
    c = np.asarray(symmetric_fold.critical_coupling(N)) * N * np.log(N)
    assert np.all((c > 0.05) & (c < 1 / (4 * np.e)))
    assert np.all(np.diff(c) > 0)
    assert np.ptp(c) / c.mean() < 0.1


def test_localized_branch_ends_at_the_critical_coupling(symmetric_100):
    # the localized root of l - (N - 1) eta(l) / 2 = log g0 exists up to g_c, not above
    N, gc = symmetric_100
    below = float(symmetric_fold.localized_log_coupling(N, gc * (1 - 1e-9)))
    assert np.isfinite(below)
    assert np.isnan(float(symmetric_fold.localized_log_coupling(N, gc * (1 + 1e-6))))
    # and it is a fixed point of eq. 11 for N equal couplings (scalar form)
    eta = float(jaxmf.eta(np.exp(below)))
    assert below == pytest.approx(np.log(gc * (1 - 1e-9)) + 0.5 * (N - 1) * eta, abs=1e-9)
    # the solver agrees on both sides of g_c (reference: the exact fold)
    assert not bool(mf.avalanches(jaxmf.solve(np.full(N, gc * (1 - 1e-6)))))
    assert bool(mf.avalanches(jaxmf.solve(np.full(N, gc * (1 + 1e-6)))))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: symmetric.symmetric_couplings(0, 0.1), "N"),
        (lambda: symmetric.symmetric_couplings(2.5, 0.1), "N"),
        (lambda: symmetric.symmetric_couplings(4, -0.1), "g0"),
        (lambda: symmetric.symmetric_couplings(4, np.nan), "g0"),
        (lambda: symmetric_fold.critical_coupling(1), "N"),
        (lambda: symmetric_fold.critical_coupling(np.array([10, 1])), "N"),
        (lambda: symmetric_fold.critical_coupling(10, dist="gue"), "dist"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("N", [1e8, 1e10, 1e16, 1e20, 1e100])
def test_critical_coupling_for_huge_n_matches_a_root_of_the_fold(N):
    """g_c for N far beyond the eta table (the fold at g ~ 1e-12 .. 1e-103): reference from
    scipy's brentq on f'(l) = 1 - (N - 1)/2 d eta/dl = 0, the slope by central differences
    of the public jaxmf.eta, then log g_c = l* - (N - 1) eta(l*) / 2. Before the log-space
    form g_c N log N was 0.0023 at N = 1e16 and 0 at 1e20."""
    from scipy.optimize import brentq

    n1, h = N - 1.0, 1e-5

    def slope(l):
        return (float(jaxmf.eta(np.exp(l + h))) - float(jaxmf.eta(np.exp(l - h)))) / (2 * h)

    l_star = brentq(lambda l: 1.0 - 0.5 * n1 * slope(l), -740.0, -10.0, xtol=1e-13)
    log_gc = l_star - 0.5 * n1 * float(jaxmf.eta(np.exp(l_star)))
    gc = float(symmetric_fold.critical_coupling(N))
    assert np.log(gc) == pytest.approx(log_gc, rel=1e-9, abs=1e-9)
    assert 0.078 < gc * N * np.log(N) < 1 / (4 * np.e)  # rising to the asymptote 1/(4e)
