"""The DRH chain g_{n,0} = g10 alpha^(n-1) (Sec. VI): couplings and the nu = 1 fact."""

import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf.models import chain


def test_couplings_closed_form():
    alpha = np.array([[0.5, 0.6], [0.7, 0.8]])
    g = np.asarray(chain.drh_couplings(6, alpha, g10=0.3))
    assert g.shape == (2, 2, 6)
    np.testing.assert_allclose(g, 0.3 * alpha[..., None] ** np.arange(6), rtol=1e-14)
    np.testing.assert_allclose(chain.drh_log_couplings(6, alpha, 0.3), np.log(g), rtol=1e-14)
    assert chain.ALPHA_C == pytest.approx(1 / np.sqrt(2), rel=1e-16)


def test_log_form_does_not_underflow():
    l0 = np.asarray(chain.drh_log_couplings(2000, 0.5))
    assert np.all(np.isfinite(l0)) and l0[-1] == pytest.approx(np.log(0.5) * 2000, rel=1e-14)
    assert float(chain.drh_couplings(2000, 0.5)[-1]) == 0.0  # g itself underflows


def test_bubble_size_diverges_with_nu_one():
    """Sec. VI: for alpha < alpha_c the avalanche stops after n* ~ |alpha - alpha_c|^-1
    l-bits (nu = 1); for alpha > alpha_c it runs through the chain."""
    N = 400
    d = np.array([-0.02, -0.04, -0.08, 0.01, 0.02])
    res = jaxmf.solve(chain.drh_log_couplings(N, chain.ALPHA_C + d), log_input=True)
    assert np.all(np.asarray(res.converged))
    fail = d < 0
    n_star = np.asarray(mf.n_thermal(res))[fail]
    assert np.all(n_star < N / 2)  # the chain is long enough for the whole bubble
    slope = np.polyfit(np.log(-d[fail]), np.log(n_star), 1)[0]
    assert slope == pytest.approx(-1.0, abs=0.1)
    np.testing.assert_array_equal(mf.avalanches(res), ~fail)
    np.testing.assert_allclose(np.asarray(res.eta_tot)[~fail], N * np.log(2), rtol=1e-9)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(N=0, alpha=0.5), "N"),
        (dict(N=2.5, alpha=0.5), "N"),
        (dict(N=True, alpha=0.5), "N"),
        (dict(N=5, alpha=0.0), "alpha"),
        (dict(N=5, alpha=np.array([0.5, -0.1])), "alpha"),
        (dict(N=5, alpha=np.nan), "alpha"),
        (dict(N=5, alpha=0.5, g10=0.0), "g10"),
        (dict(N=5, alpha=0.5, g10=-1.0), "g10"),
    ],
)
@pytest.mark.parametrize("fn", [chain.drh_couplings, chain.drh_log_couplings])
def test_bad_input(fn, kw, match):
    with pytest.raises(ValueError, match=match):
        fn(**kw)
