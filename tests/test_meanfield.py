"""The mean-field solver (THEORY section 5): fixed point, batching, gradients, input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf.enhancement import eta_of_log_g
from jaxmf.models import chain, symmetric


def plain_iteration(g0, dist="goe", steps=20000, tol=1e-14):
    """Iteration (13) in log g, NumPy loop: the independent reference."""
    l0 = np.log(np.asarray(g0, float))
    l = l0.copy()
    for _ in range(steps):
        e = np.asarray(eta_of_log_g(l, dist))
        new = l0 + 0.5 * (e.sum() - e)
        if np.max(np.abs(new - l)) < tol:
            return new, float(np.asarray(eta_of_log_g(new, dist)).sum())
        l = new
    raise RuntimeError("plain iteration did not converge")


@pytest.mark.parametrize("dist", ["goe", "poisson"])
@pytest.mark.parametrize("alpha", [0.45, 0.6, 0.66, 0.8])
def test_matches_plain_iteration(dist, alpha):
    g0 = np.asarray(chain.drh_couplings(40, alpha))
    res = jaxmf.solve(g0, dist)
    l_ref, H_ref = plain_iteration(g0, dist)
    assert bool(res.converged)
    assert float(res.eta_tot) == pytest.approx(H_ref, rel=1e-11, abs=1e-12)
    np.testing.assert_allclose(res.log_g, l_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.eta, np.asarray(jaxmf.eta(res.g, dist)), rtol=1e-12)


def test_symmetric_localized_branch_and_threshold():
    """Near g_c (the fold of the exact scalar equation) the solver converges in few
    steps on both sides and lands on the right branch."""
    N = 100
    gc = float(symmetric.critical_coupling(N))
    for f in [0.3, 0.999, 1 - 1e-7]:
        res = jaxmf.solve(np.full(N, gc * f))
        ref = float(symmetric.localized_log_coupling(N, gc * f))
        assert bool(res.converged) and int(res.iterations) < 40
        assert not bool(mf.avalanches(res))
        np.testing.assert_allclose(res.log_g, ref, atol=1e-6)
    for f in [1 + 1e-7, 1.5]:
        res = jaxmf.solve(np.full(N, gc * f))
        assert bool(res.converged) and int(res.iterations) < 60
        assert bool(mf.avalanches(res))
        assert float(res.eta_tot) == pytest.approx(N * np.log(2), rel=1e-6)


def test_critical_coupling_scaling_is_one_over_n_log_n():
    """g_c N log N varies only slowly (log corrections) over three decades of N."""
    N = np.array([1e2, 1e3, 1e4, 1e5])
    c = np.asarray(symmetric.critical_coupling(N)) * N * np.log(N)
    assert np.all((c > 0.05) & (c < 0.1))
    assert np.ptp(c) / c.mean() < 0.1


def test_large_avalanche_does_not_overflow():
    N = 10_000
    res = jaxmf.solve(np.full(N, 0.01))
    assert bool(res.converged)
    assert float(res.eta_tot) == pytest.approx(N * np.log(2), rel=1e-12)
    assert np.all(np.isfinite(res.log_g)) and float(res.log_g.max()) > 3000
    assert np.all(np.isfinite(res.eta))


def test_zero_couplings_and_mask_are_absent_lbits():
    g0 = np.array([0.3, 0.1, 0.05, 0.02])
    ref = jaxmf.solve(g0)
    with_zero = jaxmf.solve(np.array([0.3, 0.0, 0.1, 0.05, 0.0, 0.02]))
    assert float(with_zero.eta_tot) == pytest.approx(float(ref.eta_tot), rel=1e-13)
    assert float(with_zero.g[1]) == 0.0 and float(with_zero.eta[1]) == 0.0
    padded = np.array([[0.3, 0.1, 0.05, 0.02, 0.9, 0.9], [0.3, 0.1, 0.05, 0.02, 0.0, 0.0]])
    mask = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)
    res = jaxmf.solve(padded, mask=mask)
    np.testing.assert_allclose(res.eta_tot, float(ref.eta_tot), rtol=1e-13)
    np.testing.assert_array_equal(res.n_lbits, [4, 4])


def test_batched_equals_looped_and_jit():
    alphas = np.linspace(0.4, 0.75, 12).reshape(3, 4)
    g0 = np.asarray(chain.drh_couplings(60, alphas))
    batched = jaxmf.solve(g0)
    assert batched.eta_tot.shape == (3, 4) and batched.g.shape == (3, 4, 60)
    for i in range(3):
        for j in range(4):
            one = jaxmf.solve(g0[i, j])
            assert float(one.eta_tot) == pytest.approx(float(batched.eta_tot[i, j]), rel=1e-14)
    jitted = jax.jit(lambda x: jaxmf.solve(x).eta_tot)(g0)
    np.testing.assert_allclose(jitted, batched.eta_tot, rtol=1e-14)
    vm = jax.vmap(lambda x: jaxmf.solve(x).eta_tot)(g0.reshape(12, 60))
    np.testing.assert_allclose(vm, batched.eta_tot.ravel(), rtol=1e-14)


def _fd(f, x, h):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_implicit_gradient_elementwise_matches_finite_differences():
    g0 = jnp.asarray(chain.drh_couplings(30, 0.62))
    f = lambda g: jaxmf.solve(g).eta_tot  # noqa: E731
    grad = np.asarray(jax.grad(f)(g0))
    # the l-bits that matter (g_n ~ 1; saturated ones have d eta_tot/d g0 ~ 0, below
    # the FD noise floor = solver tolerance / h)
    for n in np.argsort(-np.abs(grad * np.asarray(g0)))[:4]:
        e = jnp.zeros(30).at[n].set(1.0)
        h = 1e-5 * float(g0[n])
        fd = float(_fd(lambda t: f(g0 + t * e), 0.0, h))
        assert grad[n] == pytest.approx(fd, rel=1e-5)


def test_gradient_through_scale_and_alpha():
    N = 50

    def eta_tot(g1, alpha):
        return jaxmf.solve(chain.drh_couplings(N, alpha, g1)).eta_tot

    dg1, dalpha = jax.grad(eta_tot, argnums=(0, 1))(0.5, 0.6)
    assert float(dg1) == pytest.approx(float(_fd(lambda x: eta_tot(x, 0.6), 0.5, 1e-6)), rel=1e-5)
    assert float(dalpha) == pytest.approx(float(_fd(lambda a: eta_tot(0.5, a), 0.6, 1e-7)), rel=1e-5)
    # a smooth function of g (the thermalized count) also differentiates implicitly
    nstar = lambda a: mf.n_thermal(jaxmf.solve(chain.drh_couplings(N, a)))  # noqa: E731
    assert float(jax.grad(nstar)(0.6)) == pytest.approx(float(_fd(nstar, 0.6, 1e-7)), rel=1e-5)


def test_vmap_of_grad_equals_grad_of_vmap():
    alphas = jnp.array([0.5, 0.6, 0.65])
    f = lambda a: jaxmf.solve(chain.drh_couplings(40, a)).eta_tot  # noqa: E731
    vg = jax.vmap(jax.grad(f))(alphas)
    gv = jax.grad(lambda a: jnp.sum(jax.vmap(f)(a)))(alphas)
    np.testing.assert_allclose(vg, gv, rtol=1e-12)
    assert np.all(np.asarray(vg) > 0)


def test_gradient_flagged_at_threshold():
    N = 100
    gc = float(symmetric.critical_coupling(N))
    f = lambda s: jaxmf.solve(jnp.full(N, s)).eta_tot  # noqa: E731
    res = jaxmf.solve(np.full(N, gc * (1 - 1e-12)))
    assert float(res.stability) < 1e-4
    near = jax.grad(f)(gc * (1 - 1e-15))
    assert np.isnan(float(near)) or float(near) > 1e6  # flagged or honestly divergent
    # away from it the margin is O(1) and the derivative finite
    res = jaxmf.solve(np.full(N, 0.5 * gc))
    assert float(res.stability) > 0.1 and np.isfinite(float(jax.grad(f)(0.5 * gc)))


def test_failed_avalanche_profile_fig3a():
    """Paper, Sec. VI (Fig. 3a: N = 50, delta alpha = -0.07, g_{1,0} = 1/2): the
    avalanche thermalizes the first n* ~ 30 l-bits, then [S_n] decays exponentially."""
    res = jaxmf.solve(np.asarray(chain.drh_couplings(50, chain.ALPHA_C - 0.07)))
    S = np.asarray(mf.mean_entropies(res))
    assert np.all(np.diff(S) <= 1e-12)  # entropy falls along the chain
    nstar = float(mf.n_thermal(res))
    assert nstar == pytest.approx(S.sum() / np.log(2))
    assert 25 < nstar < 35
    tail = np.log(S[40:])
    assert np.ptp(np.diff(tail)) < 0.05 and np.all(np.diff(tail) < 0)  # exponential decay
    assert np.all((np.asarray(mf.memories(res)) > 0) & (np.asarray(mf.memories(res)) <= 1))


@pytest.mark.parametrize("bad, match", [
    (np.array([0.1, -0.2]), "g0 must lie in"),
    (np.array([0.1, np.nan]), "g0 contains NaN"),
    (np.zeros((3, 0)), "N >= 1"),
    (np.array(["a", "b"]), "dtype"),
    (np.array([0.1, np.inf]), "finite"),
])
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        jaxmf.solve(bad)


def test_bad_mask_and_dist():
    with pytest.raises(ValueError, match="mask must have the shape"):
        jaxmf.solve(np.ones((2, 3)) * 0.1, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="dist must be one of"):
        jaxmf.solve(np.ones(3) * 0.1, dist="gaussian")


def test_random_ensembles_match_plain_iteration():
    """Heterogeneous random couplings (log-normal, many near g ~ 1): the batched solver
    finds the same (smallest) fixed point as iteration (13) from the bare couplings."""
    rng = np.random.default_rng(3)
    l0 = rng.normal(-4.0, 2.0, size=(48, 25))
    res = jaxmf.solve(l0, log_input=True)
    assert bool(np.all(res.converged))
    l = l0.copy()  # vectorized plain iteration over the batch
    for _ in range(100_000):
        e = np.asarray(eta_of_log_g(l, "goe"))
        new = l0 + 0.5 * (e.sum(-1, keepdims=True) - e)
        if np.max(np.abs(new - l)) < 1e-13:
            break
        l = new
    H_ref = np.asarray(eta_of_log_g(new, "goe")).sum(-1)
    np.testing.assert_allclose(res.eta_tot, H_ref, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("N", [20, 100, 1000])
def test_critical_scale_of_symmetric_couplings_is_the_exact_fold(N):
    # reference: symmetric.critical_coupling, the fold of the scalar symmetric equation
    # (an independent route: no solver, no bisection of the flag)
    lam, ok = mf.critical_log_scale(jnp.zeros(N))
    assert bool(ok)
    assert float(lam) == pytest.approx(np.log(float(symmetric.critical_coupling(N))), abs=1e-9)


def test_critical_scale_before_the_fold_for_few_lbits():
    # N = 10: the localized branch passes eta_tot = N log 2 / 2 before its fold, so the
    # flag switches below g_c(fold); the flag itself must switch at lambda_c
    N = 10
    lam = float(mf.critical_log_scale(jnp.zeros(N))[0])
    assert lam < np.log(float(symmetric.critical_coupling(N))) - 0.05
    below = mf.solve(jnp.full(N, np.exp(lam - 1e-7)))
    above = mf.solve(jnp.full(N, np.exp(lam + 1e-7)))
    assert not bool(mf.avalanches(below)) and bool(mf.avalanches(above))


def test_critical_scale_brackets_the_flag_of_random_ensembles():
    rng = np.random.default_rng(4)
    l0 = 3.0 * np.log(rng.uniform(0, 1, (16, 60)))
    l0[3, 10:] = -np.inf  # ragged: absent l-bits
    lam, ok = mf.critical_log_scale(l0)
    lam = np.asarray(lam)
    assert np.all(np.asarray(ok)) and np.all(np.isfinite(lam))
    for d, want in ((-1e-8, False), (1e-8, True)):
        res = mf.solve(l0 + lam[:, None] + d, log_input=True)
        assert np.all(np.asarray(mf.avalanches(res)) == want)
    # batched == one at a time; out-of-bracket realizations are +-inf
    assert float(mf.critical_log_scale(l0[5])[0]) == lam[5]
    lo, _ = mf.critical_log_scale(l0[:2], bracket=(lam[:2].max() + 1, 50.0))
    hi, _ = mf.critical_log_scale(l0[:2], bracket=(-50.0, lam[:2].min() - 1))
    assert np.all(np.asarray(lo) == -np.inf) and np.all(np.asarray(hi) == np.inf)


def test_critical_scale_bad_input():
    with pytest.raises(ValueError, match="bracket"):
        mf.critical_log_scale(jnp.zeros(4), bracket=(1.0, -1.0))
    with pytest.raises(ValueError, match="n_bisect"):
        mf.critical_log_scale(jnp.zeros(4), n_bisect=0)
    with pytest.raises(ValueError, match="NaN"):
        mf.critical_log_scale(jnp.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="dist"):
        mf.critical_log_scale(jnp.zeros(4), dist="gue")
