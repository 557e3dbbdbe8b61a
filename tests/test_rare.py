"""Tests of the rare-avalanche estimator (jaxmf.rare): weights, unbiasedness, keys, input."""

import jax
import numpy as np
import pytest
import scipy.integrate

from jaxmf import solve
from jaxmf.analysis import rare
from jaxmf.analysis.rare import estimate as rare_estimate
from jaxmf.meanfield import avalanches
from jaxmf.models import lattice

KEY = jax.random.PRNGKey(0)


def _q_site(v, W, s, lam, mu):
    import scipy.stats

    tn = scipy.stats.truncnorm((-W - mu) / s, (W - mu) / s, loc=mu, scale=s).pdf(v)
    return (1 - lam) * tn + lam / (2 * W)


def _q_code(v, W, s, lam, mu, site):
    # the code's per-site law q(V_site | V_0 = mu): site 0 is centred at 0, site 1 at V_0
    V = np.zeros((np.size(v), lattice.num_sites(1)))
    V[:, 0] = mu
    V[:, site] = v
    mask = np.ones(V.shape[-1], bool)
    lq = rare._log_q_sites(V, W, s, lam, mask)
    return np.exp(np.asarray(lq)[:, site])


@pytest.mark.parametrize("mu", [0.0, 3.0, -9.5])
def test_site_law_is_the_truncated_gaussian_mixture_and_integrates_to_one(mu):
    W, s, lam = 10.0, 1.5, 0.2
    v = np.linspace(-W, W, 2001)
    np.testing.assert_allclose(_q_code(v, W, s, lam, mu, 1), _q_site(v, W, s, lam, mu),
                               rtol=1e-10)
    np.testing.assert_allclose(_q_code(v, W, s, lam, mu, 0), _q_site(v, W, s, lam, 0.0),
                               rtol=1e-10)
    # int q = 1, hence int (p/q) q = int p = 1: the weights integrate to one (exact quadrature)
    for site, centre in ((0, 0.0), (1, mu)):
        total = scipy.integrate.quad(lambda x: _q_code(x, W, s, lam, mu, site)[0], -W, W,
                                     points=[centre], limit=200)[0]
        assert total == pytest.approx(1, abs=1e-9)
        ratio = scipy.integrate.quad(
            lambda x: 1 / (2 * W) / _q_code(x, W, s, lam, mu, site)[0]
            * _q_code(x, W, s, lam, mu, site)[0], -W, W, points=[centre], limit=200)[0]
        assert ratio == pytest.approx(1, abs=1e-12)


def test_weights_have_unit_mean_under_the_bias():
    # E_q[w] = 1 by Monte Carlo (R = 2, all 13 sites biased)
    keys = jax.random.split(KEY, 20000)
    f = jax.vmap(lambda k: rare.sample_biased(k, 2, 30.0, scales=[2.0, 4.0, 8.0], lam=0.3))
    V, lw = f(keys)
    w = np.exp(np.asarray(lw))
    assert np.all(np.abs(np.asarray(V)) <= 30.0)
    err = w.std() / np.sqrt(w.size)
    assert abs(w.mean() - 1) < 4 * err + 1e-12, (w.mean(), err)


def test_plain_limit_has_unit_weights():
    V, lw = rare.sample_biased(KEY, 2, 5.0, scales=[1.0, 1.0], lam=1.0)
    assert float(lw) == pytest.approx(0.0, abs=1e-12)
    assert V.shape == (lattice.num_sites(2),)


def test_importance_sampling_agrees_with_plain_sampling_on_a_tiny_lattice():
    # R = 2, g0 = 0.1, W = 60: f ~ 5e-3, plain sampling resolves it with 6000 draws
    R, W, g0 = 2, 60.0, 0.1
    f_p, se_p, hits = rare.plain_estimate(jax.random.PRNGKey(1), R, W, g0=g0, n=6000,
                                          chunk=2000)
    assert hits > 10
    est = rare.estimate(jax.random.PRNGKey(2), R, W, g0=g0, scales=[4.0, 6.0], lam=0.2,
                        n=3000, chunk=1000)
    assert est.hits > 5 * hits / 6000 * 3000  # the bias finds avalanches more often
    assert abs(est.f - f_p) < 4 * np.hypot(est.stderr, se_p), (est, f_p, se_p)
    assert est.stderr < se_p  # and beats plain sampling at equal cost or better
    assert 0 < est.ess <= est.hits


def test_reproducible_from_the_key():
    a = rare.estimate(KEY, 1, 20.0, g0=0.1, scales=[2.0, 2.0], n=64, chunk=64)
    b = rare.estimate(KEY, 1, 20.0, g0=0.1, scales=[2.0, 2.0], n=64, chunk=64)
    c = rare.estimate(jax.random.PRNGKey(9), 1, 20.0, g0=0.1, scales=[2.0, 2.0], n=64,
                      chunk=64)
    assert a.f == b.f and a.mean_w == b.mean_w
    assert a.mean_w != c.mean_w


def test_potential_couplings_match_bare_couplings():
    key = jax.random.PRNGKey(3)
    V = lattice.potential(3, 7.0, key=key, kind="random")
    ref = lattice.bare_couplings(3, 7.0, g0=0.7, key=key, kind="random", method="eigh")
    for method in ("eigh", "fast"):
        g = rare.potential_couplings(V, 3, g0=0.7, method=method)
        np.testing.assert_allclose(np.sort(g), np.sort(ref), atol=1e-10)


@pytest.mark.parametrize("kwargs", [
    dict(R=2, W=-1.0, scales=[1.0, 1.0]),
    dict(R=-1, W=1.0, scales=[1.0]),
    dict(R=2, W=1.0, scales=[1.0, -1.0]),
    dict(R=2, W=1.0, scales=[1.0, 1.0], lam=1.5),
    dict(R=2, W=1.0, scales=[1.0, 1.0], lam=-0.1),
    dict(R=2, W=1.0, scales=[1.0] * 4),  # r_b = 3 > R
    dict(R=2, W=1.0, scales=[1.0, 1.0], r_b=1.5),
])
def test_bad_input(kwargs):
    R, W = kwargs.pop("R"), kwargs.pop("W")
    with pytest.raises(ValueError):
        rare.sample_biased(KEY, R, W, **kwargs)


def test_bad_input_estimate_and_curve():
    with pytest.raises(ValueError):
        rare.estimate(KEY, 1, 5.0, g0=-1.0, scales=[1.0, 1.0], n=4)
    with pytest.raises(ValueError):
        rare.plain_estimate(KEY, 1, -5.0, n=4)
    with pytest.raises(ValueError):
        rare.cross_entropy(KEY, 1, 5.0, r_b=1, rho=1.5, n=4)
    with pytest.raises(ValueError):
        rare.potential_couplings(np.zeros(4), 1)


def test_critical_coupling_decides_the_avalanche_for_every_g0():
    # the avalanche flag of lattice.bare_couplings (independent sampler and solve) at g0
    # agrees with log g0 > log g0_c(V)
    R, W = 2, 40.0
    keys = jax.random.split(jax.random.PRNGKey(21), 24)
    V = jax.vmap(lambda k: lattice.potential(R, W, key=k, kind="random"))(keys)
    lc, ok = rare.critical_log_g0(V, R, n_bisect=40)
    lc = np.asarray(lc)
    assert np.all(np.asarray(ok)) and np.all(np.isfinite(lc))
    for g0 in (0.05, 0.2, 1.0):
        g = jax.vmap(lambda k: lattice.bare_couplings(R, W, g0=g0, key=k, kind="random"))(keys)
        flag = np.asarray(avalanches(solve(g)))
        far = np.abs(lc - np.log(g0)) > 1e-8
        np.testing.assert_array_equal(flag[far], (np.log(g0) > lc)[far])


def test_subset_simulation_agrees_with_plain_sampling_on_a_tiny_lattice():
    # reference: plain Monte Carlo of lattice.bare_couplings (6000 draws), f ~ 5e-3
    R, W, g0 = 2, 60.0, 0.1
    f_p, se_p, hits = rare.plain_estimate(jax.random.PRNGKey(1), R, W, g0=g0, n=6000,
                                          chunk=2000)
    e = rare.subset_estimate(jax.random.PRNGKey(4), R, W, g0=(g0,), n=200, replicas=6)
    assert e.unconverged == 0 and hits > 10
    assert abs(e.f[0] - f_p) < 4 * np.hypot(e.stderr[0], se_p), (e.f, e.stderr, f_p, se_p)


@pytest.mark.parametrize("W, n_plain, n, M", [
    (80.0, 100_000, 200, 6),  # f ~ 1e-3
    pytest.param(110.0, 1_000_000, 1000, 8, marks=pytest.mark.slow),  # f ~ 1e-4
])
def test_subset_simulation_agrees_with_plain_sampling_in_the_tail(W, n_plain, n, M):
    # reference: plain Monte Carlo of lattice.bare_couplings (independent sampler, no
    # critical coupling), enough draws for ~50-100 hits on the 13-site lattice
    R, g0 = 2, 0.1
    f_p, se_p, hits = rare.plain_estimate(jax.random.PRNGKey(7), R, W, g0=g0, n=n_plain,
                                          chunk=20000)
    assert hits >= 30
    e = rare.subset_estimate(jax.random.PRNGKey(5), R, W, g0=(g0, 0.05), n=n, replicas=M)
    assert np.all(e.levels >= 2)  # the event needed conditional levels
    assert abs(e.f[0] - f_p) < 4 * np.hypot(e.stderr[0], se_p), (e.f, e.stderr, f_p, se_p)
    assert 0 < e.f[1] < e.f[0]  # smaller g0: rarer, read off the same runs
    V = e.conditional_V
    assert V.shape == (M * n, lattice.num_sites(R)) and np.all(np.abs(V) < W)


def test_subset_estimate_is_reproducible_and_checks_input():
    a = rare.subset_estimate(KEY, 1, 30.0, g0=(0.1,), n=50, replicas=2)
    b = rare.subset_estimate(KEY, 1, 30.0, g0=(0.1,), n=50, replicas=2)
    np.testing.assert_array_equal(a.replicas, b.replicas)
    with pytest.raises(ValueError, match="g0"):
        rare.subset_estimate(KEY, 1, 30.0, g0=(-1.0,), n=50)
    with pytest.raises(ValueError, match="W"):
        rare.subset_estimate(KEY, 1, np.nan, n=50)
    with pytest.raises(ValueError, match="replicas"):
        rare.subset_estimate(KEY, 1, 30.0, n=50, replicas=0)
    with pytest.raises(ValueError, match="p0"):
        rare.subset_estimate(KEY, 1, 30.0, n=55, p0=0.1)


@pytest.mark.parametrize("wrap", [False, True])
def test_lattice_moves_leave_the_prior_invariant(wrap):
    # every valid proposal accepted = the unconditioned chain; started in N(0, I) it must
    # stay N(0, I) at every site, including the grain's neighbourhood that the local
    # moves act on (exact reference: the prior itself; KS at 5000 chains x 30 steps)
    import scipy.stats

    R = 3
    propose = rare.lattice_moves(R, wrap=wrap)
    key = jax.random.PRNGKey(8)
    z = np.asarray(jax.random.normal(key, (5000, lattice.num_sites(R))))
    moved = np.zeros(len(z), bool)
    for i in range(30):
        zp, valid, _ = propose(jax.random.fold_in(key, i), z, 0.3)
        moved |= valid & np.any(zp != z, axis=1)
        z = np.where(valid[:, None], zp, z)
    assert moved.mean() > 0.99 and np.all(np.isfinite(z))
    for site in (0, 1, 5, lattice.num_sites(R) - 1):
        assert scipy.stats.kstest(z[:, site], scipy.stats.norm.cdf).pvalue > 1e-3


def test_reliability_flag():
    assert rare.reliable([1e-6, 2e-6, 1.5e-6], [5, 5, 6], 14)
    assert not rare.reliable([1e-6, 2e-6], [5, 5], 14)  # too few replicas for an error
    assert not rare.reliable([1e-6, 0.0, 2e-6], [5, 5, 5], 14)  # one never got there
    assert not rare.reliable([1e-6, 2e-6, 1.5e-6], [5, 14, 6], 14)  # level limit hit
    assert not rare.reliable([1e-9, 1e-6, 1e-6, 1e-6], [5, 5, 5, 5], 14)  # > 30x spread
