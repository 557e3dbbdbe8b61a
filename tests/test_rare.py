"""Tests of the rare-avalanche estimators (jaxmf.analysis.rare) against independent
references: plain sampling of lattice.bare_couplings, direct mean-field solves, the
uniform prior, and analytic values."""

import functools

import jax
import numpy as np
import pytest
import scipy.special
import scipy.stats

from jaxmf import solve
from jaxmf.analysis import rare
from jaxmf.meanfield import avalanches
from jaxmf.models import as_model, lattice

KEY = jax.random.key(0)


def test_critical_coupling_decides_the_avalanche_for_every_g0():
    # reference: the avalanche flag of lattice.bare_couplings (independent sampler and
    # solve) at g0 agrees with log g0 > log g0_c(V)
    R, W = 2, 40.0
    keys = jax.random.split(jax.random.key(21), 24)
    V = jax.vmap(lambda k: lattice.potential(R, W, key=k, kind="random"))(keys)
    crit = rare.critical_log_g0(V, R, n_bisect=40)
    lc = np.asarray(crit.log_scale)
    assert np.all(np.asarray(crit.converged)) and np.all(np.isfinite(lc))
    for g0 in (0.05, 0.2, 1.0):
        g = jax.vmap(lambda k, g0=g0: lattice.bare_couplings(R, W, g0=g0, key=k, kind="random"))(
            keys
        )
        flag = np.asarray(avalanches(solve(g)))
        far = np.abs(lc - np.log(g0)) > 1e-8
        np.testing.assert_array_equal(flag[far], (np.log(g0) > lc)[far])


def test_plain_estimate_counts_the_avalanches_of_its_draws():
    # reference: the critical coupling of the same potentials (bisection, not one solve)
    R, W, n = 1, 10.0, 64
    lc = np.asarray(
        rare.critical_log_g0(
            jax.vmap(lambda k: lattice.potential(R, W, key=k, kind="random"))(
                jax.random.split(jax.random.key(4), n)
            ),
            R,
            n_bisect=40,
        ).log_scale
    )
    g0 = float(np.exp(np.median(lc) + 1e-3))
    p = rare.plain_estimate(R, W, key=jax.random.key(4), g0=g0, n=n, chunk=16)
    assert isinstance(p, rare.PlainEstimate)
    assert p.hits == np.sum(np.log(g0) > lc) and 0 < p.hits < n
    assert p.f == pytest.approx(p.hits / n)
    assert p.stderr == pytest.approx(np.sqrt(p.f * (1 - p.f) / n))


@pytest.mark.slow
def test_subset_simulation_agrees_with_plain_sampling_on_a_tiny_lattice():
    # reference: plain Monte Carlo of lattice.bare_couplings (6000 draws), f ~ 5e-3
    R, W, g0 = 2, 60.0, 0.1
    p = rare.plain_estimate(R, W, key=jax.random.key(1), g0=g0, n=6000, chunk=2000)
    e = rare.subset_estimate(R, W, key=jax.random.key(4), g0=(g0,), n=200, replicas=6)
    assert e.unconverged == 0 and p.hits > 10
    assert abs(e.f[0] - p.f) < 4 * np.hypot(e.stderr[0], p.stderr), (e.f, e.stderr, p)


@functools.cache
def _plain(R, W, g0, n):
    return rare.plain_estimate(R, W, key=jax.random.key(7), g0=g0, n=n, chunk=20000)


@pytest.mark.parametrize(
    "W, n_plain, n, M, moves",
    [
        (80.0, 100_000, 200, 6, "lattice"),  # f ~ 1e-3
        (80.0, 100_000, 200, 6, "resonance"),
        pytest.param(80.0, 100_000, 200, 6, "cluster", marks=pytest.mark.slow),
        pytest.param(110.0, 1_000_000, 1000, 8, "lattice", marks=pytest.mark.slow),  # ~1e-4
        pytest.param(110.0, 1_000_000, 1000, 8, "resonance", marks=pytest.mark.slow),
        pytest.param(110.0, 1_000_000, 1000, 8, "resonance-pcn", marks=pytest.mark.slow),
        pytest.param(110.0, 1_000_000, 1000, 8, "cluster", marks=pytest.mark.slow),
    ],
)
def test_subset_simulation_agrees_with_plain_sampling_in_the_tail(W, n_plain, n, M, moves):
    # reference: plain Monte Carlo of lattice.bare_couplings (independent sampler, no
    # critical coupling), enough draws for ~50-100 hits on the 13-site lattice
    R, g0 = 2, 0.1
    p = _plain(R, W, g0, n_plain)
    assert p.hits >= 30
    e = rare.subset_estimate(
        R, W, key=jax.random.key(5), g0=(g0, 0.05), n=n, replicas=M, moves=moves
    )
    assert np.all(e.levels >= 2) and e.unconverged == 0  # the event needed levels
    assert abs(e.f[0] - p.f) < 4 * np.hypot(e.stderr[0], p.stderr), (e.f, e.stderr, p)
    assert 0 < e.f[1] < e.f[0]  # smaller g0: rarer, read off the same runs
    # effective ancestral families: 1 ... n where a replica found the event, 0 where not
    F, hit = e.families, e.replicas > 0
    assert F is not None and F.shape == (M, 2)
    assert np.all((F[hit] >= 1) & (F[hit] <= n)) and np.all(F[~hit] == 0)
    V = e.conditional_V
    assert V.shape == (M * n, lattice.num_sites(R)) and np.all(np.abs(V) < W)


def test_subset_estimate_is_reproducible_from_the_key():
    a = rare.subset_estimate(1, 30.0, key=KEY, g0=(0.1,), n=50, replicas=2)
    b = rare.subset_estimate(1, 30.0, key=KEY, g0=(0.1,), n=50, replicas=2)
    c = rare.subset_estimate(1, 30.0, key=jax.random.key(1), g0=(0.1,), n=50, replicas=2)
    np.testing.assert_array_equal(a.replicas, b.replicas)
    np.testing.assert_array_equal(a.conditional_V, b.conditional_V)
    np.testing.assert_array_equal(a.families, b.families)
    assert not np.array_equal(a.conditional_V, c.conditional_V)


def test_subset_estimate_checks_input():
    with pytest.raises(TypeError):
        rare.subset_estimate(1, 30.0, n=50)  # the key is required (keyword-only)
    with pytest.raises(ValueError, match="g0"):
        rare.subset_estimate(1, 30.0, key=KEY, g0=(-1.0,), n=50)
    with pytest.raises(ValueError, match="g0"):
        rare.subset_estimate(1, 30.0, key=KEY, g0=(), n=50)
    with pytest.raises(ValueError, match="W"):
        rare.subset_estimate(1, np.nan, key=KEY, n=50)
    with pytest.raises(ValueError, match="replicas"):
        rare.subset_estimate(1, 30.0, key=KEY, n=50, replicas=0)
    with pytest.raises(ValueError, match="p0"):
        rare.subset_estimate(1, 30.0, key=KEY, n=55, p0=0.1)
    with pytest.raises(ValueError, match="moves"):
        rare.subset_estimate(1, 30.0, key=KEY, n=50, moves="jump")
    with pytest.raises(ValueError, match="R"):
        rare.subset_estimate(-1, 30.0, key=KEY, n=50)
    with pytest.raises(ValueError, match="W"):
        rare.plain_estimate(1, -5.0, key=KEY, n=4)
    with pytest.raises(ValueError, match="n"):
        rare.plain_estimate(1, 5.0, key=KEY, n=0)


def test_f_aval_tail_rows_and_a_split_grid():
    # one row per (W, g0), plain values; the run at W depends on (key, W) only, so a W
    # grid split across calls gives the same rows
    Ws, g0 = [20.0, 30.0], (0.2, 0.1)
    seen = []
    rows = rare.f_aval_tail(1, Ws, key=KEY, g0=g0, n=50, replicas=3, thin=2, callback=seen.append)
    assert [(r.W, r.g0) for r in rows] == [(W, g) for W in Ws for g in g0]
    assert seen == rows and all(isinstance(r, rare.TailRow) for r in rows)
    part = rare.f_aval_tail(1, Ws[1:], key=KEY, g0=g0, n=50, replicas=3, thin=2)
    for a, b in zip(rows[2:], part):  # (NaN acceptance where no level was needed)
        np.testing.assert_equal(a._replace(seconds=0)._asdict(), b._replace(seconds=0)._asdict())
    for r in rows:
        assert r.f == pytest.approx(np.mean(r.replicas)) and len(r.replicas) == 3
        assert r.reliable == rare.reliable(r.replicas, r.levels)
    # smaller g0: fewer avalanches in every replica (same runs)
    for a, b in zip(rows[::2], rows[1::2]):
        assert np.all(np.asarray(b.replicas) <= np.asarray(a.replicas))


@pytest.mark.parametrize("wrap", [False, True])
def test_lattice_moves_leave_the_prior_invariant(wrap):
    # every valid proposal accepted = the unconditioned chain; started in N(0, I) it must
    # stay N(0, I) at every site, including the grain's neighbourhood that the local
    # moves act on (exact reference: the prior itself; KS at 5000 chains x 30 steps)
    R = 3
    propose = rare.lattice_moves(R, wrap=wrap)
    key = jax.random.key(8)
    z = np.asarray(jax.random.normal(key, (5000, lattice.num_sites(R))))
    moved = np.zeros(len(z), bool)
    for i in range(30):
        zp, valid, _ = propose(z, 0.3, key=jax.random.fold_in(key, i))
        moved |= valid & np.any(zp != z, axis=1)
        z = np.where(valid[:, None], zp, z)
    assert moved.mean() > 0.99 and np.all(np.isfinite(z))
    for site in (0, 1, 5, lattice.num_sites(R) - 1):
        assert scipy.stats.kstest(z[:, site], scipy.stats.norm.cdf).pvalue > 1e-3


@pytest.mark.parametrize("pair_fraction", [0.0, 1.0])
def test_resonance_moves_leave_the_prior_invariant(pair_fraction):
    # exact reference: the prior. The proposals favour near-resonant bonds by a factor
    # ~e / (2 w) ~ 1e3; without the Metropolis-Hastings factor the unconditioned chain
    # would pile up on them. Check the u = Phi(z) of the moved sites (KS against the
    # uniform law) and the fraction of bonds of the grain's neighbourhood with circular
    # distance |u_n - u_m| < 2^-5: 2^-4 under the prior (analytic), binomial errors.
    R = 3
    model = as_model(R)
    propose = rare.resonance_moves(R, pair_fraction=pair_fraction)
    key = jax.random.key(9)
    z = np.asarray(jax.random.normal(key, (4000, model.N)))
    n_accepted = 0
    for i in range(40):
        zp, valid, scaled = propose(z, 0.3, key=jax.random.fold_in(key, i))
        assert not scaled.any()
        n_accepted += int(valid.sum())
        z = np.where(valid[:, None], zp, z)
    assert n_accepted > 0.2 * 40 * len(z) and np.all(np.isfinite(z))
    u = scipy.special.ndtr(z)
    d = rare.moves.shells(model)
    for site in np.flatnonzero(d <= 2):
        assert scipy.stats.kstest(u[:, site], "uniform").pvalue > 1e-4
    near_bonds = [(a, b) for a, b in model.bonds if d[a] <= 2 and d[b] <= 2]
    du = np.abs(np.stack([u[:, a] - u[:, b] for a, b in near_bonds])) % 1.0
    close = np.minimum(du, 1.0 - du) < 2.0**-5
    p = 2.0**-4
    assert abs(close.mean() - p) < 5 * np.sqrt(p * (1 - p) / close.size), close.mean()


@pytest.mark.parametrize("grain_fraction", [0.0, 1.0])
def test_cluster_moves_leave_the_prior_invariant(grain_fraction):
    # exact reference: the prior. A cluster shift that let the cluster grow (no check
    # that the new state's cluster is the old one) would never break a resonance it
    # made: the fraction of close bonds then rises to 1.3-2.8x the prior's (20-30
    # sigma at these sizes -- checked). KS of u = Phi(z) near the grain, and the fraction
    # of bonds with circular distance < 2^-j (prior: 2^-(j - 1)) at three widths.
    R = 3
    model = as_model(R)
    propose = rare.cluster_moves(R, grain_fraction=grain_fraction)
    key = jax.random.key(11)
    z = np.asarray(jax.random.normal(key, (4000, model.N)))
    moved = 0
    for i in range(40):
        zp, valid, scaled = propose(z, 0.3, key=jax.random.fold_in(key, i))
        assert not scaled.any()
        moved += int((valid & np.any(zp != z, axis=1)).sum())
        z = np.where(valid[:, None], zp, z)
    assert moved > 0.5 * 40 * len(z) and np.all(np.isfinite(z))
    u = scipy.special.ndtr(z)
    d = rare.moves.shells(model)
    for site in np.flatnonzero(d <= 2):
        assert scipy.stats.kstest(u[:, site], "uniform").pvalue > 1e-4
    near_bonds = [(a, b) for a, b in model.bonds if d[a] <= 2 and d[b] <= 2]
    du = np.abs(np.stack([u[:, a] - u[:, b] for a, b in near_bonds])) % 1.0
    for j in (5, 7, 9):
        close = np.minimum(du, 1.0 - du) < 2.0**-j
        p = 2.0 ** -(j - 1)
        assert abs(close.mean() - p) < 5 * np.sqrt(p * (1 - p) / close.size), (j, close.mean())


def test_cluster_moves_carry_the_whole_cluster():
    # a chain whose grain site and its two neighbours are mutually resonant (u within
    # 1e-4) and far from the rest: a valid move of the grain's cluster shifts all three
    # by one delta and nothing else
    from jaxmf.models import FAMILIES

    model = FAMILIES["chain"](3)  # 7 sites in a row, the grain's in the middle
    propose = rare.cluster_moves(model, grain_fraction=1.0)
    u = np.array([0.1, 0.3, 0.50005, 0.5, 0.49995, 0.7, 0.9])
    z = np.tile(scipy.special.ndtri(u), (200, 1))
    zp, valid, _ = propose(z, 0.0, key=jax.random.key(12))
    assert valid.mean() > 0.5
    up = scipy.special.ndtr(zp[valid])
    shift = (up - u) % 1.0
    moved = np.abs(shift - np.round(shift)) > 1e-12
    near = _chain_cluster(model, u)
    assert np.all(moved[:, near] | ~moved.any(axis=1, keepdims=True))  # all or none
    assert not moved[:, ~near].any()
    np.testing.assert_allclose(shift[:, near], shift[:, near][:, :1] * np.ones(3), atol=1e-9)


def _chain_cluster(model, u):
    """Sites connected to the grain's through bonds with |u_n - u_m| < 1e-3 (by hand)."""
    inside = np.asarray(model.geometry.distance) == 0
    for _ in range(model.N):
        for a, b in model.bonds:
            if abs(u[a] - u[b]) < 1e-3 and (inside[a] or inside[b]):
                inside[a] = inside[b] = True
    return inside


@pytest.mark.parametrize("moves", ["resonance", "resonance-pcn", "cluster"])
def test_resonance_kernels_leave_the_prior_invariant(moves):
    # the mixtures of rare.moves.proposal: started in N(0, I), the unconditioned chain
    # stays N(0, I) at the grain, its neighbours and the edge (exact reference: the prior)
    R = 3
    propose = rare.moves.proposal(R, moves)
    key = jax.random.key(10)
    z = np.asarray(jax.random.normal(key, (4000, lattice.num_sites(R))))
    for i in range(30):
        zp, valid, scaled = propose(z, 0.3, key=jax.random.fold_in(key, i))
        if i == 0:  # sigma is adapted on the pCN proposals only (1/4, 1/2, 1/6)
            expected = {"resonance": 0.25, "resonance-pcn": 0.5, "cluster": 1.0 / 6.0}[moves]
            assert abs(scaled.mean() - expected) < 0.05
        z = np.where(valid[:, None], zp, z)
    for site in (0, 1, 5, lattice.num_sites(R) - 1):
        assert scipy.stats.kstest(z[:, site], scipy.stats.norm.cdf).pvalue > 1e-3


def test_resonance_moves_need_bonds_and_valid_fractions():
    from jaxmf.models import FAMILIES

    with pytest.raises(ValueError, match="bonds"):
        rare.resonance_moves(FAMILIES["chain"](0))  # one site, no bond
    with pytest.raises(ValueError, match="resonant_fraction"):
        rare.resonance_moves(2, resonant_fraction=1.5)
    with pytest.raises(ValueError, match="pair_fraction"):
        rare.resonance_moves(2, pair_fraction=-0.1)
    with pytest.raises(ValueError, match="bonds"):
        rare.cluster_moves(FAMILIES["chain"](0))
    with pytest.raises(ValueError, match="grain_fraction"):
        rare.cluster_moves(2, grain_fraction=2.0)


def test_reliability_flag():
    assert rare.reliable([1e-6, 2e-6, 1.5e-6], [5, 5, 6], 14)
    assert not rare.reliable([1e-6, 2e-6], [5, 5], 14)  # too few replicas for an error
    assert not rare.reliable([1e-6, 0.0, 2e-6], [5, 5, 5], 14)  # one never got there
    assert not rare.reliable([1e-6, 2e-6, 1.5e-6], [5, 14, 6], 14)  # level limit hit
    assert not rare.reliable([1e-9, 1e-6, 1e-6, 1e-6], [5, 5, 5, 5], 14)  # > 30x spread


def test_calm_profile_of_iid_potentials_matches_the_uniform_law():
    # reference: V uniform on [-W, W] has rms W / sqrt 3 (V_0), W sqrt(2/3) (V_n - V_0),
    # median |V_0| = W / 2, and P(|V_n - V_0| < a) = a / W - a^2 / (4 W^2) (analytic)
    R, W, M = 3, 10.0, 20000
    V = np.asarray(
        jax.random.uniform(jax.random.key(2), (M, lattice.num_sites(R)), minval=-W, maxval=W)
    )
    prof = rare.calm_profile(V, R, r_max=3, widths=(1.0, 3.0))
    assert isinstance(prof, rare.CalmProfile) and prof.rms.shape == (4,)
    np.testing.assert_allclose(prof.rms, [W / np.sqrt(3)] + [W * np.sqrt(2 / 3)] * 3, rtol=0.02)
    assert prof.median_abs[0] == pytest.approx(W / 2, rel=0.03)
    near = 2 * 3 * 4  # sites with 1 <= d <= 3: 4 d per shell
    a = np.array([1.0, 3.0])
    np.testing.assert_allclose(prof.resonant, near * (a / W - a**2 / (4 * W**2)), rtol=0.03)
    np.testing.assert_allclose(prof.resonant_iid, prof.resonant, rtol=0.03)


def test_fit_tail_recovers_exact_laws():
    # reference: noiseless exponential and power-law tails (analytic parameters)
    Ws = np.array([100.0, 150.0, 200.0, 250.0])
    exp_rows = [
        {"W": W, "f": 3.0 * np.exp(-W / 12.5), "stderr": 0.1 * np.exp(-W / 12.5)} for W in Ws
    ]
    fit = rare.fit_tail(exp_rows)
    assert isinstance(fit, rare.TailFit) and fit.n == 4
    assert fit.exp[0] == pytest.approx(12.5, rel=1e-9) and fit.exp[2] < 1e-20
    assert fit.power[2] > 1e-3  # the wrong form does not fit
    pow_rows = [{"W": W, "f": 5.0 * W**-7.0, "stderr": 0.2 * W**-7.0} for W in Ws]
    fit = rare.fit_tail(pow_rows, W_min=120.0)
    assert fit.n == 3 and fit.power[0] == pytest.approx(7.0, rel=1e-9)
    wl = [{"W": W, "f": (f := np.exp(-0.02 * W * np.log(W))), "stderr": 0.1 * f} for W in Ws]
    fit = rare.fit_tail(wl)
    assert fit.wlogw[0] == pytest.approx(0.02, rel=1e-9) and fit.wlogw[2] < 1e-20
    assert fit.exp[2] > 1e-3 and fit.power[2] > 1e-3
    short = rare.fit_tail(exp_rows[:2] + [{"W": 300.0, "f": 0.0, "stderr": 0.0}])
    assert short.n == 2 and np.isnan(short.exp[0]) and np.isnan(short.power[0])
