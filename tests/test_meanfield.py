"""The mean-field solver (docs/theory.md): fixed point, observables, [S] table, input.

jit / vmap / grad of the solver are in test_transformations.py, second derivatives in
test_implicit_derivatives.py, bad input under jit in test_bad_input.py.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf import enhancement
from jaxmf import meanfield as mf
from jaxmf.analysis import symmetric_fold
from jaxmf.enhancement import eta_of_log_g
from jaxmf.models import chain

from .helpers import drh_chain, fd_derivative

LOG2 = np.log(2.0)
N_CHAIN = 50  # one chain length throughout (the Fig. 3(a) chain): one compilation


@functools.partial(jax.jit, static_argnums=1)
def _eta_table(l, dist):
    return eta_of_log_g(l, dist)


def plain_iteration(l0, dist="goe", steps=100_000, tol=1e-13):
    """Iteration (13) in log g from the bare couplings, NumPy loop over a batch (..., N):
    the independent reference (it converges to the smallest fixed point)."""
    l0 = np.asarray(l0, float)
    active = np.isfinite(l0)
    l = l0.copy()
    for _ in range(steps):
        e = np.where(active, np.asarray(_eta_table(np.where(active, l, 0.0), dist)), 0.0)
        new = np.where(active, l0 + 0.5 * (e.sum(-1, keepdims=True) - e), -np.inf)
        if np.max(np.abs(np.where(active, new - l, 0.0))) < tol:
            e = np.where(active, np.asarray(_eta_table(np.where(active, new, 0.0), dist)), 0.0)
            return new, e.sum(-1)
        l = new
    raise RuntimeError("plain iteration did not converge")


# --------------------------------------------------------------------------- fixed point
@pytest.mark.parametrize("dist", ["goe", "poisson"])
@pytest.mark.parametrize("alpha", [0.45, 0.6, chain.ALPHA_C - 0.07, 0.8])
def test_matches_plain_iteration(dist, alpha):
    g0 = drh_chain(N_CHAIN, alpha).g0
    res = jaxmf.solve(g0, dist)
    l_ref, H_ref = plain_iteration(np.log(g0), dist)
    assert bool(res.converged)
    assert float(res.eta_tot) == pytest.approx(float(H_ref), rel=1e-11, abs=1e-12)
    np.testing.assert_allclose(res.log_g, l_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.eta, np.asarray(jaxmf.eta(res.g, dist)), rtol=1e-12)
    # alpha > alpha_c runs through the chain (Sec. VI); well below alpha_c the bubble
    # stays far below N / 2 l-bits (near alpha_c, n* ~ |alpha - alpha_c|^-1 can exceed
    # N / 2 in a chain this short, and eq. 19 then flags it)
    if alpha > chain.ALPHA_C:
        assert bool(mf.avalanches(res)) and float(res.eta_tot) > 0.99 * N_CHAIN * LOG2
    elif alpha <= 0.6:
        assert not bool(mf.avalanches(res))


def test_random_ensembles_match_plain_iteration():
    """Heterogeneous random couplings (log-normal, many near g ~ 1): the batched solver
    finds the same (smallest) fixed point as iteration (13) from the bare couplings."""
    l0 = np.random.default_rng(3).normal(-4.0, 2.0, size=(16, N_CHAIN))
    res = jaxmf.solve(l0, log_input=True)
    assert bool(np.all(res.converged))
    _, H_ref = plain_iteration(l0)
    np.testing.assert_allclose(res.eta_tot, H_ref, rtol=1e-9, atol=1e-10)


def test_symmetric_localized_branch_and_threshold(symmetric_100):
    """Near g_c (the fold of the exact scalar equation) the solver converges in few
    steps on both sides and lands on the right branch."""
    N, gc = symmetric_100
    for f in [0.3, 0.999, 1 - 1e-7]:
        res = jaxmf.solve(np.full(N, gc * f))
        ref = float(symmetric_fold.localized_log_coupling(N, gc * f))
        assert bool(res.converged) and int(res.iterations) < 40
        assert not bool(mf.avalanches(res))
        np.testing.assert_allclose(res.log_g, ref, atol=1e-6)
    for f in [1 + 1e-7, 1.5]:
        res = jaxmf.solve(np.full(N, gc * f))
        assert bool(res.converged) and int(res.iterations) < 60
        assert bool(mf.avalanches(res))
        assert float(res.eta_tot) == pytest.approx(N * LOG2, rel=1e-6)


def test_large_avalanche_does_not_overflow():
    N = 10_000
    res = jaxmf.solve(np.full(N, 0.01))
    assert bool(res.converged)
    assert float(res.eta_tot) == pytest.approx(N * LOG2, rel=1e-12)
    assert np.all(np.isfinite(res.log_g)) and float(res.log_g.max()) > 3000
    assert np.all(np.isfinite(res.eta))
    # every l-bit fully thermal: n* = N (the table's log 2 plateau, no overflow)
    assert float(mf.n_thermal(res)) == pytest.approx(N, rel=1e-12)


def test_zero_couplings_and_mask_are_absent_lbits():
    """Zero couplings and masked l-bits are absent: the same fixed point as the chain
    without them (reference: plain iteration on the 40 remaining l-bits)."""
    g40 = drh_chain(40, 0.66).g0
    _, H_ref = plain_iteration(np.log(g40))
    with_zeros = np.zeros(N_CHAIN)
    with_zeros[::5], with_zeros[np.arange(N_CHAIN) % 5 != 0] = 0.0, g40
    res = jaxmf.solve(with_zeros)
    assert float(res.eta_tot) == pytest.approx(float(H_ref), rel=1e-12)
    assert np.all(np.asarray(res.g)[::5] == 0.0) and np.all(np.asarray(res.eta)[::5] == 0.0)
    assert int(res.n_lbits) == 40 and float(mf.mean_entropies(res)[0]) == 0.0
    # ragged batch: padding (any value) masked out, or zeros, give the same solution
    padded = np.stack([np.r_[g40, np.full(10, 0.9)], np.r_[g40, np.zeros(10)]])
    mask = np.ones((2, N_CHAIN), bool)
    mask[0, 40:] = False
    res = jaxmf.solve(padded, mask=mask)
    np.testing.assert_allclose(res.eta_tot, float(H_ref), rtol=1e-12)
    np.testing.assert_array_equal(res.n_lbits, [40, 40])


def test_gradient_flagged_at_threshold(symmetric_100):
    N, gc = symmetric_100
    f = lambda s: jaxmf.solve(jnp.full(N, s)).eta_tot  # noqa: E731
    res = jaxmf.solve(np.full(N, gc * (1 - 1e-12)))
    assert float(res.stability) < 1e-4
    near = jax.grad(f)(gc * (1 - 1e-15))
    assert np.isnan(float(near)) or float(near) > 1e6  # flagged or honestly divergent
    # away from it the margin is O(1) and the derivative finite
    res = jaxmf.solve(np.full(N, 0.5 * gc))
    assert float(res.stability) > 0.1 and np.isfinite(float(jax.grad(f)(0.5 * gc)))


# --------------------------------------------------------------------------- observables
def test_failed_avalanche_profile_fig3a(fig3a_solution):
    """Paper, Sec. VI (Fig. 3a: N = 50, delta alpha = -0.07, g_{1,0} = 1/2): the
    avalanche thermalizes the first n* ~ 30 l-bits, then [S_n] decays exponentially."""
    res = fig3a_solution
    S = np.asarray(mf.mean_entropies(res))
    assert np.all(np.diff(S) <= 1e-12)  # entropy falls along the chain
    nstar = float(mf.n_thermal(res))
    assert nstar == pytest.approx(S.sum() / LOG2, rel=1e-14)
    assert 25 < nstar < 35
    tail = np.log(S[40:])
    assert np.ptp(np.diff(tail)) < 0.05 and np.all(np.diff(tail) < 0)  # exponential decay
    czz = np.asarray(mf.memories(res))
    assert np.all((czz > 0) & (czz <= 1))
    np.testing.assert_allclose(czz, np.asarray(jaxmf.czz(res.g)), rtol=1e-14)


def test_mean_entropies_are_the_quadrature_at_the_solution(fig3a_solution):
    # reference: jaxmf.mean_entropy, the direct quadrature of (A13) at the dressed g_n
    res = fig3a_solution
    S = np.asarray(mf.mean_entropies(res))
    np.testing.assert_allclose(S, np.asarray(jaxmf.mean_entropy(res.g)), rtol=1e-9)
    np.testing.assert_array_equal(S, np.asarray(enhancement.mean_entropy_of_log_g(res.log_g)[0]))


def test_avalanche_flag_is_eq19():
    """eq. 19: avalanche iff eta_tot > N log 2 / 2, strictly, with N the active l-bits."""
    N = np.array([10, 10, 10, 7])
    eta_tot = np.array([5 * LOG2, np.nextafter(5 * LOG2, np.inf), 3.0, 3.5 * LOG2 + 1e-9])
    np.testing.assert_array_equal(mf.avalanche_flag(eta_tot, N), [False, True, False, True])
    # avalanches(result) is the flag of the result, counting only active l-bits
    g = np.stack([drh_chain(N_CHAIN, a).g0 for a in (0.6, 0.75)])
    g[:, 45:] = 0.0
    res = jaxmf.solve(g)
    np.testing.assert_array_equal(res.n_lbits, [45, 45])
    np.testing.assert_array_equal(mf.avalanches(res), mf.avalanche_flag(res.eta_tot, 45))
    np.testing.assert_array_equal(mf.avalanches(res), [False, True])


# --------------------------------------------------------------------------- the [S] table
@pytest.mark.parametrize("dist", ["goe", "poisson"])
def test_entropy_table_matches_quadrature(dist):
    """mean_entropy_of_log_g (cubic Hermite table) against jaxmf.mean_entropy (direct
    quadrature of A13), at random off-grid points over 1e-12..1e10: ~1e-10 relative; the
    slope against the forward derivative of the quadrature."""
    l = np.random.default_rng(11).uniform(np.log(1e-12), np.log(1e10), 300)
    S, dS = (np.asarray(x) for x in enhancement.mean_entropy_of_log_g(l, dist))
    S_quad = np.asarray(jaxmf.mean_entropy(np.exp(l), dist))
    np.testing.assert_allclose(S, S_quad, rtol=1e-9, atol=0)
    dS_quad = np.asarray(
        jax.jvp(
            lambda u: jaxmf.mean_entropy(jnp.exp(u), dist), (jnp.asarray(l),), (jnp.ones_like(l),)
        )[1]
    )
    np.testing.assert_allclose(dS, dS_quad, rtol=1e-6, atol=1e-9)


def test_entropy_table_limits():
    lo = np.log(1e-12)  # the lower end of the grid
    below = np.array([-700.0, -200.0, -40.0, lo - 1e-9])
    edge = np.array([lo - 1e-12, lo + 1e-12])
    above = np.array([30.0, 1e3, 1e6, np.inf])
    grid = np.linspace(-60.0, 40.0, 20_001)
    l = np.concatenate([below, edge, above, [-np.inf], grid])
    S, dS = (np.asarray(x) for x in enhancement.mean_entropy_of_log_g(l))
    parts = np.cumsum([len(below), len(edge), len(above), 1])
    (S_below, S_edge, S_above, S_minf, S_grid) = np.split(S, parts)
    (dS_below, _, dS_above, dS_minf, _) = np.split(dS, parts)
    # below the grid: the exact linear limit [S] = 2 pi g (universal 2/x^2 tail); its
    # slope in log g equals [S]
    np.testing.assert_allclose(S_below / np.exp(below), 2 * np.pi, rtol=1e-8)
    np.testing.assert_allclose(dS_below, S_below, rtol=1e-14)
    # continuous across the lower end of the grid
    assert S_edge[1] == pytest.approx(S_edge[0], rel=1e-9)
    # above the grid: log 2 with zero slope, also where g = exp(l) overflows
    np.testing.assert_allclose(S_above, LOG2, rtol=1e-15)
    np.testing.assert_array_equal(dS_above, 0.0)
    # log g = -inf (a decoupled l-bit): exactly 0
    assert S_minf[0] == 0.0 and dS_minf[0] == 0.0
    # monotone over the whole range, within [0, log 2] (up to round-off at the plateau)
    assert np.all(np.diff(S_grid) >= -1e-15) and np.all((S_grid >= 0) & (S_grid <= LOG2 + 1e-15))


def test_entropy_table_slope_is_its_derivative():
    # the returned slope is the derivative of the interpolant (finite differences of
    # the table itself, between and on the nodes)
    l = jnp.array([-25.0, -3.2109, 0.0, 1.2345, 4.0])
    S = lambda x: enhancement.mean_entropy_of_log_g(x)[0]  # noqa: E731
    # atol: FD rounding, eps [S] / h ~ 1e-10
    np.testing.assert_allclose(
        enhancement.mean_entropy_of_log_g(l)[1], fd_derivative(S, l, 1e-6), rtol=1e-6, atol=1e-9
    )


def test_n_thermal_counts_thermal_lbits(symmetric_100):
    # a fully thermal l-bit counts 1, an absent one 0
    N, gc = symmetric_100
    res = jaxmf.solve(np.r_[np.full(N - 10, 1.5 * gc), np.zeros(10)])
    assert bool(mf.avalanches(res))
    assert float(mf.n_thermal(res)) == pytest.approx(N - 10, rel=1e-12)
    # a failed avalanche: n* = sum [S_n] / log 2 from the quadrature of each [S_n]
    res = jaxmf.solve(np.full(N, 0.5 * gc))
    expected = N * float(jaxmf.mean_entropy(res.g[0])) / LOG2
    assert float(mf.n_thermal(res)) == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- critical scale
def test_critical_scale_of_symmetric_couplings(symmetric_100):
    """N = 100: lambda_c is the exact fold g_c(N) of the scalar symmetric equation (an
    independent route: no solver, no bisection of the flag). N = 10: the localized
    branch passes eta_tot = N log 2 / 2 before its fold, so the flag switches below
    g_c(fold), and it must switch at lambda_c. Both in one batch, N = 10 as 90 absent
    l-bits (log g0 = -inf)."""
    N, gc = symmetric_100
    l0 = np.zeros((2, N))
    l0[1, 10:] = -np.inf
    out = mf.critical_log_scale(l0)
    assert isinstance(out, mf.CriticalScale) and jaxmf.CriticalScale is mf.CriticalScale
    assert np.all(np.asarray(out.converged))
    lam100, lam10 = (float(x) for x in out.log_scale)
    assert lam100 == pytest.approx(np.log(gc), abs=1e-9)
    assert lam10 < np.log(float(symmetric_fold.critical_coupling(10))) - 0.05
    g10 = np.r_[np.ones(10), np.zeros(N - 10)]
    below = mf.solve(g10 * np.exp(lam10 - 1e-7))
    above = mf.solve(g10 * np.exp(lam10 + 1e-7))
    assert not bool(mf.avalanches(below)) and bool(mf.avalanches(above))


@pytest.mark.slow
def test_critical_scale_of_symmetric_couplings_large_N():
    out = mf.critical_log_scale(jnp.zeros(1000))
    assert bool(out.converged)
    assert float(out.log_scale) == pytest.approx(
        np.log(float(symmetric_fold.critical_coupling(1000))), abs=1e-9
    )


def test_critical_scale_brackets_the_flag_of_random_ensembles():
    rng = np.random.default_rng(4)
    l0 = 3.0 * np.log(rng.uniform(0, 1, (16, N_CHAIN)))
    l0[3, 10:] = -np.inf  # ragged: absent l-bits
    lam, ok = mf.critical_log_scale(l0)
    lam = np.asarray(lam)
    assert np.all(np.asarray(ok)) and np.all(np.isfinite(lam))
    for d, want in ((-1e-8, False), (1e-8, True)):
        res = mf.solve(l0 + lam[:, None] + d, log_input=True)
        assert np.all(np.asarray(mf.avalanches(res)) == want)
    # realizations are independent: a permuted batch gives the permuted answers
    perm = rng.permutation(16)
    np.testing.assert_array_equal(mf.critical_log_scale(l0[perm]).log_scale, lam[perm])
    # outside the bracket (-40, 40): -inf if it avalanches at its bottom, +inf if not
    # at its top (scaling g0 by e^s shifts lambda_c by -s)
    shift = np.where(np.arange(16) < 5, 60.0, np.where(np.arange(16) > 10, -60.0, 0.5))
    out = np.asarray(mf.critical_log_scale(l0 + shift[:, None]).log_scale)
    np.testing.assert_array_equal(out[:5], -np.inf)
    np.testing.assert_array_equal(out[11:], np.inf)
    np.testing.assert_allclose(out[5:11], lam[5:11] - 0.5, atol=1e-9)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([0.1, -0.2]), "g0 must lie in"),
        (np.array([0.1, np.nan]), "g0 contains NaN"),
        (np.zeros((3, 0)), "N >= 1"),
        (np.array(["a", "b"]), "dtype"),
        (np.array([0.1, np.inf]), "finite"),
    ],
)
def test_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        jaxmf.solve(bad)


def test_bad_mask_and_dist():
    with pytest.raises(ValueError, match="mask must have the shape"):
        jaxmf.solve(np.ones((2, 3)) * 0.1, mask=np.ones((2, 2), bool))
    with pytest.raises(ValueError, match="dist must be one of"):
        jaxmf.solve(np.ones(3) * 0.1, dist="gaussian")
    with pytest.raises(ValueError, match="dist must be one of"):
        enhancement.mean_entropy_of_log_g(0.0, dist="gue")
    with pytest.raises(ValueError, match="dist must be one of"):
        mf.n_thermal(jaxmf.solve(np.ones(3) * 0.1), dist="gue")


def test_invalid_couplings_under_jit_give_nan_observables():
    g = np.stack([drh_chain(N_CHAIN, 0.6).g0] * 2)
    g[1, 3] = np.nan
    res = jax.jit(jaxmf.solve)(g)
    assert np.isnan(float(mf.n_thermal(res)[1]))
    assert np.all(np.isnan(np.asarray(mf.mean_entropies(res))[1]))


def test_critical_scale_bad_input():
    with pytest.raises(ValueError, match="bracket"):
        mf.critical_log_scale(jnp.zeros(4), bracket=(1.0, -1.0))
    with pytest.raises(ValueError, match="n_bisect"):
        mf.critical_log_scale(jnp.zeros(4), n_bisect=0)
    with pytest.raises(ValueError, match="NaN"):
        mf.critical_log_scale(jnp.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="dist"):
        mf.critical_log_scale(jnp.zeros(4), dist="gue")
