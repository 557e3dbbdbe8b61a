"""Tests of subset simulation (jaxmf.analysis.rare.subset) on Gaussian problems with
exact answers."""

import jax
import numpy as np
import pytest
import scipy.stats

from jaxmf.analysis.rare import guided, replicas, subset


def _halfspace(d):
    a = np.ones(d) / np.sqrt(d)
    return lambda z: -(np.asarray(z) @ a)  # P(s <= -t) = Phi(-t) exactly


@pytest.mark.parametrize("t", [4.5, 7.0])
def test_gaussian_tail_probability_matches_the_exact_value(t):
    # reference: P(a.z >= t) = Phi(-t) for a unit vector a (analytic)
    d, M = 20, 8
    est = []
    for r in range(M):
        run = subset.run(_halfspace(d), d, key=jax.random.key(r), n=500, stop=-t)
        assert run.thresholds[-1] > -t and np.all(np.diff(run.thresholds) < 0)
        est.append(float(subset.tail_probability(run, -t).probability))
    est = np.asarray(est)
    exact = scipy.stats.norm.cdf(-t)
    se = est.std(ddof=1) / np.sqrt(M)
    assert abs(est.mean() - exact) < 3 * se, (est.mean(), se, exact)
    assert se < 0.5 * exact  # and the estimate is informative at 1e-12


def test_tail_probability_over_all_thresholds_of_one_run():
    run = subset.run(_halfspace(5), 5, key=jax.random.key(3), n=1000, stop=-5.0)
    ts = np.array([0.5, 1.5, 2.5, 3.5, 4.5])
    P, k = subset.tail_probability(run, -ts)
    assert np.all(np.diff(k) >= 0) and k[0] == 0  # deeper events use deeper populations
    exact = scipy.stats.norm.cdf(-ts)
    # one run: relative error ~ sqrt(levels) * 0.1 ... 0.3; a loose but failing-capable bound
    np.testing.assert_allclose(np.log(P), np.log(exact), atol=0.8)
    # above the first threshold the estimate is the plain fraction of population 0
    assert P[0] == pytest.approx(np.mean(run.scores[0] <= -0.5))


@pytest.mark.parametrize("thin", [1, 3])
def test_conditional_populations_have_the_conditional_law(thin):
    # s = -z_0: the last population is N(0, I) restricted to z_0 >= -b_L. The chains must
    # leave the other components N(0, 1) (the pCN proposal is reversible for N(0, I)) and
    # give z_0 the truncated normal law, so E[z_j] = 0, E[z_j^2] = 1 (j >= 1) and
    # E[F_trunc(z_0)] = 1/2 (exact). The chains are correlated, so the errors come from
    # the spread over independent runs.
    d, M = 6, 16
    m1, m2, u, acc = [], [], [], []
    for r in range(M):
        run = subset.run(
            lambda z: -np.asarray(z)[:, 0],
            d,
            key=jax.random.key(100 + r),
            n=500,
            stop=-3.0,
            thin=thin,
        )
        z, b = run.samples, run.thresholds[-1]
        assert np.all(-z[:, 0] <= b) and len(run.thresholds) >= 2
        m1.append(z[:, 1:].mean())
        m2.append((z[:, 1:] ** 2).mean())
        u.append(scipy.stats.truncnorm(-b, np.inf).cdf(z[:, 0]).mean())
        acc.append(np.mean(run.acceptance))
    for x, ref in ((m1, 0.0), (m2, 1.0), (u, 0.5)):
        x = np.asarray(x)
        assert abs(x.mean() - ref) < 4 * x.std(ddof=1) / np.sqrt(M), (x.mean(), ref)
    assert 0.2 < np.mean(acc) < 0.7  # the step adaptation works


def test_reproducible_from_the_key():
    f = _halfspace(4)
    a = subset.run(f, 4, key=jax.random.key(5), n=100, stop=-3.0)
    b = subset.run(f, 4, key=jax.random.key(5), n=100, stop=-3.0)
    c = subset.run(f, 4, key=jax.random.key(6), n=100, stop=-3.0)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.scores[0], c.scores[0])


def test_proposals_may_be_plain_tuples():
    # a user move returning (z', valid) behaves as the Proposal of the same move
    f = _halfspace(3)
    a = subset.run(f, 3, key=jax.random.key(2), n=100, stop=-2.5)
    b = subset.run(
        f,
        3,
        key=jax.random.key(2),
        n=100,
        stop=-2.5,
        propose=lambda z, s, *, key: tuple(subset.pcn(z, s, key=key))[:2],
    )
    np.testing.assert_array_equal(a.samples, b.samples)
    assert len(a.thresholds) >= 1


def test_plain_sampling_is_used_when_the_event_is_not_rare():
    run = subset.run(_halfspace(3), 3, key=jax.random.key(0), n=1000, stop=0.0)
    assert len(run.thresholds) == 0 and run.n_evals == 1000
    P, k = subset.tail_probability(run, 0.0)
    assert k == 0 and P == pytest.approx(0.5, abs=0.05)


def test_bad_input():
    f = _halfspace(2)
    with pytest.raises(ValueError, match="p0"):
        subset.run(f, 2, key=jax.random.key(0), n=105, p0=0.1)
    with pytest.raises(ValueError, match="p0"):
        subset.run(f, 2, key=jax.random.key(0), n=100, p0=1.5)
    with pytest.raises(ValueError, match="thin"):
        subset.run(f, 2, key=jax.random.key(0), n=100, thin=0)
    with pytest.raises(ValueError, match="NaN"):
        subset.run(lambda z: np.full(len(z), np.nan), 2, key=jax.random.key(0), n=100)


# --------------------------------------------------------------------------- guided moves
def _radial(d):
    """s(z) = -|z|: P(s <= -r) = P(chi2_d >= r^2) exactly; the normal of its level
    surfaces (z / |z|) turns with the state, so the proposal is not symmetric."""
    return (
        lambda z: -np.linalg.norm(np.asarray(z), axis=1),
        lambda z: -np.asarray(z) / np.linalg.norm(np.asarray(z), axis=1, keepdims=True),
    )


def test_guided_moves_keep_the_prior():
    """Without a level set (every proposal in the set), 40 guided steps from N(0, I) keep
    N(0, I): |z|^2 stays chi2_d (KS test) and each coordinate N(0, 1). Accepting every
    proposal instead of the Metropolis-Hastings coin fails this (the squeezed radial step
    shrinks |z|)."""
    d, m = 10, 4000
    _, grad = _radial(d)
    prop = guided.guided_moves(grad, kappa=0.3)
    z = np.asarray(jax.random.normal(jax.random.key(0), (m, d)))
    acc = []
    for k in range(40):
        p = prop(z, 0.3, key=jax.random.key(k + 1))
        z = np.where(p.valid[:, None], p.z, z)
        acc.append(p.valid.mean())
    assert 0.05 < np.mean(acc) < 1.0  # the coin does reject
    assert scipy.stats.kstest(np.sum(z * z, axis=1), scipy.stats.chi2(d).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(z[:, 0], "norm").pvalue > 1e-3


def test_guided_moves_keep_the_prior_where_the_normal_is_undefined():
    """A gradient that vanishes on half the space (z_0 > 0: isotropic steps there) must
    not bias the chain: P(z_0 > 0) stays 1/2 and z_0 stays N(0, 1) (KS). Without the
    kappa of the proposal's determinant in the Metropolis-Hastings factor the chain
    drifts to one side (|P(z_0 > 0) - 1/2| = 0.24 after 40 steps)."""
    d, m = 5, 4000

    def grad(z):
        z = np.asarray(z)
        g = z / np.linalg.norm(z, axis=1, keepdims=True)
        return np.where(z[:, :1] > 0, 0.0, g)

    prop = guided.guided_moves(grad, kappa=0.3)
    z = np.asarray(jax.random.normal(jax.random.key(7), (m, d)))
    for k in range(40):
        p = prop(z, 0.6, key=jax.random.key(100 + k))
        z = np.where(p.valid[:, None], p.z, z)
    frac = np.mean(z[:, 0] > 0)
    assert abs(frac - 0.5) < 4 * np.sqrt(0.25 / m), frac
    assert scipy.stats.kstest(z[:, 0], "norm").pvalue > 1e-3


@pytest.mark.parametrize(
    "problem, t",
    [("halfspace", 4.5), ("halfspace", 7.0), pytest.param("radial", 6.5, marks=pytest.mark.slow)],
)
def test_guided_mixture_is_unbiased(problem, t):
    """Subset simulation with the guided kernel mixed with pCN: unbiased within 3 replica
    errors at Phi(-4.5) = 3.4e-6 and Phi(-7) = 1.3e-12 (half-space, analytic; 24
    replicas: the squeezed step across the surface is the worst case for a half-space,
    whose one relevant direction is the normal, so the replicas scatter ~4x more than
    with pCN alone and 12 of them were not enough for a stable 3-sigma test) and at
    P(chi2_10 >= 6.5^2) = 6.8e-6 (outside a sphere, analytic; normals turn with the
    state)."""
    d, M = (20, 24) if problem == "halfspace" else (10, 8)
    if problem == "halfspace":
        a = np.ones(d) / np.sqrt(d)
        score, grad = _halfspace(d), (lambda z: np.broadcast_to(-a, np.shape(z)))
        exact = scipy.stats.norm.cdf(-t)
    else:
        score, grad = _radial(d)
        exact = scipy.stats.chi2(d).sf(t * t)
    prop = guided.mixture([guided.guided_moves(grad), subset.pcn], [0.5, 0.5])
    est = []
    for r in range(M):
        run = subset.run(score, d, key=jax.random.key(100 + r), n=500, stop=-t, propose=prop)
        est.append(float(subset.tail_probability(run, -t).probability))
    est = np.asarray(est)
    se = est.std(ddof=1) / np.sqrt(M)
    assert abs(est.mean() - exact) < 3 * se, (est.mean(), se, exact)
    assert se < (0.5 if problem == "halfspace" else 1.0) * exact


@pytest.mark.slow
def test_memoized_score_and_gradient_match_the_direct_computation():
    """The guided kernel's evaluator (one value_and_grad per new state, padded batches,
    a memo) returns what the plain jitted score (no gradient, no padding, no memo) and
    jax.grad of log g0_c of one state give; repeated states are evaluated once."""
    import jax.numpy as jnp

    from jaxmf.analysis.rare.critical import critical_log_g0, gaussian_scorer
    from jaxmf.analysis.rare.critical import potential_from_gaussian as pfg
    from jaxmf.models import lattice

    R, W = 2, 60.0
    N = lattice.num_sites(R)
    z = np.asarray(jax.random.normal(jax.random.key(3), (9, N)))
    z = np.concatenate([z, z[:2]])  # 11 states, 2 repeated: not a padded size
    ev = guided.LatticeScoreGradient(R, W, chunk=16)
    s = ev.score(z)
    assert ev.n_value_and_grad == 9
    ref = np.asarray(gaussian_scorer(R, method="eigh")(jnp.asarray(z), W).log_scale)
    np.testing.assert_allclose(s, ref, rtol=0, atol=1e-9)
    g = ev.gradient(z[::-1])  # all memo hits
    assert ev.n_value_and_grad == 9
    one = jax.grad(lambda x: critical_log_g0(pfg(x, W), R, method="eigh").log_scale)
    np.testing.assert_allclose(g[-1], np.asarray(one(jnp.asarray(z[0]))), rtol=1e-8, atol=1e-12)
    assert np.abs(g).max() > 0


# --------------------------------------------------------------------------- replica check
def test_replica_check_accepts_consistent_and_rejects_scattered_replicas():
    """chi^2 of log f on M - 1 dof: replicas within their claimed 10 % pass; a replica
    1000x off (or 0) fails."""
    ok = replicas.replica_check([1.0e-6, 1.1e-6, 0.95e-6, 1.02e-6], [0.1] * 4)
    assert ok.passed and ok.dof == 3 and ok.p_value > 0.1
    bad = replicas.replica_check([1.0e-6, 1.1e-6, 1.0e-3, 1.02e-6], [0.1] * 4)
    assert not bad.passed and bad.p_value < 1e-6
    assert not replicas.replica_check([1e-6, 0.0, 1e-6], [0.1] * 3).passed


def test_replicas_of_a_gaussian_tail_pass_and_a_stuck_sampler_warns():
    """Half-space, Phi(-4.5): 8 pCN replicas are consistent with the errors they claim
    (Au & Beck with chain correlations), and their mean agrees with the exact value; a
    sampler whose chains never move collapses every level and warns."""
    d, t = 20, 4.5
    runs = [
        subset.run(_halfspace(d), d, key=jax.random.key(200 + r), n=500, stop=-t) for r in range(8)
    ]
    est = replicas.combine(runs, -t)
    assert est.check.passed and not est.collapsed
    assert est.acceptance.shape == est.distinct.shape == (8, max(len(r.acceptance) for r in runs))
    assert abs(est.f - scipy.stats.norm.cdf(-t)) < 3 * est.err
    # the claimed errors are of the size of the observed spread, Au & Beck's and the
    # genealogy's alike
    spread = est.replicas.std(ddof=1) / est.f
    assert 0.3 < np.median(est.cov) / spread < 3.0
    gcov = est.families**-0.5
    assert est.genealogy is not None and est.genealogy.passed
    assert 0.3 < np.median(gcov) / spread < 3.0
    assert np.all((est.families >= 1) & (est.families <= 500))

    def stuck(z, sigma, *, key):
        return subset.Proposal(z, np.zeros(len(z), bool))

    runs = [
        subset.run(_halfspace(d), d, key=jax.random.key(r), n=200, stop=-3.0, propose=stuck)
        for r in range(3)
    ]
    with pytest.warns(RuntimeWarning, match="collapsed"):
        est = replicas.combine(runs, -3.0)
    assert est.collapsed and est.min_distinct <= 0.1


def test_genealogy_error_in_its_limits():
    """genealogy_cov = sqrt(sum_e c_e^2) / m: plain sampling (every event state its own
    ancestor) gives the binomial 1 / sqrt(m); two families of two states each give
    1 / sqrt(2), one family 1 (counted by hand on a built genealogy); a run without a
    genealogy has no genealogy check."""
    d = 5
    run = subset.run(_halfspace(d), d, key=jax.random.key(5), n=400, stop=10.0)
    assert len(run.thresholds) == 0  # plain sampling only
    m = int(np.sum(run.scores[0] <= -1.0))
    assert m > 20
    assert replicas.genealogy_cov(run, -1.0) == pytest.approx(m**-0.5, rel=1e-12)
    assert replicas.genealogy_cov(run, -50.0) == np.inf  # no event state

    def built(parents):
        scores = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 0.0, 0.5, 0.5]])
        return subset.SubsetRun(
            np.array([1.0]), np.array([0.5]), scores, None, np.array([0.5]),
            np.array([1.0]), 8, 0.5, np.array([parents]),
        )  # fmt: skip

    assert replicas.genealogy_cov(built([0, 1, 0, 1]), 0.9) == pytest.approx(2**-0.5)
    assert replicas.genealogy_cov(built([1, 1, 1, 1]), 0.9) == pytest.approx(1.0)
    runs = [built([0, 1, 0, 1]), built([1, 1, 1, 1])._replace(parents=None)]
    est = replicas.combine(runs, 0.9, warn=False)
    assert est.genealogy is None and np.isnan(est.families[1])
    assert est.families[0] == pytest.approx(2.0)


@pytest.mark.slow
def test_genealogy_error_is_calibrated_at_1e12_with_large_populations():
    """Half-space, Phi(-7) = 1.3e-12 (exact), n = 2000, 24 replicas: the errors that the
    genealogy claims match how far the replicas fall from the exact value (rms of
    (log f - log exact) / claimed error near 1), the mean agrees with the exact value
    and the chi-square check with the genealogy's claims passes. (With n = 500 the
    families saturate at this depth, ~2 per replica, and no claim can be right:
    docs/rare_avalanches.md, the Gaussian toys.)"""
    d, t, M = 20, 7.0, 24
    runs = [
        subset.run(_halfspace(d), d, key=jax.random.key(900 + r), n=2000, stop=-t) for r in range(M)
    ]
    est = replicas.combine(runs, -t)
    exact = scipy.stats.norm.cdf(-t)
    z = (np.log(est.replicas) - np.log(exact)) * np.sqrt(est.families)
    assert 0.6 < np.sqrt(np.mean(z**2)) < 1.6
    assert abs(est.f - exact) < 3 * est.err
    assert est.genealogy is not None and est.genealogy.passed
    assert np.median(est.families) > 3


def test_genealogy_links_each_chain_to_its_seed():
    """The recorded parents are checked against the scores, an independent record: the
    first state of each chain is its seed (same score as its parent), every parent lies
    below the level's threshold; with chains that never move, every state of the last
    population is a copy of its population-0 ancestor (same score)."""
    d = 4
    run = subset.run(_halfspace(d), d, key=jax.random.key(7), n=200, stop=-3.0)
    L, n, seeds = len(run.thresholds), 200, 20
    assert L >= 2 and run.parents is not None and run.parents.shape == (L, n)
    for k in range(1, L + 1):
        parent = run.parents[k - 1]
        np.testing.assert_array_equal(run.scores[k][:seeds], run.scores[k - 1][parent[:seeds]])
        assert np.all(run.scores[k - 1][parent] <= run.thresholds[k - 1])
        assert np.all(parent.reshape(-1, seeds) == parent[:seeds])  # T states per seed
    np.testing.assert_array_equal(subset.ancestors(run, L), np.arange(n))
    eve = subset.ancestors(run)
    assert np.all(run.scores[0][eve] <= run.thresholds[0])
    assert np.unique(eve).size <= seeds
    for k in range(L + 1):  # tracing through population k composes
        np.testing.assert_array_equal(
            eve, subset.ancestors(run, 0, source=k)[subset.ancestors(run, k)]
        )
    with pytest.raises(ValueError, match="source"):
        subset.ancestors(run, 0, source=L + 1)

    def stuck(z, sigma, *, key):
        return subset.Proposal(z, np.zeros(len(z), bool))

    run = subset.run(_halfspace(d), d, key=jax.random.key(8), n=200, stop=-3.0, propose=stuck)
    assert len(run.thresholds) >= 2
    np.testing.assert_array_equal(run.scores[-1], run.scores[0][subset.ancestors(run)])
    with pytest.raises(ValueError, match="population"):
        subset.ancestors(run, len(run.thresholds) + 1)
    with pytest.raises(ValueError, match="parents"):
        subset.ancestors(run._replace(parents=None))
