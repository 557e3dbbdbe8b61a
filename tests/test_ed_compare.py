"""Tests of the ED comparison: entropy distances, the N = 1 check, the chain (Fig. 2).

Modules: jaxmf.analysis.entropy_distance, .single_spin, .ed_compare; jaxmf.plot.ed;
jaxmf.paper.fig2. References are analytic limits, scipy (KS statistic, quadrature of
p_S) and direct evaluations of the mean-field functions.
"""

import json

import jax
import matplotlib
import numpy as np
import pytest
from scipy import stats

import jaxmf
from jaxmf._io import to_builtin, write_json
from jaxmf.analysis import ed_compare as ec
from jaxmf.analysis import entropy_distance as dd
from jaxmf.analysis import single_spin as ss
from jaxmf.models import ed
from jaxmf.paper import fig2
from jaxmf.plot import ed as ped

from .helpers import fd_derivative

matplotlib.use("Agg")
LOG2 = np.log(2.0)
DISTS = ("goe", "poisson")


# ------------------------------------------------------------ entropy distances
@pytest.mark.parametrize("dist", DISTS)
def test_fit_coupling_inverts_mean_entropy(dist):
    g = np.geomspace(1e-5, 1e2, 15)
    target = np.asarray(jaxmf.mean_entropy(g, dist))
    np.testing.assert_allclose(dd.fit_coupling(target, dist), g, rtol=1e-9)
    assert dd.fit_coupling(0.0, dist) == 0.0
    assert dd.fit_coupling(np.full((2, 3), 0.3), dist).shape == (2, 3)


def test_fit_coupling_small_g_limit():
    """[S](g) = 2 pi g + o(g) for the GOE family: tiny targets invert linearly."""
    t = np.array([1e-14, 1e-12])
    np.testing.assert_allclose(dd.fit_coupling(t, "goe"), t / (2 * np.pi), rtol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, LOG2, 1.0, np.nan])
def test_fit_coupling_rejects_targets_outside_range(bad):
    with pytest.raises(ValueError, match="mean_S"):
        dd.fit_coupling(bad)


@pytest.mark.parametrize("dist", DISTS)
def test_entropy_cdf_integrates_entropy_pdf(dist):
    g = 0.07
    a, b = 0.05, 0.4
    S = np.linspace(a, b, 4001)
    integral = np.trapezoid(np.asarray(jaxmf.entropy_pdf(S, g, dist)), S)
    F = dd.entropy_cdf(np.array([0.0, a, b, LOG2]), g, dist)
    np.testing.assert_allclose(F[2] - F[1], integral, rtol=1e-5)
    assert F[0] == 0.0 and F[3] == 1.0
    assert np.all(np.diff(dd.entropy_cdf(np.linspace(0, LOG2, 50), g, dist)) >= 0)


def test_ks_and_tv_against_scipy_and_repeated_samples():
    u = np.sort(np.random.default_rng(0).uniform(size=300) ** 1.3)
    ks, tv = dd.ks_tv(u[None], np.ones((1, 300)), 10)
    assert ks[0] == pytest.approx(stats.kstest(u, "uniform").statistic, abs=1e-14)
    counts = np.histogram(u, bins=10, range=(0, 1))[0] / 300
    assert tv[0] == pytest.approx(0.5 * np.abs(counts - 0.1).sum(), abs=1e-14)
    w = np.random.default_rng(1).integers(0, 4, size=300).astype(float)  # bootstrap weights
    ks_w, _ = dd.ks_tv(u[None], w[None], 10)
    assert ks_w[0] == pytest.approx(
        stats.kstest(np.repeat(u, w.astype(int)), "uniform").statistic, abs=1e-14
    )


@pytest.mark.parametrize("true, other", [("goe", "poisson"), ("poisson", "goe")])
def test_distance_is_small_for_own_family_and_large_for_the_other(true, other):
    """Samples of p_S(S | g) itself: KS at the noise floor; the other family at the same
    mean is clearly further (the bulks differ, the 2/x^2 tails agree)."""
    S = dd.sample_entropies(0.1, (400, 16), true, key=jax.random.key(1))
    own = dd.distribution_distance(S, true, n_boot=50, key=jax.random.key(2))
    far = dd.distribution_distance(S, other, n_boot=50, key=jax.random.key(2))
    assert isinstance(own, dd.EntropyDistance)
    n = S.size
    assert own.ks < 1.6 / np.sqrt(n)  # KS 99% point for iid samples ~ 1.63 / sqrt(n)
    assert far.ks > 3 * own.ks and far.ks > own.ks + 5 * far.ks_err
    assert 0 < own.ks_err < 0.02 and own.ks_boot.shape == (50,)
    assert own.g == pytest.approx(0.1, rel=0.02)  # the mean fit finds g back
    exact = dd.distribution_distance(S, true, g=0.1, n_boot=0, key=jax.random.key(0))
    assert exact.ks < 1.6 / np.sqrt(n) and not exact.g_fitted and np.isnan(exact.ks_err)


def test_int_seed_equals_typed_key():
    a = dd.sample_entropies(0.1, (3, 4), key=5)
    np.testing.assert_array_equal(a, dd.sample_entropies(0.1, (3, 4), key=jax.random.key(5)))
    np.testing.assert_array_equal(a, dd.sample_entropies(0.1, (3, 4), key=jax.random.PRNGKey(5)))
    with pytest.raises(TypeError):
        dd.sample_entropies(0.1, (3, 4))  # the key is required


# -------------------------------------------------------------------- N = 1 check
def test_single_spin_check_runs_and_is_consistent():
    d = ss.single_spin_check(40, n_boot=8, n_null=2, key=jax.random.key(3))
    assert isinstance(d, ss.SingleSpinCheck)
    assert set(d.families) == {"goe", "poisson"} and d.best in d.families
    assert d.params["J1"] == 0.41 and d.params["states_per_sample"] == 16
    assert 0.3 < d.ed_mean < 0.5  # the paper's J_1: strongly coupled single spin
    h = d.histogram
    dlog = np.diff(np.log(h.edges))
    assert np.sum(h.ed_density_per_lnS * dlog) == pytest.approx(1.0)
    for dist, f in d.families.items():
        assert np.sum(h.theory[dist] * dlog) == pytest.approx(1.0, abs=1e-9)
        assert jaxmf.mean_entropy(f.g, dist) == pytest.approx(d.ed_mean, rel=1e-9)
        assert f.ks_null > 0 and f.ks > 0
    assert d.ks_diff == pytest.approx(d.families["goe"].ks - d.families["poisson"].ks)
    mid = ss.single_spin_check(
        40, n_boot=0, n_null=0, middle_fraction=1 / 3, dists=("goe",), key=jax.random.key(3)
    )
    assert mid.params["states_per_sample"] == 6 and np.isnan(mid.ks_diff)
    # realization i uses fold_in(fold_in(key, 1), i); the middle third of 16 states
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(jax.random.key(3), 1), i))(
        np.arange(40)
    )
    S = np.asarray(ed.drh_ensemble(1, 0.5, key=keys).entropy)
    assert mid.ed_mean == pytest.approx(S[:, 5:11].mean(), rel=1e-12)


# -------------------------------------------------------------------------- chain
def test_mf_end_entropy_is_monotone_in_alpha_and_g10():
    alphas = np.linspace(0.3, 1.1, 41)
    S = np.asarray(ec.mf_end_entropy(3, alphas, 0.12))
    assert np.all(np.diff(S) > 0) and 0 < S[0] and S[-1] < LOG2
    S_g = np.asarray([ec.mf_end_entropy(3, ec.ALPHA_C, g) for g in (0.05, 0.1, 0.2)])
    assert np.all(np.diff(S_g) > 0)


def test_mf_end_entropy_single_lbit_is_mean_entropy_of_g10():
    """N = 1: nothing thermalized before the first l-bit, so g_1 = g10 (eq. 11) and
    [S_1] = [S](g10) (A13), whatever alpha."""
    assert float(ec.mf_end_coupling(1, 0.7, 0.2)) == pytest.approx(0.2, rel=1e-12)
    S = np.asarray(ec.mf_end_entropy(1, np.array([0.5, 0.9]), 0.2))
    np.testing.assert_allclose(S, float(jaxmf.mean_entropy(0.2)), rtol=1e-9)


def test_mf_gradient_matches_finite_differences():
    f = lambda g: ec.mf_end_entropy(3, ec.ALPHA_C, g)  # noqa: E731
    assert float(jax.grad(f)(0.15)) == pytest.approx(fd_derivative(f, 0.15, 1e-6), rel=1e-6)


def _synthetic_ed(values, errs):
    """chain_ed-shaped (JSON-like) data with given [S_end] at alpha_c for N = 2, 3."""
    return dict(
        params={},
        chains=[
            dict(
                N=N,
                alphas=np.array([0.6, ec.ALPHA_C]),
                n_samples=10,
                mean_all=np.array([0.1, v]),
                stderr_all=np.array([0.01, e]),
                mean_middle=np.array([0.1, v + 0.05]),
                stderr_middle=np.array([0.01, e]),
            )
            for N, v, e in zip((2, 3), values, errs)
        ],
    )


@pytest.mark.slow  # about 15 s; the inversion of [S] is checked fast above
def test_fit_bare_coupling_recovers_g10():
    g_true = 0.13
    values = [float(ec.mf_end_entropy(N, ec.ALPHA_C, g_true)) for N in (2, 3)]
    fit = ec.fit_bare_coupling(_synthetic_ed(values, [0.01, 0.02]))
    assert isinstance(fit, ec.BareCouplingFit) and fit.converged
    assert fit.g10 == pytest.approx(g_true, rel=1e-8)
    np.testing.assert_allclose(fit.g10_per_N, g_true, rtol=1e-8)
    assert fit.chi2 < 1e-12 and fit.g10_err > 0
    # inconsistent data: the shared fit lies between the per-N fits, weighted to the
    # more precise point
    fit = ec.fit_bare_coupling(_synthetic_ed([0.3, 0.4], [0.005, 0.05]))
    lo, hi = sorted(fit.g10_per_N)
    assert lo < fit.g10 < hi
    assert abs(np.log(fit.g10 / fit.g10_per_N[0])) < abs(np.log(fit.g10 / fit.g10_per_N[1]))
    with pytest.raises(ValueError, match="alpha_c"):
        ec.fit_bare_coupling(
            dict(
                params={},
                chains=[
                    dict(
                        N=2,
                        alphas=np.array([0.5]),
                        mean_all=np.array([0.1]),
                        stderr_all=np.array([0.01]),
                    )
                ],
            )
        )
    with pytest.raises(ValueError, match="average"):
        ec.fit_bare_coupling(_synthetic_ed([0.3, 0.4], [0.005, 0.05]), average="mean")


def test_chain_ed_is_reproducible_from_the_key():
    def run(n, key):
        return ec.chain_ed((2,), (0.6, ec.ALPHA_C), n, key=key).chains[0]

    a, b = run(3, jax.random.key(5)), run(3, jax.random.key(5))
    assert isinstance(a, ec.ChainRecord) and a.entropies is None
    np.testing.assert_array_equal(a.per_sample_all, b.per_sample_all)
    prefix = run(2, jax.random.key(5))  # realization i does not depend on n_samples
    np.testing.assert_array_equal(prefix.per_sample_all, a.per_sample_all[:, :2])
    assert not np.allclose(run(3, jax.random.key(6)).per_sample_all, a.per_sample_all)
    assert a.mean_all.shape == (2,) and a.hist_density.shape == (2, 40)
    same = ec.chain_ed((2,), (0.6,), 3, key=5).chains[0]  # an int seed is key(seed)
    np.testing.assert_array_equal(same.per_sample_all[0], a.per_sample_all[0])
    # the per-realization means are those of models.ed with the documented keys
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.fold_in(jax.random.key(5), 2), i))(
        np.arange(3)
    )
    direct = ed.drh_ensemble(2, 0.6, key=keys).entropy.mean(axis=1)
    np.testing.assert_allclose(a.per_sample_all[0], direct, rtol=1e-13)


@pytest.mark.slow  # about 10 s; each stage has its own fast test
def test_fig2_pipeline_end_to_end(tmp_path):
    import matplotlib.pyplot as plt

    ed_data = ec.chain_ed(
        (2, 3),
        (0.45, 0.55, ec.ALPHA_C, 0.9),
        {2: 6, 3: 4},
        key=jax.random.key(0),
        keep_entropies=True,
    )
    a = ec.end_entropy_curves(ed_data, alpha_fine=np.linspace(0.4, 1.0, 13))
    assert a["fit"]["Ns"] == [2, 3] and a["fit_other"]["average"] == "middle"
    i = 2  # alpha_c
    np.testing.assert_allclose(
        [m["S_end_per_N"][np.argmin(abs(m["alpha"] - ec.ALPHA_C))] for m in a["mf"]],
        a["fit"]["ed"],
        atol=0.02,
    )
    assert all("entropies" not in c for c in a["ed"]["chains"])
    assert [m["S_end_at_ed"].shape for m in a["mf"]] == [(4,), (4,)]
    assert a["fit"]["mf_at_fit"] == pytest.approx([m["S_end_at_ed"][i] for m in a["mf"]], rel=1e-10)
    b = ec.end_entropy_distributions(
        3, (0.45, 0.55), g10=a["fit"]["g10"], n_boot=5, ed_data=ed_data, key=jax.random.key(0)
    )
    assert b["ed_density"].shape == (2, 40) and b["mf_density"].shape == (2, 399)
    w = np.diff(b["hist_edges"])
    np.testing.assert_allclose(b["mf_bin_density"] @ w, 1.0, atol=1e-9)
    np.testing.assert_allclose(b["mf_mean"], jaxmf.mean_entropy(b["g_N"]), rtol=1e-12)
    assert np.all(b["ks"] > 0) and np.all(b["ks"] <= 1)
    write_json(tmp_path / "a.json", a)
    write_json(tmp_path / "b.json", b)
    fig, axs = plt.subplots(1, 2)
    ax = ped.plot_fig2a(json.loads((tmp_path / "a.json").read_text()), axs[0])
    assert "nats" in ax.get_ylabel() and "goe" in ax.get_title()
    ax = ped.plot_fig2b(json.loads((tmp_path / "b.json").read_text()), axs[1])
    assert "nats" in ax.get_xlabel() and "goe" in ax.get_title()
    plt.close(fig)
    ax = ped.plot_fig2a(a)  # fresh data, new figure
    assert ax.figure is not fig
    plt.close(ax.figure)


def test_plot_single_spin_fresh_and_from_json():
    import matplotlib.pyplot as plt

    d = ss.single_spin_check(20, n_boot=0, n_null=0, key=jax.random.key(4))
    for data in (d, json.loads(json.dumps(to_builtin(d)))):
        ax = ped.plot_single_spin(data)
        assert "nats" in ax.get_xlabel() and len(ax.get_legend().get_texts()) == 3
        plt.close(ax.figure)


@pytest.mark.parametrize("cfg", [fig2.QUICK, fig2.FULL])
def test_presets_are_consistent(cfg):
    """Every N has alpha_c in its grid (the g10 fit) and Fig. 2b reuses Fig. 2a's ED."""
    a, b = cfg["fig2a"], cfg["fig2b"]
    for N in a["Ns"]:
        assert np.isclose(ec.per_N(a["alphas"], N), ec.ALPHA_C).any()
    assert b["N"] in a["Ns"] and ec.per_N(a["n_samples"], b["N"]) == b["n_samples"]
    assert all(np.isclose(ec.per_N(a["alphas"], b["N"]), x).any() for x in b["alphas"])
    assert set(cfg["single_spin"]) <= set(ss.SINGLE_SPIN_CASES)


# -------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_large_grain_weak_coupling_prefers_goe():
    """Where the theory's assumptions hold (dense GOE bath, weak coupling, middle of the
    spectrum) ED's N = 1 distribution is the GOE family's, not the Poisson one's."""
    d = ss.single_spin_check(
        500, n_boot=100, n_null=5, key=jax.random.key(0), **ss.SINGLE_SPIN_CASES["large_grain_weak"]
    )
    goe = d.families["goe"]
    assert d.best == "goe"
    assert goe.ks < 3 * goe.ks_null + 3 * goe.ks_err
    assert d.ks_diff < -5 * d.ks_diff_err


@pytest.mark.slow
def test_quick_fig2_localized_side_agrees():
    """QUICK Fig. 2 data: ED and mean field agree at alpha_c (the fit) and below it."""
    data = fig2.fig2_data(quick=True)
    a = data["fig2a"]
    for rec, mf in zip(a["ed"]["chains"], a["mf"]):
        loc = rec["alphas"] < ec.ALPHA_C
        assert np.all(np.abs(mf["S_end_at_ed"][loc] - rec["mean_all"][loc]) < 0.1)
    assert data["fig2b"]["ed_mean"].shape == (3,)
