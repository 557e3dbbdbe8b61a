"""The critical scale as a fold (jaxmf.critical): against the exact symmetric fold, the
bisection of the solver's flag, plain iteration (13), finite differences, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxmf
from jaxmf import meanfield as mf
from jaxmf.analysis import symmetric_fold as symmetric
from jaxmf.critical import FoldKind, fold_log_scale
from jaxmf.models import lattice


def _random_log_couplings(seed, shape):
    return 3.0 * np.log(np.random.default_rng(seed).uniform(0, 1, shape))


def test_symmetric_fold_and_crossing():
    """N = 100: the fold is the exact g_c(N) of the scalar symmetric equation (an
    independent route, symmetric.critical_coupling). N = 10 (as 90 absent l-bits): the
    localized branch crosses eta_tot = N log 2 / 2 before its fold, so u_c lies below
    log g_c(10), where the solver's flag switches."""
    l0 = np.zeros((2, 100))
    l0[1, 10:] = -np.inf
    out = fold_log_scale(l0)
    assert np.all(np.asarray(out.converged))
    np.testing.assert_array_equal(out.kind, [FoldKind.FOLD, FoldKind.CROSSING])
    u100, u10 = (float(x) for x in out.log_scale)
    assert u100 == pytest.approx(np.log(float(symmetric.critical_coupling(100))), abs=1e-10)
    assert u10 < np.log(float(symmetric.critical_coupling(10))) - 0.05
    g10 = np.r_[np.ones(10), np.zeros(90)]
    assert not bool(mf.avalanches(mf.solve(g10 * np.exp(u10 - 1e-9))))
    assert bool(mf.avalanches(mf.solve(g10 * np.exp(u10 + 1e-9))))
    # at the fold eta_tot is the symmetric branch's: N eta(g_c e^{(N-1) eta / 2})
    assert float(out.eta_tot[1]) == pytest.approx(5 * np.log(2.0), rel=1e-12)


def test_fold_agrees_with_bisection_of_the_flag():
    """Random couplings (16 x 40, ragged) and the batch shape (..., N): the fold agrees
    with the 48-step bisection of the solver's flag (resolution 80 / 2^49 = 1.4e-13)."""
    l0 = _random_log_couplings(4, (2, 8, 40))
    l0[0, 3, 10:] = -np.inf
    fold = fold_log_scale(l0)
    bis = mf.critical_log_scale(l0, method="bisect")
    assert fold.log_scale.shape == (2, 8) and np.all(np.asarray(fold.converged))
    np.testing.assert_allclose(fold.log_scale, bis.log_scale, rtol=0, atol=1e-11)
    # the default method of critical_log_scale is the fold
    np.testing.assert_array_equal(mf.critical_log_scale(l0).log_scale, fold.log_scale)


def _plain_iteration_eta_tot(g0, steps):
    """Iteration (13) from the bare couplings, g_n = g_{n,0} exp(sum_{m != n} eta_m / 2):
    it increases monotonically to the smallest fixed point (an independent reference)."""

    def body(_, g):
        e = jaxmf.eta(g)
        return g0 * jnp.exp(0.5 * (jnp.sum(e) - e))

    return float(jnp.sum(jaxmf.eta(jax.lax.fori_loop(0, steps, body, g0))))


@pytest.mark.slow
def test_lattice_with_a_window_of_unstable_roots():
    """An R = 10 random lattice (W = 300) whose F(H) = G(H) - H has a second window of
    F < 0 (two more roots) past a narrow near-fold: the smallest fixed point at
    log g0 = 2.6 is localized (eta_tot = 13.3 by plain iteration (13)), and the flag
    switches only at the fold u_c = 3.2011. An uncapped step doubling of solve() jumped
    over the window (it reported the avalanche, eta_tot = 153, and a bisection of its flag
    put u_c at 2.4995)."""
    W, N = 300.0, lattice.num_sites(10)
    V = W * jax.random.uniform(jax.random.key(1), (100, N), minval=-1, maxval=1)[81]
    c = np.asarray(lattice.couplings_from_potential(V, 10, g0=1.0))
    l0 = np.log(c)
    u = float(fold_log_scale(l0).log_scale)
    assert u == pytest.approx(3.2011, abs=1e-4)
    ref = _plain_iteration_eta_tot(jnp.asarray(c * np.exp(2.6)), 400)
    res = mf.solve(c * np.exp(2.6))
    assert float(res.eta_tot) == pytest.approx(ref, rel=1e-9) and ref < 20
    bis = float(mf.critical_log_scale(l0, method="bisect", bracket=(-20.0, 20.0)).log_scale)
    assert bis == pytest.approx(u, abs=1e-10)


def test_gradient_matches_finite_differences():
    """jax.grad of u_c in log g0 against central differences (h = 1e-5), at a fold and at
    a crossing; scaling all couplings by e^s shifts u_c by -s, so the gradient sums to
    -1 (an exact identity)."""
    l0 = _random_log_couplings(7, (40,))
    sym10 = np.r_[np.zeros(10), np.full(30, -np.inf)]
    for x, kind in ((l0, FoldKind.FOLD), (sym10, FoldKind.CROSSING)):
        out = fold_log_scale(x)
        assert int(out.kind) == kind
        fn = lambda v: fold_log_scale(v).log_scale  # noqa: E731
        g = np.asarray(jax.grad(fn)(jnp.asarray(x)))
        act = np.isfinite(x)
        np.testing.assert_array_equal(g[~act], 0.0)
        assert g.sum() == pytest.approx(-1.0, abs=1e-10)
        h = 1e-5
        for n in np.flatnonzero(act)[:6]:
            e = np.zeros_like(x)
            e[n] = h
            fd = (float(fn(x + e)) - float(fn(x - e))) / (2 * h)
            assert g[n] == pytest.approx(fd, abs=1e-7)


@pytest.mark.slow
def test_second_derivative_matches_finite_differences():
    """The Hessian (implicit rules differentiated again) against differences of grad."""
    l0 = jnp.asarray(_random_log_couplings(7, (40,)))
    fn = lambda v: fold_log_scale(v).log_scale  # noqa: E731
    gfn = jax.jit(jax.grad(fn))
    d = jnp.asarray(np.random.default_rng(1).normal(size=40))
    hv = jax.jvp(jax.grad(fn), (l0,), (d,))[1]
    h = 1e-5
    fd = (gfn(l0 + h * d) - gfn(l0 - h * d)) / (2 * h)
    np.testing.assert_allclose(hv, fd, atol=1e-6 * float(jnp.max(jnp.abs(fd))) + 1e-8)


def test_gradient_through_the_lattice_spectrum():
    """d log g0_c / dV through couplings_from_potential (dense eigh) against central
    differences, R = 3."""
    from jaxmf.analysis.rare.critical import critical_log_g0

    R, W = 3, 30.0
    V = W * jax.random.uniform(jax.random.key(3), (lattice.num_sites(R),), minval=-1, maxval=1)
    fn = lambda v: critical_log_g0(v, R, method="eigh", bracket=(-40.0, 40.0)).log_scale  # noqa: E731
    assert np.isfinite(float(fn(V)))
    g = np.asarray(jax.grad(fn)(V))
    h = 1e-4
    for n in (0, 1, 5, 12):
        e = jnp.zeros_like(V).at[n].set(h)
        fd = (float(fn(V + e)) - float(fn(V - e))) / (2 * h)
        assert g[n] == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("method", ["fold", "bisect"])
def test_bad_input(method):
    """NaN or +inf log couplings: a clear error eagerly; under jit NaN and
    converged=False (both used to return the answer without the bad l-bit,
    converged=True)."""
    for bad in (np.nan, np.inf):
        with pytest.raises(ValueError, match="log_g0 contains"):
            mf.critical_log_scale(np.array([bad, 0.0]), method=method)
    f = jax.jit(lambda v: mf.critical_log_scale(v, method=method))
    out = f(jnp.array([[np.nan, 0.0], [np.inf, 0.0], [0.0, 0.0]]))
    assert np.all(np.isnan(np.asarray(out.log_scale)[:2]))
    np.testing.assert_array_equal(out.converged, [False, False, True])
    with pytest.raises(ValueError, match="bracket"):
        mf.critical_log_scale(np.zeros(3), bracket=(1.0, np.inf), method=method)
    with pytest.raises(ValueError, match="method"):
        mf.critical_log_scale(np.zeros(3), method="newton")


@pytest.mark.slow
def test_outside_the_bracket_and_no_lbits():
    """u_c outside the bracket: -inf below it, +inf above (shifting log g0 by s shifts u_c
    by -s); a realization without l-bits never avalanches (+inf)."""
    l0 = _random_log_couplings(4, (3, 40))
    u = np.asarray(fold_log_scale(l0).log_scale)
    out = fold_log_scale(np.stack([l0[0] + 60.0, l0[1] - 60.0, l0[2] + 0.5, np.full(40, -np.inf)]))
    assert float(out.log_scale[0]) == -np.inf and float(out.log_scale[1]) == np.inf
    assert float(out.log_scale[2]) == pytest.approx(u[2] - 0.5, abs=1e-11)
    assert float(out.log_scale[3]) == np.inf and bool(out.converged[3])
